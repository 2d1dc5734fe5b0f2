"""The catalog over HTTP: list, detail, upload, segments and thumbnails."""

from __future__ import annotations

import json
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from dataflux_pipeline.intake.identity import media_type_of, sniff_mime
from dataflux_pipeline.serving import uploads
from dataflux_pipeline.serving.auth import require
from dataflux_pipeline.serving.deps import ASSET_ID, SEGMENT_ID, Service, check_id, service
from dataflux_pipeline.serving.schemas import (
    AssetDetail,
    AssetPage,
    AssetSummary,
    ErrorBody,
    State,
    UploadAccepted,
)
from dataflux_pipeline.serving.views import state_of

router = APIRouter(tags=["catalog"], dependencies=[Depends(require("search"))])
upload_router = APIRouter(tags=["catalog"], dependencies=[Depends(require("upload"))])
Svc = Annotated[Service, Depends(service)]


def _queued_summary(svc: Service, asset_id: str) -> AssetSummary | None:
    path = uploads.queued_file(svc.settings.landing, asset_id)
    if path is None:
        return None
    with path.open("rb") as f:
        mime = sniff_mime(path, f.read(8192))
    return AssetSummary(
        asset_id=asset_id,
        file_name=path.name,
        media_type=media_type_of(mime),
        mime_type=mime,
        status="queued",
        state="queued",
        size_bytes=path.stat().st_size,
    )


@router.get("/assets", response_model=AssetPage)
def list_assets(
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    status: Annotated[
        list[str] | None, Query(description="Pipeline status or state; repeatable.")
    ] = None,
    media_type: str | None = None,
    mime_type: str | None = None,
) -> AssetPage:
    """Newest first; uploads not yet cataloged come first as `queued`."""
    known = svc.catalog.snapshot().position
    queued = []
    if not status or "queued" in status:
        for asset_id in uploads.queued_ids(svc.settings.landing):
            s = None if asset_id in known else _queued_summary(svc, asset_id)
            wanted = s and (not media_type or s.media_type == media_type)
            if wanted and (not mime_type or s.mime_type == mime_type):
                queued.append(s)
    head = queued[offset : offset + limit]
    rest_offset = max(0, offset - len(queued))
    rows, total = svc.catalog.page(limit - len(head), rest_offset, status, media_type, mime_type)
    items = head + [AssetSummary(**r) for r in rows] if limit > len(head) else head
    return AssetPage(items=items, total=total + len(queued), limit=limit, offset=offset)


