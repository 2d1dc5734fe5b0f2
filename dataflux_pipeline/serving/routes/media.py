"""GET /media/{asset_id}: the bytes a player or image view needs, with HTTP range
requests so seeking works (206 Partial Content), under the same visibility check as every
read path (404 for what the caller may not read)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.serving.deps import AUTH_RESPONSES, Svc, Who, require, resolve_asset
from dataflux_pipeline.serving.playback import INLINE, playable
from dataflux_pipeline.serving.schemas import ErrorBody

router = APIRouter(
    tags=["catalog"], dependencies=[Depends(require("assets:read"))], responses=AUTH_RESPONSES
)


@router.get(
    "/media/{asset_id}",
    response_class=FileResponse,
    responses={
        206: {"description": "the byte range asked for"},
        404: {"model": ErrorBody, "description": "no such asset, or no readable copy here"},
    },
)
def get_media(
    asset_id: str,
    svc: Svc,
    principal: Who,
    original: Annotated[bool, Query(description="The original even when a proxy exists.")] = False,
    download: Annotated[bool, Query(description="As an attachment, with its file name.")] = False,
) -> FileResponse:
    """The browser-playable proxy of audio or video the pipeline made one for, else the
    original. Audio, video and images are shown inline; anything else downloads, so a
    file can never run as a page of this site."""
    asset_id = resolve_asset(svc, asset_id, principal)
    row = dict(svc.catalog.row(asset_id) or {})
    with svc.live.reading() as s:
        stored = s.get(Asset, asset_id)
        row["store_path"] = stored.store_path if stored is not None else None
    found = playable(svc.settings, row, original=original or download)
    if found is None:
        raise HTTPException(404, f"asset {asset_id} has no readable copy here")
    name = row.get("file_name") or asset_id
    if found.proxy:
        name = name.rsplit(".", 1)[0] + ".mp4"
    inline = not download and found.mime_type.startswith(INLINE)
    disposition = "inline" if inline else "attachment"
    cache = "public" if principal.kind == "open" else "private"
    return FileResponse(
        found.path,
        media_type=found.mime_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
            "Cache-Control": f"{cache}, max-age=300",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
