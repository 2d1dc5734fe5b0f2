"""Media analyzers: plain Python, no Dagster. `analyze_file` is the one entry point."""

from __future__ import annotations

import json
from pathlib import Path

from dataflux_pipeline.analyzers.base import (
    AnalysisError,
    AnalysisResult,
    Analyzer,
    MediaItem,
    Segment,
    Vector,
    segment_id,
)
from dataflux_pipeline.analyzers.registry import AnalyzerRegistry, default_registry
from dataflux_pipeline.analyzers.subtitles import read_cues

__all__ = [
    "AnalysisError",
    "AnalysisResult",
    "Analyzer",
    "AnalyzerRegistry",
    "MediaItem",
    "Segment",
    "Vector",
    "analyze_file",
    "default_registry",
    "segment_id",
]

SIDECAR_ANALYZER = "sidecar"
SIDECAR_VERSION = "1.0.0"


def _sidecar_segment(item: MediaItem, kind: str, index: int, **fields) -> Segment:
    return Segment(
        segment_id=item.sid(kind, index),
        asset_id=item.asset_id,
        kind=kind,
        index=index,
        analyzer=SIDECAR_ANALYZER,
        analyzer_version=SIDECAR_VERSION,
        **fields,
    )


def _metadata_text(path: Path) -> str:
    """Sidecar metadata as searchable text: JSON values flattened, plain text as-is."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() != ".json":
        return raw.strip()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return raw.strip()
    if isinstance(data, dict):
        return "\n".join(f"{k}: {v}" for k, v in data.items() if isinstance(v, str | int | float))
    return raw.strip()


def _sidecar_segments(item: MediaItem) -> list[Segment]:
    segments: list[Segment] = []
    subtitle = item.sidecars.get("subtitle")
    if subtitle is not None:
        for n, cue in enumerate(read_cues(subtitle)):
            segments.append(
                _sidecar_segment(
                    item, "cue", n, start_s=cue.start_s, end_s=cue.end_s, text=cue.text
                )
            )
    meta = item.sidecars.get("metadata")
    if meta is not None and (text := _metadata_text(meta)):
        segments.append(_sidecar_segment(item, "description", 0, text=text[:4000]))
    return segments


def analyze_file(item: MediaItem, registry: AnalyzerRegistry) -> AnalysisResult:
    """Run the analyzer for the file's MIME type, plus its audio track, the vision
    enrichers over its pictures (image, keyframes, scanned pages) and its sidecars.

    Raises AnalysisError with a message for people when the file cannot be analyzed.
    """
    from dataflux_pipeline.analyzers.audio.analyzer import AudioAnalyzer
    from dataflux_pipeline.analyzers.audio.decode import has_audio
    from dataflux_pipeline.analyzers.vision import enrich

    analyzer = registry.for_mime(item.mime_type)
    if analyzer is None:
        raise AnalysisError(f"unsupported file type {item.mime_type}")
    result = analyzer.run(item)
    if analyzer.media_type == "video" and has_audio(item.path):
        audio = registry.for_mime("audio/wav") or AudioAnalyzer()
        track = audio.run(item)
        track.duration_s = None
        track.metadata = {"audio": track.metadata}
        result.merge(track)
    enrich(item, result, registry.settings)
    result.segments.extend(_sidecar_segments(item))
    return result
