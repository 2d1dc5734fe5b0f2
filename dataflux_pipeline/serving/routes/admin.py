"""For admins: users and their roles, groups, and the audit log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from dataflux_pipeline.accounts import audit
from dataflux_pipeline.accounts.users import (
    AccountError,
    LastAdmin,
    add_user,
    get_user,
    list_users,
    set_groups,
    update_user,
)
from dataflux_pipeline.serving.deps import AUTH_RESPONSES, Svc, Who, address, require

router = APIRouter(
    tags=["admin"], dependencies=[Depends(require("users:manage"))], responses=AUTH_RESPONSES
)
audit_router = APIRouter(
    tags=["admin"], dependencies=[Depends(require("audit:read"))], responses=AUTH_RESPONSES
)
Role = Literal["admin", "editor", "viewer"]


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    role: Role = "viewer"
    password: str = Field(min_length=10, max_length=1024)
    groups: list[str] = Field(default_factory=list, max_length=50)


class UserChange(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=10, max_length=1024)
    groups: list[str] | None = Field(None, max_length=50)


def _view(svc, user) -> dict:
    from dataflux_pipeline.accounts.users import group_ids

    return {
        "id": user.id,
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "external": user.subject is not None,
        "groups": sorted(group_ids(svc.db, user.id)),
    }


@router.get("/users")
def users(svc: Svc) -> list[dict]:
    return [_view(svc, u) for u in list_users(svc.db)]


@router.post("/users", status_code=201, responses={409: {}})
def create_user(body: NewUser, request: Request, svc: Svc, principal: Who) -> dict:
    try:
        user = add_user(svc.db, body.name, body.role, body.password)
    except AccountError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from exc
    if body.groups:
        set_groups(svc.db, user.id, body.groups)
    svc.auth.accounts_changed()
    audit.record(
        svc.db, principal.actor, "user_created", body.name, address(request), role=body.role
    )
    return _view(svc, user)


@router.patch("/users/{name}", responses={404: {}, 409: {}})
def change_user(name: str, body: UserChange, request: Request, svc: Svc, principal: Who) -> dict:
    """409 for a change that would leave no enabled admin."""
    if get_user(svc.db, name) is None:
        raise HTTPException(404, f"no user {name!r}")
    try:
        user = update_user(svc.db, name, body.role, body.disabled, body.password)
    except LastAdmin as exc:
        raise HTTPException(409, str(exc)) from exc
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    if body.groups is not None:
        set_groups(svc.db, user.id, body.groups)
    if body.disabled or body.password:
        svc.auth.sessions.revoke_user(user.id)
    changes = body.model_dump(exclude_none=True, exclude={"password"})
    if body.password:
        changes["password"] = "reset"
    audit.record(svc.db, principal.actor, "user_changed", name, address(request), **changes)
    return _view(svc, user)


@audit_router.get("/audit")
def audit_log(
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    action: Annotated[str | None, Query(max_length=48)] = None,
) -> dict:
    """Sign-ins, uploads, deletions, shares, role and key changes; newest first."""
    rows, more = audit.entries(svc.db, limit, offset, action)
    return {
        "items": [
            {
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
                "address": r.address,
                "detail": r.detail,
            }
            for r in rows
        ],
        "more": more,
    }
