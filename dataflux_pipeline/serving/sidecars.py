"""Sidecars sent with an upload (a video's subtitles, a photo's caption): renamed to share
the primary file's stem so the intake pairs them, and landed together with it, as one
folder renamed into place, so the sources sensor never sees one without the other."""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from dataflux_pipeline.intake.sidecars import SIDECAR_EXT, sidecar_kind
from dataflux_pipeline.serving.uploads import (
    INCOMING,
    MAX_NAME,
    Staged,
    UploadError,
    queued_file,
    safe_name,
    stage,
)

MAX_SIDECARS = 8
MAX_SIDECAR_BYTES = 32 * 1024**2


def paired_name(primary: str, sidecar: str) -> str:
    """`subs.en.srt` beside `Trip.mp4` becomes `Trip.en.srt` (the intake pairs by the part
    of the name before the first dot)."""
    stem = primary.split(".")[0]
    parts = sidecar.split(".")
    return ".".join([stem, *parts[1:]]) if len(parts) > 1 else f"{stem}.{sidecar}"


def stage_sidecars(
    files: list[tuple[str | None, BinaryIO]], primary: str, folder: Path
) -> list[Staged]:
    """Stage each sidecar under its paired name; 422 for a file that cannot be a sidecar
    of this primary (a subtitle beside a photo, an unknown extension)."""
    if len(files) > MAX_SIDECARS:
        raise UploadError(422, f"at most {MAX_SIDECARS} sidecars per file")
    staged: list[Staged] = []
    try:
        for given, body in files:
            name = paired_name(primary, safe_name(given))
            if len(name.encode()) > MAX_NAME:
                raise UploadError(422, f"{given!r} beside {primary!r} makes a name too long")
            if Path(name).suffix.lower() not in SIDECAR_EXT:
                raise UploadError(422, f"{given!r} is not a subtitle, metadata or artwork file")
            if sidecar_kind(Path(primary), Path(name)) is None:
                raise UploadError(422, f"{given!r} cannot be a sidecar of {primary!r}")
            if name in {s.name for s in staged} or name == primary:
                raise UploadError(422, f"two files would be named {name!r}")
            staged.append(stage(body, name, folder, MAX_SIDECAR_BYTES))
    except BaseException:
        for s in staged:
            s.path.unlink(missing_ok=True)
        raise
    return staged


def publish_together(primary: Staged, sidecars: list[Staged], uploads: Path) -> Path:
    """Move the primary and its sidecars into `<uploads>/<sha256>/` in one rename. When an
    upload of the same bytes lands first (two at once), that one stands and this group is
    dropped; nothing is left in the temp area either way."""
    folder = uploads / INCOMING / f"{uuid.uuid4().hex}.group"
    folder.mkdir(parents=True)
    target = uploads / primary.sha256
    try:
        for s in sidecars:
            os.replace(s.path, folder / s.name)
        os.replace(primary.path, folder / primary.name)
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()  # left empty by a deleted upload of the same content
        os.replace(folder, target)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        landed = queued_file(uploads, primary.sha256)
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and landed is not None:
            return landed
        raise
    return target / primary.name
