"""Collections: create, rename, delete, add and remove assets, share; a collection shows
only what its reader may see, and `POST /search` with `collection_id` searches within."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from dataflux_pipeline.accounts import audit, collections
from dataflux_pipeline.serving.deps import (
    AUTH_RESPONSES,
    RowIdPath,
    Svc,
    Who,
    address,
    principal_label,
    require,
    resolve_asset,
)
from dataflux_pipeline.serving.schemas import ShareRequest

router = APIRouter(
    prefix="/collections",
    tags=["collections"],
    dependencies=[Depends(require("assets:read"))],
    responses=AUTH_RESPONSES,
)
manage = Depends(require("collections:manage"))


class CollectionBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Items(BaseModel):
    asset_ids: list[str] = Field(min_length=1, max_length=500)


def _view(svc, principal, c) -> dict:
    visible = svc.catalog.visible_ids(principal)
    items = [a for a in collections.items(svc.db, c.id) if a in visible]
    return {
        "id": c.id,
        "name": c.name,
        "owner_id": c.owner_id,
        "mine": c.owner_id == principal.user_id,
        "asset_ids": items,
        "shared_with": collections.shares(svc.db, c.id),
    }


def _get(svc, principal, collection_id: int, write: bool = False):
    try:
        return collections.get(svc.db, principal, collection_id, write)
    except collections.CollectionError as exc:
        raise HTTPException(404, str(exc)) from exc
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from exc


@router.get("")
def list_collections(svc: Svc, principal: Who) -> list[dict]:
    return [_view(svc, principal, c) for c in collections.visible(svc.db, principal)]


@router.post("", status_code=201, dependencies=[manage])
def create(body: CollectionBody, svc: Svc, principal: Who) -> dict:
    try:
        c = collections.create(svc.db, principal, body.name)
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from exc
    return _view(svc, principal, c)


@router.get("/{collection_id}", responses={404: {}})
def get(collection_id: RowIdPath, svc: Svc, principal: Who) -> dict:
    return _view(svc, principal, _get(svc, principal, collection_id))


@router.patch("/{collection_id}", dependencies=[manage], responses={403: {}, 404: {}})
def rename(collection_id: RowIdPath, body: CollectionBody, svc: Svc, principal: Who) -> dict:
    _get(svc, principal, collection_id, write=True)
    return _view(svc, principal, collections.rename(svc.db, principal, collection_id, body.name))


@router.delete("/{collection_id}", status_code=204, dependencies=[manage])
def delete(collection_id: RowIdPath, svc: Svc, principal: Who) -> None:
    _get(svc, principal, collection_id, write=True)
    collections.remove(svc.db, principal, collection_id)


@router.post("/{collection_id}/items", dependencies=[manage], responses={403: {}, 404: {}})
def add(collection_id: RowIdPath, body: Items, svc: Svc, principal: Who) -> dict:
    """Only assets the caller may read can be added (unknown ids are a 404, as usual)."""
    _get(svc, principal, collection_id, write=True)
    ids = [resolve_asset(svc, a, principal) for a in body.asset_ids]
    collections.add_items(svc.db, principal, collection_id, ids)
    return _view(svc, principal, _get(svc, principal, collection_id))


@router.delete("/{collection_id}/items/{asset_id}", dependencies=[manage])
def remove(collection_id: RowIdPath, asset_id: str, svc: Svc, principal: Who) -> dict:
    _get(svc, principal, collection_id, write=True)
    collections.remove_items(svc.db, principal, collection_id, [asset_id])
    return _view(svc, principal, _get(svc, principal, collection_id))


@router.post("/{collection_id}/shares", dependencies=[manage], responses={403: {}, 404: {}})
def share(
    collection_id: int, body: ShareRequest, request: Request, svc: Svc, principal: Who
) -> dict:
    """Share the collection (its members still show only what each reader may see)."""
    _get(svc, principal, collection_id, write=True)
    label = principal_label(svc.db, body)
    collections.share(svc.db, principal, collection_id, label)
    audit.record(
        svc.db,
        principal.actor,
        "collection_shared",
        f"collection:{collection_id}",
        address(request),
        to=label,
    )
    return _view(svc, principal, _get(svc, principal, collection_id))
