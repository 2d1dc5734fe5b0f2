"""Which file plays an asset in a browser: its proxy when the pipeline made one (the
original is in a format browsers cannot play), else the original bytes, read from the
store copy or from the source path that holds them now. S3 sources are fetched once into
the content's proxies folder, since a player seeks back and forth through the file."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from dataflux_pipeline.analyzers.playback import PROXIES, proxy_rel
from dataflux_pipeline.intake.identity import IntakeError, contained, os_path
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.objects import Storage

# Shown in the page, not downloaded: types a browser renders without running anything.
INLINE = ("video/", "audio/", "image/")


@dataclass(frozen=True)
class Playable:
    path: Path
    mime_type: str
    proxy: bool


def proxy_of(settings: Settings, asset_id: str) -> Path | None:
    path = settings.store / proxy_rel(asset_id)
    return path if path.is_file() else None


def original_of(settings: Settings, row: dict) -> Path | None:
    """The original bytes of a live content, or None when no readable copy is here."""
    if row.get("store_path"):
        path = settings.store / row["store_path"]
        return path if path.is_file() else None
    source = next((s for s in settings.watched_sources if s.name == row.get("source")), None)
    if source is None or not row.get("path"):
        return None
    if source.remote:
        # beside the proxy, so the copy is purged with the content
        cached = settings.store / PROXIES / row["asset_id"][:2] / row["asset_id"] / "original"
        target = cached / Path(row["path"]).name
        if not target.is_file():
            with contextlib.suppress(FileNotFoundError, ValueError, OSError):
                Storage(source.uri).get_file(row["path"], target)
        return target if target.is_file() else None
    root = Path(source.uri)
    try:
        path = contained(root / os_path(row["path"]), root)
    except IntakeError:
        return None
    if not path.is_file() or path.stat().st_size != row.get("size_bytes"):
        return None  # moved away or changed since: the catalog will hear of it
    return path


def playable(settings: Settings, row: dict, original: bool = False) -> Playable | None:
    """The proxy (unless `original` is asked for), else the original."""
    if not original:
        proxy = proxy_of(settings, row["asset_id"])
        if proxy is not None:
            kind = "video" if row.get("media_type") == "video" else "audio"
            return Playable(proxy, f"{kind}/mp4", True)
    path = original_of(settings, row)
    if path is None:
        return None
    return Playable(path, row.get("mime_type") or "application/octet-stream", False)