def _sidecars(asset: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        meta = json.loads(asset.get("metadata") or "{}")
    except json.JSONDecodeError:
        return []
    return [{"kind": k, **v} for k, v in sorted(meta.get("sidecars", {}).items())]


def _near_duplicates(svc: Service, asset_id: str) -> list[dict[str, Any]]:
    if not svc.catalog.tables.files("relationships"):
        return []
    rels = (
        svc.catalog.tables.scan("relationships")
        .filter(
            (pl.col("kind") == "near_duplicate")
            & ((pl.col("source_id") == asset_id) | (pl.col("target_id") == asset_id))
        )
        .collect()
    )
    out = []
    for r in rels.to_dicts():
        other = r["target_id"] if r["source_id"] == asset_id else r["source_id"]
        other_asset = (other or "").split(":")[0]
        row = svc.catalog.row(other_asset) or {}
        out.append(
            {
                "asset_id": other_asset,
                "id": other,
                "distance": r.get("distance"),
                "file_name": row.get("file_name"),
            }
        )
    return sorted(out, key=lambda d: (d["distance"] is None, d["distance"] or 0))


@router.get("/assets/{asset_id}", response_model=AssetDetail, responses={404: {"model": ErrorBody}})
def get_asset(asset_id: str, svc: Svc) -> AssetDetail:
    """One asset with its segments, features, sidecars and near-duplicates; an upload the
    pipeline has not cataloged yet answers with state `queued`."""
    check_id(ASSET_ID, asset_id, "asset id")
    asset = svc.catalog.row(asset_id)
    if asset is None:
        queued = _queued_summary(svc, asset_id)
        if queued is None:
            raise HTTPException(404, f"asset {asset_id} not found")
        path = uploads.queued_file(svc.settings.landing, asset_id)
        return AssetDetail(state="queued", asset=queued.model_dump(), uris=[path.as_uri()])
    segments = svc.catalog.lookup("segments", "asset_id", asset_id)
    if not segments.is_empty():
        segments = segments.sort("kind", "index")
    segs = segments.to_dicts()
    thumb = next((s["thumbnail"] for s in segs if s.get("thumbnail")), None)
    return AssetDetail(
        state=state_of(asset["status"]),
        asset={k: v for k, v in asset.items() if k != "uris"},
        uris=asset.get("uris") or [],
        thumbnail_url=f"/thumbnails/{asset_id}" if thumb else None,
        segments=segs,
        features=svc.catalog.features("asset_id", asset_id),
        sidecars=_sidecars(asset),
        near_duplicates=_near_duplicates(svc, asset_id),
    )


@upload_router.post(
    "/assets",
    status_code=202,
    response_model=UploadAccepted,
    responses={
        409: {"description": "content already cataloged or queued"},
        413: {"model": ErrorBody},
        415: {"model": ErrorBody},
    },
)
def upload_asset(
    request: Request, svc: Svc, file: Annotated[UploadFile, File(description="Any media file.")]
) -> Any:
    """Land a file for the pipeline; the asset id is its SHA-256. Poll GET /assets/{id}."""
    limit = min(svc.settings.upload_max_bytes, svc.settings.max_file_bytes)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise HTTPException(413, f"file is over the limit of {limit} bytes")
    landing = svc.settings.landing
    try:
        name = uploads.safe_name(file.filename)
        staged = uploads.stage(file.file, name, landing / uploads.INCOMING, limit)
    except uploads.UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    try:
        existing = svc.catalog.row(staged.sha256)
        state: State | None = state_of(existing["status"]) if existing else None
        if state is None and uploads.queued_file(landing, staged.sha256):
            state = "queued"
        if state is not None:
            return JSONResponse(
                status_code=409,
                content={
                    "error": "conflict",
                    "detail": "this content is already in the catalog or queued",
                    "asset_id": staged.sha256,
                    "status": state,
                    "file_name": existing["file_name"] if existing else name,
                    "status_url": f"/assets/{staged.sha256}",
                },
            )
        uploads.check(staged, svc.registry.media_type)
        uploads.publish(staged, landing)
    except uploads.UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    finally:
        staged.path.unlink(missing_ok=True)
    return UploadAccepted(
        asset_id=staged.sha256,
        status="queued",
        file_name=name,
        status_url=f"/assets/{staged.sha256}",
    )


@router.get("/segments/{segment_id}")
def get_segment(segment_id: str, svc: Svc) -> dict:
    """One segment with its features and the embedding spaces that hold it."""
    check_id(SEGMENT_ID, segment_id, "segment id")
    rows = svc.catalog.lookup("segments", "segment_id", segment_id)
    if rows.is_empty():
        raise HTTPException(404, f"segment {segment_id} not found")
    row = rows.row(0, named=True)
    spaces = [s for s in svc.index.spaces() if svc.index.vectors(s, _eq(segment_id), 1)]
    features = svc.catalog.features("segment_id", segment_id)
    return row | {"features": features, "spaces": spaces}


def _eq(segment_id: str) -> str:
    return "segment_id = '" + segment_id.replace("'", "''") + "'"


def _thumbnail_path(svc: Service, ident: str) -> str | None:
    column = "asset_id" if ASSET_ID.match(ident) else "segment_id"
    segs = svc.catalog.lookup("segments", column, ident)
    segs = segs.filter(pl.col("thumbnail").is_not_null())
    if segs.is_empty():
        return None
    return segs.sort("kind", "index")["thumbnail"][0].removeprefix("thumbnails/")


@router.get(
    "/thumbnails/{path:path}",
    response_class=FileResponse,
    responses={
        400: {"model": ErrorBody, "description": "path leaves the thumbnail store"},
        404: {"model": ErrorBody, "description": "no such thumbnail"},
    },
)
def get_thumbnail(path: str, svc: Svc) -> FileResponse:
    """By asset id (its first thumbnail), segment id, or store path."""
    if ASSET_ID.match(path) or SEGMENT_ID.match(path):
        found = _thumbnail_path(svc, path)
        if found is None:
            raise HTTPException(404, f"no thumbnail for {path}")
        path = found
    try:
        target = (svc.thumbnails / path).resolve()
        found = target.is_file()
    except (OSError, ValueError) as exc:  # NUL bytes, names too long for the filesystem
        raise HTTPException(400, f"not a thumbnail path: {exc}") from exc
    if not target.is_relative_to(svc.thumbnails) or target.suffix.lower() not in (".jpg", ".webp"):
        raise HTTPException(400, "thumbnail path must stay inside the thumbnail store")
    if not found:
        raise HTTPException(404, "thumbnail not found")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=86400"})
