"""People the face clustering found (opt-in face recognition): list, name, merge, and
`POST /search` with `person_id` finds what shows them. Only faces in assets the caller
may read are counted or shown; a person with none is not listed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from dataflux_pipeline.accounts import audit
from dataflux_pipeline.catalog import people
from dataflux_pipeline.serving.deps import (
    AUTH_RESPONSES,
    RowIdPath,
    Svc,
    Who,
    address,
    require,
)
from dataflux_pipeline.serving.schemas import RowId

router = APIRouter(
    prefix="/people",
    tags=["people"],
    dependencies=[Depends(require("assets:read"))],
    responses=AUTH_RESPONSES,
)
write = [Depends(require("assets:write"))]


class Naming(BaseModel):
    name: str | None = Field(None, max_length=200, description="Empty clears the name.")


class Merge(BaseModel):
    other_id: RowId = Field(description="Folded into this person.")


def _listing(svc, principal) -> dict[int, dict]:
    names = people.names(svc.live)
    out = {}
    for person_id, faces in people.faces_by_person(
        svc.live, svc.catalog.visible_ids(principal)
    ).items():
        out[person_id] = {
            "id": person_id,
            "name": names.get(person_id),
            "faces": len(faces),
            "assets": sorted({f.asset_id for f in faces}),
            "face_thumbnail_url": f"/thumbnails/{faces[0].segment_id}",
        }
    return out


@router.get("")
def list_people(svc: Svc, principal: Who) -> list[dict]:
    listed = _listing(svc, principal)
    return sorted(listed.values(), key=lambda p: (-p["faces"], p["id"]))


@router.get("/{person_id}", responses={404: {}})
def get_person(person_id: RowIdPath, svc: Svc, principal: Who) -> dict:
    found = _listing(svc, principal).get(person_id)
    if found is None:
        raise HTTPException(404, f"person {person_id} not found")
    return found


@router.patch("/{person_id}", dependencies=write, responses={404: {}})
def name_person(
    person_id: RowIdPath, body: Naming, request: Request, svc: Svc, principal: Who
) -> dict:
    get_person(person_id, svc, principal)
    people.rename(svc.live, person_id, body.name)
    audit.record(svc.db, principal.actor, "person_named", f"person:{person_id}", address(request))
    return get_person(person_id, svc, principal)


@router.post("/{person_id}/merge", dependencies=write, responses={404: {}})
def merge_people(
    person_id: RowIdPath, body: Merge, request: Request, svc: Svc, principal: Who
) -> dict:
    """Two people found are the same person: their faces become one person's."""
    get_person(person_id, svc, principal)
    get_person(body.other_id, svc, principal)
    people.merge(svc.live, person_id, body.other_id)
    svc.catalog.invalidate()
    audit.record(
        svc.db,
        principal.actor,
        "people_merged",
        f"person:{person_id}",
        address(request),
        merged=body.other_id,
    )
    return get_person(person_id, svc, principal)
