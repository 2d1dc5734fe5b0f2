"""`dataflux analyze FILE`: the analyzers on one file, without Dagster (debugging, scripts)."""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

from dataflux_pipeline.settings import Settings


def analyze(settings: Settings, file: str, as_json: bool, thumbnails: str | None) -> int:
    from dataflux_pipeline.analyzers import AnalysisError, MediaItem, analyze_file, default_registry
    from dataflux_pipeline.intake.identity import IntakeError, check_type, sniff_mime
    from dataflux_pipeline.intake.sidecars import group_files

    path = Path(file)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    with path.open("rb") as f:
        mime = sniff_mime(path, f.read(8192))
    group = next((g for g in group_files(path.parent.iterdir()) if g.primary == path), None)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    out = Path(thumbnails or tempfile.mkdtemp(prefix="dataflux-"))
    item = MediaItem(path, digest, mime, out, group.sidecars if group else {})
    try:
        check_type(path, mime)
        result = analyze_file(item, default_registry(settings))
    except (AnalysisError, IntakeError) as exc:
        print(f"error: {path.name}: {exc}", file=sys.stderr)
        return 1
    if as_json:
        doc = {
            "asset_id": digest,
            "mime_type": mime,
            "duration_s": result.duration_s,
            "metadata": result.metadata,
            "segments": [s.model_dump() for s in result.segments],
            "features": result.features,
        }
        print(json.dumps(doc, indent=1, default=str))
        return 0
    print(f"{path.name}  {mime}  duration={result.duration_s}  asset_id={digest[:16]}…")
    print(f"{'kind':<12}{'idx':>4}  {'start':>8}  {'end':>8}  text/thumbnail")
    for s in result.segments:
        start = "" if s.start_s is None else f"{s.start_s:8.2f}"
        end = "" if s.end_s is None else f"{s.end_s:8.2f}"
        extra = (s.text or s.thumbnail or "").replace("\n", " ")[:60]
        print(f"{s.kind:<12}{s.index:>4}  {start:>8}  {end:>8}  {extra}")
    for table, rows in result.features.items():
        print(f"{table}: {len(rows)} rows")
    return 0
