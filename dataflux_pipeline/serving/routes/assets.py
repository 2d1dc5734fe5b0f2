"""The catalog over HTTP: list, detail, upload, delete, re-analyze, segments, thumbnails."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from dataflux_pipeline.accounts import audit, collections
from dataflux_pipeline.accounts.principals import Principal, user_label
from dataflux_pipeline.catalog.access import access_of, pending_uploads, record_upload
from dataflux_pipeline.catalog.requests import delete, request_reanalysis
from dataflux_pipeline.intake.identity import media_type_of, sniff_mime
from dataflux_pipeline.serving import sidecars, uploads
from dataflux_pipeline.serving.deps import (
    ASSET_ID,
    AUTH_RESPONSES,
    SEGMENT_ID,
    Service,
    Svc,
    Who,
    address,
    check_id,
    must_own,
    one_file,
    owns_asset,
    require,
    resolve_asset,
)
from dataflux_pipeline.serving.schemas import (
    AssetDetail,
    AssetPage,
    AssetSummary,
    ErrorBody,
    State,
    UploadAccepted,
)
from dataflux_pipeline.serving.views import state_of

router = APIRouter(
    tags=["catalog"], dependencies=[Depends(require("search"))], responses=AUTH_RESPONSES
)
upload_router = APIRouter(
    tags=["catalog"], dependencies=[Depends(require("upload"))], responses=AUTH_RESPONSES
)


def _queued_summary(svc: Service, asset_id: str) -> AssetSummary | None:
    path = uploads.queued_file(svc.settings.uploads, asset_id)
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
    principal: Who,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    status: Annotated[
        list[str] | None, Query(description="Pipeline status or state; repeatable.")
    ] = None,
    media_type: str | None = None,
    mime_type: str | None = None,
) -> AssetPage:
    """What the caller may read, newest first; their uploads not yet cataloged come first
    as `queued`."""
    known = svc.catalog.snapshot().position
    queued = []
    if not status or "queued" in status:
        for asset_id in _my_queued(svc, principal):
            s = None if asset_id in known else _queued_summary(svc, asset_id)
            wanted = s and (not media_type or s.media_type == media_type)
            if wanted and (not mime_type or s.mime_type == mime_type):
                queued.append(s)
    head = queued[offset : offset + limit]
    rest_offset = max(0, offset - len(queued))
    rows, total = svc.catalog.page(
        principal, limit - len(head), rest_offset, status, media_type, mime_type
    )
    items = head + [AssetSummary(**r) for r in rows] if limit > len(head) else head
    return AssetPage(items=items, total=total + len(queued), limit=limit, offset=offset)


def _my_queued(svc: Service, principal: Principal) -> list[str]:
    """Uploads waiting for the pipeline that this principal made (all, if unrestricted)."""
    ids = uploads.queued_ids(svc.settings.uploads)
    if principal.unrestricted:
        return ids
    mine = pending_uploads(svc.live, principal.readers)
    return [a for a in ids if a in mine]


def _sidecars(asset: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        meta = json.loads(asset.get("metadata") or "{}")
    except json.JSONDecodeError:
        return []
    return [
        {"kind": k, "uri": f"{asset['source']}:{v.get('path')}", **v}
        for k, v in sorted((meta.get("sidecars") or {}).items())
    ]


def _near_duplicates(svc: Service, asset_id: str, principal: Principal) -> list[dict[str, Any]]:
    rels = svc.catalog.tables
    if not rels.files("relationships"):
        return []
    found = (
        rels.scan("relationships")
        .filter(
            (pl.col("kind") == "near_duplicate")
            & ((pl.col("source_id") == asset_id) | (pl.col("target_id") == asset_id))
        )
        .collect()
    )
    out: dict[str, dict[str, Any]] = {}
    for r in found.to_dicts():
        other = r["target_id"] if r["source_id"] == asset_id else r["source_id"]
        row = svc.catalog.row(other)
        if row is None or not svc.catalog.visible(other, principal):
            continue
        out[other] = {"asset_id": other, "distance": r["distance"], "file_name": row["file_name"]}
    return sorted(out.values(), key=lambda d: (d["distance"] is None, d["distance"] or 0))


@router.get(
    "/assets/{asset_id}",
    response_model=AssetDetail,
    responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def get_asset(asset_id: str, svc: Svc, principal: Who) -> AssetDetail:
    """One live asset with its segments, features, sidecars and near-duplicates; an
    upload the pipeline has not cataloged yet answers with state `queued`. A unique id
    prefix of 8+ hex characters works."""
    if ASSET_ID.fullmatch(asset_id) and not svc.catalog.live(asset_id):
        queued = _queued_summary(svc, asset_id)
        if queued is not None and asset_id in _my_queued(svc, principal):
            return AssetDetail(state="queued", asset=queued.model_dump(), uris=[])
    asset_id = resolve_asset(svc, asset_id, principal)
    asset = svc.catalog.row(asset_id)
    segments = svc.catalog.analysis_rows("segments", asset_id)
    segs = segments.sort("kind", "index").to_dicts() if segments.height else []
    thumb = next((s["thumbnail"] for s in segs if s.get("thumbnail")), None)
    return AssetDetail(
        state=state_of(asset["status"]),
        asset={k: v for k, v in asset.items() if k not in ("partition",)},
        uris=[f"{asset['source']}:{asset['path']}"],
        thumbnail_url=f"/thumbnails/{asset_id}" if thumb else None,
        segments=segs,
        features=svc.catalog.features(asset_id),
        sidecars=_sidecars(asset),
        near_duplicates=_near_duplicates(svc, asset_id, principal),
        access=access_of(svc.live, asset_id) if owns_asset(svc, asset_id, principal) else None,
        collections=[
            {"id": c.id, "name": c.name}
            for c in collections.containing(svc.db, principal, asset_id)
        ],
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
    request: Request,
    svc: Svc,
    principal: Who,
    file: Annotated[UploadFile, File(description="Any media file.")],
    _one: Annotated[None, Depends(one_file)],
    visibility: Annotated[
        Literal["private", "shared", "public"], Form(description="Who may read it.")
    ] = "private",
    sidecar: Annotated[
        list[UploadFile] | None,
        File(description="Subtitles, metadata or artwork of the file, paired with it."),
    ] = None,
) -> Any:
    """Land a file for the pipeline; the asset id is its SHA-256, the uploader owns it.
    Poll GET /assets/{id}, or follow GET /events/assets?id=..."""
    limit = min(svc.settings.upload_max_bytes, svc.settings.max_file_bytes)
    area = svc.settings.uploads
    try:
        name = uploads.safe_name(file.filename)
        staged = uploads.stage(file.file, name, area / uploads.INCOMING, limit)
    except uploads.UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    try:
        pairs = [(f.filename, f.file) for f in sidecar or []]
        sides = sidecars.stage_sidecars(pairs, name, area / uploads.INCOMING)
    except uploads.UploadError as exc:
        staged.path.unlink(missing_ok=True)
        raise HTTPException(exc.status, str(exc)) from exc
    try:
        seen = svc.catalog.visible(staged.sha256, principal)
        existing = svc.catalog.row(staged.sha256) if seen else None
        state: State | None = state_of(existing["status"]) if existing else None
        if state is None and staged.sha256 in _my_queued(svc, principal):
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
        if principal.user_id is not None:  # someone else's identical bytes: readable now
            label = user_label(principal.user_id)
            record_upload(svc.live, staged.sha256, label, visibility)
        if uploads.queued_file(area, staged.sha256) is None:
            sidecars.publish_together(staged, sides, area)
        svc.catalog.invalidate()
    except uploads.UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    finally:
        for leftover in [staged, *sides]:
            leftover.path.unlink(missing_ok=True)
    audit.record(svc.db, principal.actor, "upload", staged.sha256, address(request), name=name)
    return UploadAccepted(
        asset_id=staged.sha256,
        status="queued",
        file_name=name,
        status_url=f"/assets/{staged.sha256}",
    )


@upload_router.delete(
    "/assets/{asset_id}",
    status_code=200,
    responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def delete_asset(asset_id: str, request: Request, svc: Svc, principal: Who) -> dict:
    """Gone from search and from GET at once; its rows, copies and thumbnails are purged
    by the next catalog sync, and the next scan will not bring it back. An upload is
    deleted at its source. Owners and admins may delete."""
    asset_id = resolve_asset(svc, asset_id, principal)
    must_own(svc, asset_id, principal)
    removed = delete(svc.live, asset_id, actor=principal.actor)
    if removed is None:
        raise HTTPException(404, f"asset {asset_id} not found")
    for _, rel in removed:
        uploads.remove(svc.settings.uploads, rel)
    svc.catalog.invalidate()
    audit.record(svc.db, principal.actor, "delete", asset_id, address(request))
    return {"asset_id": asset_id, "deleted": True}


@upload_router.post(
    "/assets/{asset_id}/analyze",
    status_code=202,
    responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def reanalyze_asset(asset_id: str, svc: Svc, principal: Who) -> dict:
    """Analyze again with the current analyzers and models (a Dagster run); search keeps
    the current analysis until the new one is indexed. Owners and admins may."""
    asset_id = resolve_asset(svc, asset_id, principal)
    must_own(svc, asset_id, principal)
    if not request_reanalysis(svc.live, [asset_id], actor=principal.actor):
        raise HTTPException(409, f"asset {asset_id} cannot be re-analyzed (skipped type)")
    return {"asset_id": asset_id, "status": "queued", "status_url": f"/assets/{asset_id}"}


@router.get("/segments/{segment_id}", responses={404: {"model": ErrorBody}})
def get_segment(segment_id: str, svc: Svc, principal: Who) -> dict:
    """One segment of a live asset with its features and the spaces that hold it."""
    check_id(SEGMENT_ID, segment_id, "segment id")
    if not svc.catalog.visible(segment_id.split(":", 1)[0], principal):
        raise HTTPException(404, f"segment {segment_id} not found")
    row = svc.catalog.segment(segment_id)
    if row is None:
        raise HTTPException(404, f"segment {segment_id} not found")
    where = "segment_id = '" + segment_id.replace("'", "''") + "'"
    spaces = [s for s in svc.index.spaces() if svc.index.segment_ids(s, where)]
    features = svc.catalog.features(row["asset_id"], segment_id)
    return row | {"features": features, "spaces": spaces}


def _thumbnail_of(svc: Service, ident: str) -> str | None:
    """An asset's first thumbnail, or a segment's own, from the current analysis."""
    asset_id = ident.split(":", 1)[0]
    segs = svc.catalog.analysis_rows("segments", asset_id)
    if ident != asset_id and segs.height:
        segs = segs.filter(pl.col("segment_id") == ident)
    segs = segs.filter(pl.col("thumbnail").is_not_null()) if segs.height else segs
    if not segs.height:
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
def get_thumbnail(path: str, svc: Svc, principal: Who) -> FileResponse:
    """By asset id (its first thumbnail), segment id, or store path; only live assets'."""
    if ASSET_ID.fullmatch(path) or SEGMENT_ID.fullmatch(path):
        if not svc.catalog.visible(path.split(":", 1)[0], principal):
            raise HTTPException(404, "no thumbnail for that id")
        found = _thumbnail_of(svc, path)
        if found is None:
            raise HTTPException(404, "no thumbnail for that id")
        path = found
    parts = path.split("/")
    if len(parts) != 3 or not svc.catalog.visible(parts[1], principal):
        raise HTTPException(404, "thumbnail not found")
    try:
        target = (svc.thumbnails / path).resolve()
        found = target.is_file()
    except (OSError, ValueError) as exc:  # NUL bytes, names too long for the filesystem
        raise HTTPException(400, "not a thumbnail path") from exc
    if not target.is_relative_to(svc.thumbnails) or target.suffix.lower() not in (".jpg", ".webp"):
        raise HTTPException(400, "thumbnail path must stay inside the thumbnail store")
    if not found:
        raise HTTPException(404, "thumbnail not found")
    cache = "public" if principal.kind == "open" else "private"
    return FileResponse(target, headers={"Cache-Control": f"{cache}, max-age=86400"})
