"""The `assets` row for one landed file. Every way a file can be wrong ends as a row with
`failed` or `skipped` and a sentence saying why; nothing raises past this function."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dataflux_pipeline.intake.identity import IntakeError, check_type, store_file

CONTAINER_AUDIO = {"video/mp4": "audio/mp4", "video/x-matroska": "audio/x-matroska"}
CONTAINER_AUDIO |= {"video/webm": "audio/webm", "video/quicktime": "audio/mp4"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_duration_s: float


def file_uri(path: Path) -> str:
    """A file:// URI for any name, including bytes that are not UTF-8."""
    return "file://" + urllib.parse.quote(os.fsencode(path.absolute()))


def display_name(path: Path) -> str:
    return os.fsencode(path.name).decode("utf-8", "replace")


def _unreadable_id(uri: str) -> str:
    """A stable id for a file whose bytes could not be read (no content hash exists)."""
    return "unreadable-" + hashlib.sha256(uri.encode()).hexdigest()[:48]


def _data_end(container, stream, duration: float) -> float | None:
    """Seek to just before the promised end and read what is really there (demux only)."""
    container.seek(int(max(0.0, duration - 2.0) * 1e6), backward=True)
    end = None
    for packet in container.demux(stream):
        if packet.pts is not None:
            t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            end = t if end is None else max(end, t)
    return end


def probe_container(path: Path, mime: str) -> tuple[str, float | None]:
    """Refine a video MIME type for files with no picture, read the duration, and refuse a
    file whose data stops well before the duration its header promises (truncated)."""
    import av

    try:
        with av.open(str(path)) as container:
            video = [
                s
                for s in container.streams.video
                if not (s.disposition & av.stream.Disposition.attached_pic)
            ]
            duration = container.duration / 1e6 if container.duration else None
            if mime.startswith("video/") and not video and container.streams.audio:
                mime = CONTAINER_AUDIO.get(mime, "audio/mp4")
            streams = video or list(container.streams.audio)
            if duration and streams:
                end = _data_end(container, streams[0], duration)
                if end is None or end < duration - max(1.0, 0.05 * duration):
                    found = "no data" if end is None else f"data ends at {end:.1f} s"
                    raise IntakeError(
                        f"truncated: the header promises {duration:.1f} s but {found}"
                    )
            return mime, duration
    except (av.FFmpegError, OSError, ValueError):
        return mime, None  # the analyzer reports the decoder's own message


def intake_record(
    path: Path,
    landing: Path,
    sidecars: dict[str, Path],
    objects: Path,
    limits: Limits,
    supported: Callable[[str], str | None],
    uri: str | None = None,
) -> dict[str, Any]:
    """`uri` names where the file came from when `path` is a local copy (S3 landing)."""
    uri = uri or file_uri(path)
    row: dict[str, Any] = {
        "uri": uri,
        "uris": [uri],
        "file_name": display_name(path),
        "arrived_at": datetime.now(UTC),
        "status": "cataloged",
        "error": None,
    }
    try:
        if path.is_symlink() and not path.resolve().is_relative_to(landing.resolve()):
            raise IntakeError("refused: symlink points outside the landing folder")
        if not path.is_file():
            raise IntakeError("file disappeared from the landing folder before it was read")
        size = path.stat().st_size
        row["size_bytes"] = size
        if size == 0:
            empty = hashlib.sha256(b"").hexdigest()
            row.update(asset_id=empty, sha256=empty, mime_type="application/x-empty")
            raise IntakeError("file is empty (0 bytes)")
        stored = store_file(path, objects, limits.max_bytes)
        row.update(
            asset_id=stored.sha256,
            sha256=stored.sha256,
            xxh128=stored.xxh128,
            mime_type=stored.mime_type,
            store_path=stored.store_path.relative_to(objects.parent).as_posix(),
        )
        check_type(path, stored.mime_type)
        if stored.mime_type.split("/")[0] in ("audio", "video"):
            row["mime_type"], duration = probe_container(stored.store_path, stored.mime_type)
            if duration and duration > limits.max_duration_s:
                raise IntakeError(
                    f"media is {duration:.0f} s long, over the limit of "
                    f"{limits.max_duration_s:.0f} s (DATAFLUX_MAX_DURATION_S)"
                )
        row["media_type"] = supported(row["mime_type"])
        if row["media_type"] is None:
            row.update(status="skipped", error=f"unsupported file type {row['mime_type']}")
        row["metadata"] = json.dumps({"sidecars": _store_sidecars(sidecars, objects, limits)})
    except (IntakeError, OSError) as exc:
        row.setdefault("asset_id", _unreadable_id(uri))
        row.update(status="failed", error=str(exc))
    return row


def _store_sidecars(sidecars: dict[str, Path], objects: Path, limits: Limits) -> dict:
    meta = {}
    for kind, side in sidecars.items():
        if side.is_file() and side.stat().st_size:
            copy = store_file(side, objects, limits.max_bytes)
            meta[kind] = {
                "uri": file_uri(side),
                "store_path": copy.store_path.relative_to(objects.parent).as_posix(),
            }
    return meta


def merge_duplicates(rows: list[dict[str, Any]], known: set[str]) -> list[dict[str, Any]]:
    """One row per content within a batch (extra names go to `uris`); content already
    cataloged by another batch is kept as a `duplicate` row pointing at the first one."""
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        first = by_id.get(row["asset_id"])
        if first is None:
            by_id[row["asset_id"]] = row
            if row["asset_id"] in known and row["status"] == "cataloged":
                row.update(status="duplicate", error="content already in the catalog")
        elif row["uri"] not in first["uris"]:
            first["uris"].append(row["uri"])
    return list(by_id.values())
