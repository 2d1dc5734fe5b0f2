"""Plain text, Markdown and PDF: pages and paragraph chunks that carry the searchable text."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from dataflux_pipeline.analyzers.base import (
    AnalysisError,
    AnalysisResult,
    Analyzer,
    MediaItem,
    Segment,
)
from dataflux_pipeline.settings import Settings, get_settings

_HEADING = re.compile(r"^#{1,6}\s")


def read_text(raw: bytes) -> str:
    for encoding in ("utf-8", "utf-16"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def chunk_paragraphs(text: str, target_chars: int) -> list[str]:
    """Paragraphs merged up to `target_chars`; a Markdown heading always starts a new chunk."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[str] = []
    current = ""
    for para in paragraphs:
        starts_section = bool(_HEADING.match(para))
        if current and (starts_section or len(current) + len(para) + 2 > target_chars):
            chunks.append(current)
            current = ""
        current = f"{current}\n\n{para}" if current else para
        while len(current) > target_chars * 2:
            cut = current.rfind(" ", 0, target_chars)
            cut = cut if cut > 0 else target_chars
            chunks.append(current[:cut].strip())
            current = current[cut:].strip()
    if current:
        chunks.append(current)
    return chunks


class DocumentAnalyzer(Analyzer):
    name = "document"
    version = "1.0.0"
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
        if not any(p.strip() for p in pages):
            raise AnalysisError("document has no extractable text")
        segments: list[Segment] = []
        is_pdf = item.mime_type == "application/pdf"
        chunk_no = 0
        for page_no, page_text in enumerate(pages, 1):
            parent = None
            if is_pdf:
                page = self.new_segment(
                    item, "page", page_no - 1, page=page_no, text=page_text.strip() or None
                )
                segments.append(page)
                parent = page.segment_id
            for chunk in chunk_paragraphs(page_text, self.settings.doc_chunk_chars):
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
        rows: list[dict[str, Any]] = []
        for seg in segments:
            text = seg.text or ""
            row = {
                "segment_id": seg.segment_id,
                "asset_id": seg.asset_id,
                "page": seg.page,
                "char_count": len(text),
                "word_count": len(text.split()),
            }
            rows.append(self.stamp(row))
        pages = sum(1 for s in segments if s.kind == "page")
        result = AnalysisResult(segments=list(segments), metadata={"pages": pages or 1})
        result.add_features("features_document", rows)
        return result
