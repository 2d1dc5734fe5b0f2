from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from dataflux_pipeline.analyzers import AnalysisError, MediaItem
from dataflux_pipeline.analyzers.document import DocumentAnalyzer, chunk_paragraphs
from dataflux_pipeline.analyzers.image import ImageAnalyzer
from dataflux_pipeline.analyzers.subtitles import parse_cues
from dataflux_pipeline.cli.samples import ASTRONOMY_PAGES, RECIPE_MD, write_image, write_pdf


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


GERMAN = (
    "Der Zug nach München fährt heute wegen Bauarbeiten eine halbe Stunde später ab. "
    "Reisende werden gebeten, auf die Durchsagen am Bahnsteig zu achten und ihre "
    "Fahrkarten bereitzuhalten. Die Verspätung betrifft auch die Anschlusszüge."
)
FRENCH = (
    "Le marché du village ouvre chaque samedi matin sur la place de l'église. "
    "Les producteurs y vendent des fromages, du pain et des légumes de saison, "
    "et les habitants viennent souvent y prendre un café avec leurs voisins."
)


def image_only_pdf(path: Path, with_text_page: bool) -> Path:
    """A scan stand-in: a page that only draws shapes, no text layer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    if with_text_page:
        c.drawString(50, 780, "Eight planets orbit the Sun on nearly circular paths.")
        c.showPage()
    c.setFillColorRGB(0.2, 0.4, 0.8)
    c.rect(100, 300, 300, 400, fill=1)
    c.circle(300, 200, 60, fill=1)
    c.showPage()
    c.save()
    return path


def test_page_without_text_layer_needs_ocr(settings, tmp_path: Path) -> None:
    import pyarrow as pa
    from PIL import Image

    from dataflux_pipeline.storage.schemas import FEATURES_DOCUMENT

    pdf = image_only_pdf(tmp_path / "mixed.pdf", with_text_page=True)
    result = DocumentAnalyzer(settings).run(item(pdf, "application/pdf", tmp_path))
    pages = [s for s in result.segments if s.kind == "page"]
    rows = {r["segment_id"]: r for r in result.features["features_document"]}
    assert [rows[p.segment_id]["needs_ocr"] for p in pages] == [False, True]
    assert pages[0].thumbnail is None and pages[1].text is None
    with Image.open(tmp_path / "store" / pages[1].thumbnail) as thumb:
        assert thumb.width == settings.thumbnail_width
    assert result.metadata["pages_needing_ocr"] == 1
    pa.Table.from_pylist(list(rows.values()), schema=FEATURES_DOCUMENT)
    scan = image_only_pdf(tmp_path / "scan.pdf", with_text_page=False)
    result = DocumentAnalyzer(settings).run(item(scan, "application/pdf", tmp_path))
    assert [s.kind for s in result.segments] == ["page"]  # a scan is not an error
    (row,) = result.features["features_document"]
    assert row["needs_ocr"] and row["language"] is None


def test_language_per_document(settings, tmp_path: Path) -> None:
    found = {}
    for name, text in {
        "de.txt": GERMAN,
        "fr.md": FRENCH,
        "en.md": RECIPE_MD,
        "x.txt": "ok",
    }.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        mime = "text/markdown" if name.endswith(".md") else "text/plain"
        rows = DocumentAnalyzer(settings).run(item(path, mime, tmp_path)).features
        languages = {r["language"] for r in rows["features_document"]}
        assert len(languages) == 1  # one language per document, on each of its rows
        found[name] = languages.pop()
    assert found == {"de.txt": "de", "fr.md": "fr", "en.md": "en", "x.txt": None}
    pdf = write_pdf(tmp_path / "de.pdf", [GERMAN[:120], GERMAN[120:]])
    rows = DocumentAnalyzer(settings).run(item(pdf, "application/pdf", tmp_path)).features
    assert {r["language"] for r in rows["features_document"]} == {"de"}


def test_chunks_overlap_within_sections(settings, tmp_path: Path) -> None:
    sentences = [
        f"Sentence number {n} talks about topic {n % 7} in some detail." for n in range(60)
    ]
    body = "\n\n".join(" ".join(sentences[i : i + 4]) for i in range(0, 60, 4))
    text = f"# Notes\n\n{body}\n\n## Summary\n\nShort closing words."
    chunks = chunk_paragraphs(text, 500, 100)
    assert all(len(c) <= 500 for c in chunks)
    assert chunks[-1] == "## Summary\n\nShort closing words."  # no overlap across a heading
    body_chunks = chunks[:-1]
    assert len(body_chunks) > 3
    for before, after in itertools.pairwise(body_chunks):
        shared = max(n for n in range(len(after) + 1) if before.endswith(after[:n]))
        assert 50 <= shared <= 100  # the end of one chunk opens the next
        assert before[-shared - 1].isspace()  # from a word boundary
    words = " ".join(c for c in chunks).split()
    assert all(w in words for w in text.split())
    settings = settings.model_copy(update={"doc_chunk_chars": 500, "doc_chunk_overlap_chars": 100})
    path = tmp_path / "notes.md"
    path.write_text(text)
    result = DocumentAnalyzer(settings).run(item(path, "text/markdown", tmp_path))
    assert [s.text for s in result.segments] == chunks
