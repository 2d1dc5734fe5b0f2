"""Where `ingest` takes a file from, and how it lands. An agent may name a file only inside
a root the operator allowed (DATAFLUX_MCP_ALLOWED_ROOTS: folders and s3:// prefixes), or
send its bytes; either way the file is copied into the uploads area the service owns,
through the same staging, type check and ownership record as POST /assets, so the
pipeline's sensor takes it like any upload and the caller owns it."""

from __future__ import annotations

import base64
import binascii
import io
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import HTTPException

from dataflux_pipeline.accounts import audit
from dataflux_pipeline.accounts.principals import user_label
from dataflux_pipeline.catalog.access import record_upload
from dataflux_pipeline.serving import uploads
from dataflux_pipeline.serving.deps import Service
from dataflux_pipeline.serving.mcp.calls import Caller, Invalid
from dataflux_pipeline.serving.routes import assets as routes_assets
from dataflux_pipeline.storage.objects import filesystem


def _roots(settings) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Allowed folders as (as configured, links resolved), and allowed s3:// prefixes."""
    folders, prefixes = [], []
    for root in settings.mcp_allowed_roots:
        if root.startswith("s3://"):
            prefixes.append(root.rstrip("/") + "/")
        else:
            given = Path(root).expanduser().absolute()
            folders.append((given, given.resolve()))
    return folders, prefixes


def _allowed(settings) -> str:
    folders, prefixes = _roots(settings)
    names = [str(g) for g, _ in folders] + prefixes
    return ", ".join(names) if names else "none (DATAFLUX_MCP_ALLOWED_ROOTS is empty)"


def local_file(settings, path: str) -> Path:
    """The file `path` names, if it lies inside an allowed folder both as written and with
    every link resolved (a link must not bring in a file from elsewhere)."""
    folders, _ = _roots(settings)
    where = f"allowed roots: {_allowed(settings)}"
    if not folders:
        raise Invalid(f"reading files by path is off here ({where}); send content_base64")
    try:
        given = Path(path).expanduser()
    except RuntimeError as exc:  # `~someone` with no such user
        raise Invalid(f"{path}: {exc}; give the file's absolute path ({where})") from exc
    if ".." in given.parts:
        raise Invalid(f"`..` is not allowed in a path; give the file's absolute path ({where})")
    if not given.is_absolute():
        raise Invalid(f"give an absolute path inside an allowed root ({where})")
    if not any(given.is_relative_to(g) or given.is_relative_to(r) for g, r in folders):
        raise Invalid(f"{path} is outside the allowed roots ({where})")
    try:
        real = given.resolve(strict=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise Invalid(f"no readable file at {path}") from exc
    if not any(real.is_relative_to(r) for _, r in folders):
        raise Invalid(f"{path} is a link that leads outside the allowed roots ({where})")
    if not real.is_file():
        raise Invalid(f"{path} is not a file; ingest takes one file per call")
    return real


def s3_object(settings, uri: str) -> str:
    _, prefixes = _roots(settings)
    where = f"allowed roots: {_allowed(settings)}"
    if not prefixes:
        raise Invalid(f"reading from S3 is off here ({where}); send content_base64")
    if {".", ".."} & set(uri.removeprefix("s3://").split("/")):
        raise Invalid(f"`..` and `.` are not allowed in an S3 key ({where})")
    if not any(uri.startswith(p) for p in prefixes):
        raise Invalid(f"{uri} is outside the allowed prefixes ({where})")
    return uri


@contextmanager
def opened(settings, path: str | None, content_base64: str | None, limit: int):
    """(stream, name) of the one source given."""
    if (path is None) == (content_base64 is None):
        raise Invalid("give exactly one of path or content_base64")
    if content_base64 is not None:
        if len(content_base64) * 3 // 4 > limit + 2:
            raise uploads.UploadError(413, f"the file is over the limit of {limit} bytes")
        try:
            data = base64.b64decode(content_base64, validate=True)
        except binascii.Error as exc:
            raise Invalid(f"content_base64 is not valid base64: {exc}") from exc
        yield io.BytesIO(data), None
    elif path.startswith("s3://"):
        fs, key = filesystem(s3_object(settings, path))
        try:
            stream = fs.open(key, "rb")
        except FileNotFoundError as exc:
            raise Invalid(f"no object at {path}") from exc
        except OSError as exc:
            raise Invalid(f"cannot read {path}: {type(exc).__name__}") from exc
        with stream:
            yield stream, key.rsplit("/", 1)[-1]
    else:
        real = local_file(settings, path)
        with real.open("rb") as stream:
            yield stream, Path(path).name


def land(
    svc: Service, caller: Caller, source: BinaryIO, name: str, visibility: str
) -> dict[str, Any]:
    """POST /assets's steps for a stream: stage (hashed, size-checked), answer the known
    state of content the caller already sees or has queued, check the type, record the
    caller as owner, publish to the uploads area."""
    area = svc.settings.uploads
    limit = min(svc.settings.upload_max_bytes, svc.settings.max_file_bytes)
    staged = uploads.stage(source, name, area / uploads.INCOMING, limit)
    principal = caller.principal
    try:
        try:
            known = routes_assets.get_asset(staged.sha256, svc, principal)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
        else:
            return {
                "asset_id": staged.sha256,
                "status": known.state,
                "file_name": known.asset.get("file_name") or name,
                "already_known": True,
                "note": "this content is already in the catalog or queued; nothing was added",
            }
        uploads.check(staged, svc.registry.media_type)
        if principal.user_id is not None:
            record_upload(svc.live, staged.sha256, user_label(principal.user_id), visibility)
        if uploads.queued_file(area, staged.sha256) is None:
            uploads.publish(staged, area)
        svc.catalog.invalidate()
    finally:
        staged.path.unlink(missing_ok=True)
    audit.record(svc.db, principal.actor, "upload", staged.sha256, None, name=name, via="mcp")
    return {
        "asset_id": staged.sha256,
        "status": "queued",
        "file_name": name,
        "visibility": visibility,
        "note": "queued for the pipeline; poll get_asset until state is completed (or "
        "failed), then search finds it",
    }
