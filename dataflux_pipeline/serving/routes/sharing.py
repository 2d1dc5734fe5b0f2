"""Who may read an asset: its visibility and the users and groups it is shared with."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from dataflux_pipeline.accounts import audit
from dataflux_pipeline.catalog.access import access_of, set_visibility, share, unshare
from dataflux_pipeline.serving.deps import (
    AUTH_RESPONSES,
    Svc,
    Who,
    address,
    must_own,
    principal_label,
    require,
    resolve_asset,
)
from dataflux_pipeline.serving.schemas import ErrorBody, ShareRequest, VisibilityChange

router = APIRouter(
    tags=["sharing"], dependencies=[Depends(require("upload"))], responses=AUTH_RESPONSES
)


@router.put("/assets/{asset_id}/visibility", responses={403: {"model": ErrorBody}})
def set_asset_visibility(
    asset_id: str, body: VisibilityChange, request: Request, svc: Svc, principal: Who
) -> dict:
    """private (owners), shared (owners and those it is shared with) or public."""
    asset_id = resolve_asset(svc, asset_id, principal)
    must_own(svc, asset_id, principal)
    set_visibility(svc.live, asset_id, body.visibility, principal.actor)
    svc.catalog.invalidate()
    audit.record(
        svc.db, principal.actor, "visibility", asset_id, address(request), to=body.visibility
    )
    return access_of(svc.live, asset_id)


@router.post("/assets/{asset_id}/shares", responses={403: {"model": ErrorBody}})
def share_asset(
    asset_id: str, body: ShareRequest, request: Request, svc: Svc, principal: Who
) -> dict:
    """Share with a user or a group (by name); a private asset becomes shared."""
    asset_id = resolve_asset(svc, asset_id, principal)
    must_own(svc, asset_id, principal)
    label = principal_label(svc.db, body)
    share(svc.live, asset_id, label, principal.actor)
    svc.catalog.invalidate()
    audit.record(svc.db, principal.actor, "share", asset_id, address(request), to=label)
    return access_of(svc.live, asset_id)


@router.delete("/assets/{asset_id}/shares/{label}", responses={403: {"model": ErrorBody}})
def unshare_asset(asset_id: str, label: str, request: Request, svc: Svc, principal: Who) -> dict:
    asset_id = resolve_asset(svc, asset_id, principal)
    must_own(svc, asset_id, principal)
    if not unshare(svc.live, asset_id, label, principal.actor):
        raise HTTPException(404, f"asset {asset_id} is not shared with {label}")
    svc.catalog.invalidate()
    audit.record(svc.db, principal.actor, "unshare", asset_id, address(request), to=label)
    return access_of(svc.live, asset_id)
