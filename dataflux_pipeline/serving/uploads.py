"""Uploads go to the uploads area the service owns, nowhere else; the sources sensor
takes them like any watched file.

A file is streamed to a hidden temp name inside the uploads area (the sensor skips
dot-folders), hashed on the way, checked, then renamed to `<sha256>/<name>`: the sensor
never sees a partial file, and the folder name lets the API answer `queued` for an
upload the catalog has not reached yet."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dataflux_pipeline.intake.identity import (
    IGNORED_PREFIXES,
    IntakeError,
    check_type,
    media_type_of,
    sniff_mime,
)
from dataflux_pipeline.intake.sidecars import group_files

INCOMING = ".incoming"
CHUNK = 1 << 20
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
MAX_NAME = 200


class UploadError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Staged:
    path: Path
    sha256: str
    size: int
    mime_type: str
    name: str


def safe_name(name: str | None) -> str:
    """The client's file name without folders or odd characters (it becomes a path in
    the uploads area), never one the sensor would skip as hidden or temporary."""
    base = SAFE_NAME.sub("_", Path(name or "").name).strip(" .")
    if not base:
        raise UploadError(422, "the upload needs a file name with an extension")
    if base.startswith(IGNORED_PREFIXES):
        base = f"upload-{base.lstrip('.~')}"
    if len(base) > MAX_NAME:  # shorten the stem: the extension is checked against the bytes
        suffix = Path(base).suffix if len(Path(base).suffix) <= 16 else ""
        base = base[: MAX_NAME - len(suffix)] + suffix
    return base


def stage(source: BinaryIO, name: str, folder: Path, max_bytes: int) -> Staged:
    """Copy the upload to a temp file in `folder`, hashing and size-checking as it goes."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{uuid.uuid4().hex}.part"
    sha, size, head = hashlib.sha256(), 0, b""
    try:
        with tmp.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadError(413, f"file is over the limit of {max_bytes} bytes")
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                sha.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise UploadError(422, "file is empty (0 bytes)")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Staged(tmp, sha.hexdigest(), size, sniff_mime(Path(name), head), name)


def check(staged: Staged, supported) -> str:
    """The media type, or UploadError: 415 for what no analyzer reads, 422 for a mismatch."""
    try:
        check_type(Path(staged.name), staged.mime_type)
    except IntakeError as exc:
        raise UploadError(422, str(exc)) from exc
    media = supported(staged.mime_type) or None
    if media is None or media_type_of(staged.mime_type) is None:
        raise UploadError(415, f"unsupported file type {staged.mime_type}")
    return media


def queued_file(uploads: Path, asset_id: str) -> Path | None:
    """The landed upload for `asset_id`, if there is one."""
    folder = uploads / asset_id
    if not folder.is_dir():
        return None
    files = [p for p in sorted(folder.iterdir()) if p.is_file()]
    # with sidecars beside it (uploaded with it), the file is the primary of their group
    paired = [g.primary for g in group_files(files) if g.sidecars]
    return paired[0] if paired else next(iter(files), None)


def queued_ids(uploads: Path) -> list[str]:
    if not uploads.is_dir():
        return []
    return sorted(
        p.name
        for p in uploads.iterdir()
        if p.is_dir() and not p.name.startswith(".") and queued_file(uploads, p.name)
    )


def publish(staged: Staged, uploads: Path) -> Path:
    """Rename the staged file into the uploads area; the sensor takes it from there."""
    folder = uploads / staged.sha256
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / staged.name
    os.replace(staged.path, target)
    return target


def remove(uploads: Path, rel: str) -> None:
    """Delete an upload at its source (the service owns the uploads area)."""
    target = (uploads / rel).resolve()
    if target.is_relative_to(uploads.resolve()):
        target.unlink(missing_ok=True)
        folder = target.parent
        if folder != uploads.resolve() and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
