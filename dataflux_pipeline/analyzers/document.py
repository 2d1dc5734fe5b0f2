"""Plain text, Markdown and PDF: pages and overlapping chunks that carry the searchable
text, the document's language, and a page image for every page without a text layer.

A PDF page with no text (a scan, a photo) is rendered with pypdfium2 to a thumbnail and
marked `needs_ocr`; the OCR enricher (`vision/ocr.py`, the `vision` extra) then reads it
at a higher resolution into an `ocr` segment, and its thumbnail reaches the CLIP index
like any image.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any, ClassVar

from dataflux_pipeline.analyzers.base import (
    AnalysisError,
    AnalysisResult,
    Analyzer,
    MediaItem,
    Segment,
)
from dataflux_pipeline.settings import Settings, get_settings

log = logging.getLogger(__name__)

_HEADING = re.compile(r"^#{1,6}\s")
_SPACE = re.compile(r"\s+")
LANGUAGE_SEED = 0  # langdetect samples at random; a fixed seed makes it repeatable
LANGUAGE_SAMPLE_CHARS = 20_000  # enough for a stable guess, cheap for long documents
MIN_LANGUAGE_LETTERS = 20  # below this, a guess is noise


def read_text(raw: bytes) -> str:
    for encoding in ("utf-8", "utf-16"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _pieces(paragraph: str, size: int) -> list[str]:
    """The paragraph cut at spaces into pieces of at most `size` characters."""
    pieces: list[str] = []
    while len(paragraph) > size:
        cut = paragraph.rfind(" ", 0, size + 1)
        cut = cut if cut > 0 else size
        pieces.append(paragraph[:cut].strip())
        paragraph = paragraph[cut:].strip()
    return [*pieces, paragraph] if paragraph else pieces


def _tail(text: str, chars: int) -> str:
    """The last `chars` characters of `text`, starting at a word."""
    if chars <= 0 or not text:
        return ""
    if len(text) <= chars:
        return text
    boundary = _SPACE.search(text, len(text) - chars)
    return text[boundary.end() :] if boundary else ""


def chunk_paragraphs(text: str, target_chars: int, overlap_chars: int = 0) -> list[str]:
    """Paragraphs merged up to `target_chars`; a Markdown heading always starts a new chunk.

    Within a section, each chunk after the first begins with the last `overlap_chars` of
    the one before (from a word), so a sentence cut at a chunk edge is whole in one of
    them. Sections do not overlap: a heading is a change of subject. Chunks stay within
    `target_chars`, overlap included.
    """
    overlap = min(max(0, overlap_chars), target_chars // 2)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    sections: list[list[str]] = []
    for para in paragraphs:
        if not sections or _HEADING.match(para):
            sections.append([])
        sections[-1].append(para)
    chunks: list[str] = []
    for section in sections:
        current, last_para = "", -1
        for n, para in enumerate(section):
            for piece in _pieces(para, max(1, target_chars - overlap - 2)):
                joiner = " " if n == last_para else "\n\n"
                if current and len(current) + len(joiner) + len(piece) > target_chars:
                    chunks.append(current)
                    current = _tail(current, overlap)
                current = f"{current}{joiner}{piece}" if current else piece
                last_para = n
        if current:
            chunks.append(current)
    return chunks


@lru_cache(maxsize=1)
def _language_factory():
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = LANGUAGE_SEED
    return factory


def detect_language(text: str) -> str | None:
    """ISO 639-1 code (langdetect's, e.g. "de", "zh-cn"); None when there is too little text."""
    from langdetect.lang_detect_exception import LangDetectException

    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LANGUAGE_LETTERS:
        return None
    detector = _language_factory().create()
    detector.append(sample)
    try:
        language = detector.detect()
    except LangDetectException:
        return None
    return None if language == "unknown" else language


class DocumentAnalyzer(Analyzer):
    name = "document"
    version = "1.1.0"
    media_type = "document"
    supported_mime_types: ClassVar[frozenset[str]] = frozenset(
        {"text/plain", "text/markdown", "application/pdf"}
    )

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    def _pages(self, item: MediaItem) -> list[str]:
        if item.mime_type != "application/pdf":
            return [read_text(item.path.read_bytes())]
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(item.path)
            return [page.extract_text() or "" for page in reader.pages]
        except (PdfReadError, ValueError, KeyError, OSError) as exc:
            raise AnalysisError(f"could not read PDF: {exc}") from exc

    def segment(self, item: MediaItem) -> list[Segment]:
        pages = self._pages(item)
        is_pdf = item.mime_type == "application/pdf"
        if not pages or not (is_pdf or any(p.strip() for p in pages)):
            raise AnalysisError("document has no extractable text")
        segments: list[Segment] = []
        chunk_no = 0
        for page_no, page_text in enumerate(pages, 1):
            parent = None
            if is_pdf:
                page = self.new_segment(
                    item, "page", page_no - 1, page=page_no, text=page_text.strip() or None
                )
                segments.append(page)
                parent = page.segment_id
            chunks = chunk_paragraphs(
                page_text, self.settings.doc_chunk_chars, self.settings.doc_chunk_overlap_chars
            )
            for chunk in chunks:
                segments.append(
                    self.new_segment(
                        item,
                        "chunk",
                        chunk_no,
                        parent_id=parent,
                        page=page_no if is_pdf else None,
                        text=chunk,
                    )
                )
                chunk_no += 1
        return segments

    def analyze(self, item: MediaItem, segments: list[Segment]) -> AnalysisResult:
        pages = [s for s in segments if s.kind == "page"]
        source = pages or [s for s in segments if s.kind == "chunk"]
        language = detect_language("\n\n".join(s.text for s in source if s.text))
        scanned = [s for s in pages if not s.text]
        thumbnails = self._render(item, scanned) if scanned else {}
        rows: list[dict[str, Any]] = []
        out: list[Segment] = []
        for seg in segments:
            text = seg.text or ""
            if seg.segment_id in thumbnails:
                seg = seg.model_copy(update={"thumbnail": thumbnails[seg.segment_id]})
            out.append(seg)
            row = {
                "segment_id": seg.segment_id,
                "asset_id": seg.asset_id,
                "page": seg.page,
                "char_count": len(text),
                "word_count": len(text.split()),
                "needs_ocr": seg.kind == "page" and not text,
                "language": language,
            }
            rows.append(self.stamp(row))
        metadata = {
            "pages": len(pages) or 1,
            "language": language,
            "pages_needing_ocr": len(scanned),
        }
        result = AnalysisResult(segments=out, metadata=metadata)
        result.add_features("features_document", rows)
        return result

    def _render(self, item: MediaItem, pages: list[Segment]) -> dict[str, str]:
        """Thumbnails of pages without a text layer: segment id -> path in the store."""
        import pypdfium2 as pdfium

        rendered: dict[str, str] = {}
        try:
            pdf = pdfium.PdfDocument(item.path)
        except pdfium.PdfiumError as exc:
            log.warning("%s: pages not rendered: %s", item.path.name, exc)
            return rendered
        try:
            for seg in pages:
                try:
                    page = pdf[seg.index]
                    scale = self.settings.thumbnail_width / max(1.0, page.get_width())
                    image = page.render(scale=scale).to_pil().convert("RGB")
                except (pdfium.PdfiumError, IndexError) as exc:
                    log.warning("%s: page %s not rendered: %s", item.path.name, seg.page, exc)
                    continue
                target, rel = item.thumbnail(f"page-{seg.page:04d}.jpg")
                image.save(target, quality=85)
                rendered[seg.segment_id] = rel
        finally:
            pdf.close()
        return rendered
