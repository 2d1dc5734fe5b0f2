"""Which segments go into which model space (models/embed.py), shared by the embeddings
step and the service's search-by-file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from dataflux_pipeline.analyzers import MediaItem, analyze_file, default_registry
from dataflux_pipeline.cli.samples import write_image, write_pdf
from dataflux_pipeline.models.clip import ClipEmbedder
from dataflux_pipeline.models.embed import embed_segments, image_segments, text_segments


class FakeText:
    space, name, device, dim = "text", "fake-text", "cpu", 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], np.float32)


class FakeClip:
    space, name, device, dim = "clip", "fake-clip", "cpu", 2

    def __init__(self) -> None:
        self.calls: list[list[Path]] = []

    def encode_images(self, paths: list[Path]) -> np.ndarray:
        self.calls.append(list(paths))
        return np.array([[float(len(p.name)), 0.0] for p in paths], np.float32)


SEGMENTS = [
    {"segment_id": "d:page:0", "kind": "page", "text": "the whole first page"},
    {"segment_id": "d:chunk:0", "kind": "chunk", "text": "first paragraph"},
    {"segment_id": "d:chunk:1", "kind": "chunk", "text": ""},
    {"segment_id": "v:shot:0", "kind": "shot", "text": None},
    {"segment_id": "v:keyframe:0", "kind": "keyframe", "thumbnail": "thumbnails/v/k0.jpg"},
    {"segment_id": "v:cue:0", "kind": "cue", "text": "hello there"},
    {"segment_id": "i:image:0", "kind": "image", "thumbnail": "thumbnails/i/image.jpg"},
    {"segment_id": "v:description:0", "kind": "description", "text": "a caption"},
]


def ids(segments) -> list[str]:
    return [s["segment_id"] for s in segments]


def test_text_and_images_go_to_their_spaces(tmp_path: Path) -> None:
    text, clip, lines = FakeText(), FakeClip(), []
    out = embed_segments(SEGMENTS, text, clip, tmp_path, log=lines.append)
    assert set(out) == {"text", "clip"}
    chosen, vectors, model = out["text"]
    # pages are excluded: their text is already in their chunks; empty text is skipped
    assert ids(chosen) == ["d:chunk:0", "v:cue:0", "v:description:0"]
    assert text.calls == [["first paragraph", "hello there", "a caption"]]
    assert model is text and vectors[:, 0].tolist() == [15.0, 11.0, 9.0]
    chosen, vectors, model = out["clip"]
    assert ids(chosen) == ["v:keyframe:0", "i:image:0"]
    assert clip.calls == [[tmp_path / "thumbnails/v/k0.jpg", tmp_path / "thumbnails/i/image.jpg"]]
    assert model is clip and vectors[:, 0].tolist() == [6.0, 9.0]
    assert lines == [
        "embedded 3 text segments with fake-text on cpu",
        "embedded 2 images/keyframes with fake-clip",
    ]
    assert ids(text_segments(SEGMENTS)) == ids(out["text"][0])
    assert ids(image_segments(SEGMENTS)) == ids(out["clip"][0])


def test_limit_caps_each_space(tmp_path: Path) -> None:
    text, clip = FakeText(), FakeClip()
    out = embed_segments(SEGMENTS, text, clip, tmp_path, limit=1)
    assert ids(out["text"][0]) == ["d:chunk:0"] and out["text"][1].shape == (1, 4)
    assert ids(out["clip"][0]) == ["v:keyframe:0"] and out["clip"][1].shape == (1, 2)
    many = [{"segment_id": f"c{i}", "kind": "chunk", "text": f"t{i}"} for i in range(10)]
    assert ids(embed_segments(many, text, None, tmp_path, limit=4)["text"][0]) == [
        "c0",
        "c1",
        "c2",
        "c3",
    ]
    assert len(embed_segments(many, text, None, tmp_path)["text"][0]) == 10


def test_no_clip_model_means_no_image_vectors(tmp_path: Path) -> None:
    lines: list[str] = []
    out = embed_segments(SEGMENTS, FakeText(), None, tmp_path, log=lines.append)
    assert set(out) == {"text"}
    assert lines[-1] == "CLIP not configured: 2 images/keyframes not embedded"
    clip = FakeClip()
    only_images = embed_segments(SEGMENTS, None, clip, tmp_path)
    assert set(only_images) == {"clip"}
    assert embed_segments([], FakeText(), clip, tmp_path) == {}
    pages_only = [s for s in SEGMENTS if s["kind"] == "page"]
    assert embed_segments(pages_only, FakeText(), clip, tmp_path) == {}
    assert len(clip.calls) == 1  # nothing encoded for empty inputs


def test_analyzed_files_embed_with_real_models(settings, tiny_clip: Path, tmp_path: Path) -> None:
    """A PDF and a photo through their analyzers, then the text model and a tiny CLIP."""
    from dataflux_pipeline.models.text import load_text_embedder

    registry = default_registry(settings)
    store = tmp_path / "store"
    segments = []
    for path, mime in (
        (write_pdf(tmp_path / "report.pdf", ["Whales sing.", "Tides turn."]), "application/pdf"),
        (write_image(tmp_path / "photo.jpg", (200, 30, 30)), "image/jpeg"),
    ):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        result = analyze_file(MediaItem(path, digest, mime, store), registry)
        segments += [s.model_dump() for s in result.segments]
    kinds = sorted(s["kind"] for s in segments)
    assert kinds == ["chunk", "chunk", "image", "page", "page"]
    text = load_text_embedder(settings.text_model, "cpu", 8)
    clip = ClipEmbedder(tiny_clip, device="cpu", batch_size=2)
    out = embed_segments(segments, text, clip, store)
    assert [s["kind"] for s in out["text"][0]] == ["chunk", "chunk"]
    assert [s["text"] for s in out["text"][0]] == ["Whales sing.", "Tides turn."]
    assert out["text"][1].shape == (2, 384)
    assert [s["kind"] for s in out["clip"][0]] == ["image"]
    assert out["clip"][1].shape == (1, 16)
    np.testing.assert_allclose(np.linalg.norm(out["clip"][1], axis=1), 1.0, rtol=1e-5)
    expected = clip.encode_images([store / out["clip"][0][0]["thumbnail"]])
    np.testing.assert_allclose(out["clip"][1], expected, rtol=1e-5)
