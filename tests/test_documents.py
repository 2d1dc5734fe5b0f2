from __future__ import annotations

from pathlib import Path

import pytest

from dataflux_pipeline.analyzers import AnalysisError, MediaItem
from dataflux_pipeline.analyzers.document import DocumentAnalyzer, chunk_paragraphs
from dataflux_pipeline.analyzers.image import ImageAnalyzer
from dataflux_pipeline.analyzers.subtitles import parse_cues
from dataflux_pipeline.samples import ASTRONOMY_PAGES, RECIPE_MD, write_image, write_pdf


def item(path: Path, mime: str, tmp_path: Path) -> MediaItem:
    return MediaItem(path, "a" * 64, mime, tmp_path / "store")


def test_srt_and_vtt_cues() -> None:
    srt = (
        "1\n00:00:01,500 --> 00:00:03,250\n<i>Hello</i> there\nfriend\n\n"
        "2\n00:01:02,000 --> 00:01:04,000\nBye\n"
    )
    cues = parse_cues(srt)
    assert [(c.start_s, c.end_s, c.text) for c in cues] == [
        (1.5, 3.25, "Hello there friend"),
        (62.0, 64.0, "Bye"),
    ]
    vtt = (
        "WEBVTT\n\n00:05.000 --> 00:07.5\nShort form\n\n"
        "cue-2\n01:00:00.000 --> 01:00:01.000\nHour\n"
    )
    assert [(c.start_s, c.end_s) for c in parse_cues(vtt)] == [(5.0, 7.5), (3600.0, 3601.0)]


def test_markdown_chunks_break_at_headings(settings, tmp_path: Path) -> None:
    chunks = chunk_paragraphs(RECIPE_MD, target_chars=800)
    assert [c.splitlines()[0] for c in chunks] == ["# Country bread", "## Ingredients", "## Method"]
    long_text = "word " * 1000
    assert all(len(c) <= 1600 for c in chunk_paragraphs(long_text, 500))
    md = tmp_path / "r.md"
    md.write_text(RECIPE_MD)
    result = DocumentAnalyzer(settings).run(item(md, "text/markdown", tmp_path))
    assert [s.kind for s in result.segments] == ["chunk"] * 3
    assert result.features["features_document"][2]["word_count"] == len(chunks[2].split())


def test_pdf_pages_and_chunks(settings, tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "s.pdf", ASTRONOMY_PAGES)
    result = DocumentAnalyzer(settings).run(item(pdf, "application/pdf", tmp_path))
    pages = [s for s in result.segments if s.kind == "page"]
    chunks = [s for s in result.segments if s.kind == "chunk"]
    assert [p.page for p in pages] == [1, 2]
    assert "Saturn" in chunks[-1].text and chunks[-1].page == 2
    assert chunks[-1].parent_id == pages[1].segment_id
    truncated = tmp_path / "t.pdf"
    truncated.write_bytes(pdf.read_bytes()[:300])
    with pytest.raises(AnalysisError):
        DocumentAnalyzer(settings).run(item(truncated, "application/pdf", tmp_path))


def test_image_features(settings, tmp_path: Path) -> None:
    img = write_image(tmp_path / "x.jpg", (230, 120, 40), size=(200, 100))
    result = ImageAnalyzer(settings).run(item(img, "image/jpeg", tmp_path))
    row = result.features["features_image"][0]
    assert (row["width"], row["height"]) == (200, 100)
    assert "DataFlux Camera" in row["exif"]
    r, g, b = (int(row["dominant_colours"][0][i : i + 2], 16) for i in (1, 3, 5))
    assert r > 200 and 100 < g < 140 and b < 60
    assert len(row["phash"]) == 16
    assert (tmp_path / "store" / result.segments[0].thumbnail).is_file()
    noise = tmp_path / "n.jpg"
    noise.write_bytes(b"\xff\xd8\xff" + bytes(500))
    with pytest.raises(AnalysisError):
        ImageAnalyzer(settings).run(item(noise, "image/jpeg", tmp_path))
