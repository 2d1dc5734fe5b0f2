"""The intake record of one file version: what its bytes are (hashes, sniffed type,
duration) and where they are kept. Every way a file can be wrong ends as a record with
`failed` or `skipped` and a sentence saying why; nothing raises past `take`."""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from dataflux_pipeline.intake.identity import (
    IntakeError,
    check_type,
    contained,
    os_path,
    read_file,
)

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


def wav_shortfall(path: Path) -> str | None:
    """A WAV whose data chunk promises more bytes than the file holds (cut in transit):
    decoders read what is there without a word, so the header is checked here."""
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        byte_rate = 0
        while chunk := f.read(8):
            if len(chunk) < 8:
                return "truncated: the WAV header ends inside a chunk header"
            name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name == b"fmt ":
                fmt = f.read(size)
                byte_rate = int.from_bytes(fmt[8:12], "little") if len(fmt) >= 12 else 0
                f.seek(size % 2, 1)
                continue
            if name == b"data":
                if size == 0xFFFFFFFF:  # written as a stream, length unknown
                    return None
                held = path.stat().st_size - f.tell()
                if held >= size:
                    return None
                if byte_rate:
                    return (
                        f"truncated: the WAV header promises {size} bytes of audio "
                        f"({size / byte_rate:.2f} s) but the file holds {max(held, 0)} "
                        f"({max(held, 0) / byte_rate:.2f} s), {size - held} bytes short"
                    )
                return f"truncated: the WAV header promises {size} bytes, {size - held} short"
            f.seek(size + size % 2, 1)
    return None


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


class SidecarCopy(BaseModel):
    path: str = Field(description="Relative to the source.")
    sha256: str
    store_path: str | None = None


class IntakeRecord(BaseModel):
    """One file version a batch took. `outcome`: ok, failed or skipped (kept with its
    reason), missing (gone or changed since the batch was planned: a later batch has it)."""

    source: str
    path: str
    uri: str
    file_name: str
    size_bytes: int | None = None
    mtime_ns: int | None = None
    asset_id: str
    sha256: str | None = None
    xxh128: str | None = None
    mime_type: str | None = None
    media_type: str | None = None
    store_path: str | None = None
    duration_s: float | None = None
    sidecars: dict[str, SidecarCopy] = Field(default_factory=dict)
    outcome: str = "ok"
    error: str | None = None
    warnings: list[str] = Field(default_factory=list, description="Sidecars refused, and why.")
    taken_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Source:
    """Where a batch's files are read: the source root on this machine, the name of the
    source, how to show a path as a URI, and whether originals are copied."""

    name: str
    root: Path
    base_uri: str | None = None  # s3://... when `root` holds staged copies
    copy_files: bool = False

    @property
    def staged(self) -> bool:
        """Staged copies carry the time they were fetched, not the object's."""
        return self.base_uri is not None

    def uri(self, rel: str) -> str:
        return f"{self.base_uri.rstrip('/')}/{rel}" if self.base_uri else f"{self.name}:{rel}"

    def local(self, rel: str) -> Path:
        """The file on this machine: a staged object, or the folder's name for the key."""
        return self.root / (rel if self.staged else os_path(rel))


def take(
    source: Source,
    rel: str,
    version: tuple[int, int],
    sidecars: dict[str, str],
    objects: Path,
    limits: Limits,
    supported: Callable[[str], str | None],
) -> IntakeRecord:
    """Read one file of a batch. `version` is the (size, mtime_ns) the batch planned:
    a file that no longer has it is `missing` (a later batch takes the new version)."""
    path = source.local(rel)
    uri = source.uri(rel)
    record = IntakeRecord(
        source=source.name,
        path=rel,
        uri=uri,
        file_name=display_name(path),
        asset_id=_unreadable_id(uri),
    )
    try:
        st = path.lstat() if path.is_symlink() else path.stat()
    except OSError:
        return record.model_copy(update={"outcome": "missing", "error": "file is gone"})
    seen = (st.st_size, version[1] if source.staged else st.st_mtime_ns)
    if not path.is_symlink() and seen != version:
        return record.model_copy(update={"outcome": "missing", "error": "file changed"})
    record.size_bytes, record.mtime_ns = version
    try:
        real = contained(path, source.root)
        if not real.is_file():
            raise IntakeError("not a regular file")
        if st.st_size == 0:
            empty = hashlib.sha256(b"").hexdigest()
            record.asset_id, record.sha256, record.mime_type = empty, empty, "application/x-empty"
            raise IntakeError("file is empty (0 bytes)")
        found = read_file(real, objects if source.copy_files else None, limits.max_bytes)
        record.asset_id, record.sha256, record.xxh128 = found.sha256, found.sha256, found.xxh128
        record.mime_type = found.mime_type
        if found.store_path is not None:
            record.store_path = found.store_path.relative_to(objects.parent).as_posix()
        check_type(path, found.mime_type)
        if found.mime_type.split("/")[0] in ("audio", "video"):
            if short := wav_shortfall(real):
                raise IntakeError(short)
            record.mime_type, record.duration_s = probe_container(real, found.mime_type)
            if record.duration_s and record.duration_s > limits.max_duration_s:
                raise IntakeError(
                    f"media is {record.duration_s:.0f} s long, over the limit of "
                    f"{limits.max_duration_s:.0f} s (DATAFLUX_MAX_DURATION_S)"
                )
        record.media_type = supported(record.mime_type)
        if record.media_type is None:
            record.outcome, record.error = "skipped", f"unsupported file type {record.mime_type}"
        record.sidecars, record.warnings = _sidecars(source, sidecars, objects, limits)
    except (IntakeError, OSError) as exc:
        record.outcome, record.error = "failed", str(exc)
    return record


def _sidecars(
    source: Source, sidecars: dict[str, str], objects: Path, limits: Limits
) -> tuple[dict[str, SidecarCopy], list[str]]:
    """Sidecars obey the same containment rule as any file: a link out of the source is
    refused and the reason kept, never followed; the primary file goes on without it."""
    out, refused = {}, []
    for kind, rel in sidecars.items():
        path = source.local(rel)
        if not (path.exists() or path.is_symlink()):
            continue
        try:
            real = contained(path, source.root)
            if not real.is_file() or real.stat().st_size == 0:
                continue
            found = read_file(real, objects if source.copy_files else None, limits.max_bytes)
        except (IntakeError, OSError) as exc:
            refused.append(f"{kind} sidecar {display_name(path)!r} refused: {exc}")
            continue
        store = found.store_path.relative_to(objects.parent) if found.store_path else None
        out[kind] = SidecarCopy(
            path=rel, sha256=found.sha256, store_path=store.as_posix() if store else None
        )
    return out, refused
