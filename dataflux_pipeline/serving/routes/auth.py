"""Signing in and out (OAuth2 password flow, refresh tokens), who am I, and my API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from dataflux_pipeline.accounts import audit, throttle
from dataflux_pipeline.accounts.tokens import TokenError
from dataflux_pipeline.accounts.users import (
    AccountError,
    authenticate,
    create_key,
    list_keys,
    revoke_key,
    user_by_id,
)
from dataflux_pipeline.serving.deps import AUTH_RESPONSES, RowIdPath, Svc, Who, address

router = APIRouter(prefix="/auth", tags=["accounts"], responses=AUTH_RESPONSES)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid.")


class Me(BaseModel):
    name: str
    kind: str
    role: str
    scopes: list[str]
    groups: list[int]


class KeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    scopes: list[str] = Field(default_factory=list, description="Default: all of yours.")


class KeyCreated(BaseModel):
    id: int
    key: str = Field(description="Shown once; store it now.")
    scopes: list[str]


@router.post(
    "/token", response_model=TokenPair, responses={401: {}, 429: {"description": "slow down"}}
)
def sign_in(
    request: Request, svc: Svc, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenPair:
    """OAuth2 password flow: a short-lived access token and a refresh token."""
    keys = [f"user:{form.username.lower()}", f"addr:{address(request)}"]
    wait = throttle.wait_s(svc.db, keys)
    if wait > 0:
        raise HTTPException(
            429,
            f"too many failed sign-ins; try again in {wait:.0f} s",
            {"Retry-After": str(int(wait) + 1)},
        )
    user = authenticate(svc.db, form.username, form.password)
    if user is None:
        throttle.failed(svc.db, keys)
        audit.record(svc.db, form.username[:128], "sign_in_failed", None, address(request))
        raise HTTPException(401, "wrong name or password, or the account is disabled")
    throttle.succeeded(svc.db, keys[0])
    issued = svc.auth.sessions.issue(user)
    audit.record(svc.db, f"user:{user.name}", "sign_in", None, address(request))
    return TokenPair(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


@router.post("/refresh", response_model=TokenPair, responses={401: {}})
def refresh(svc: Svc, refresh_token: Annotated[str, Form(max_length=200)]) -> TokenPair:
    """New tokens for a refresh token (which is used up: keep the new one)."""
    try:
        issued, _ = svc.auth.sessions.refresh(refresh_token)
    except TokenError as exc:
        raise HTTPException(401, str(exc)) from exc
    return TokenPair(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


@router.post("/logout", status_code=204, responses={401: {}})
def sign_out(
    request: Request,
    svc: Svc,
    principal: Who,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
) -> None:
    """Revoke this session: the refresh token's and the access token in hand."""
    claims = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth.count(".") == 2:
        try:
            claims = svc.auth.sessions.verify_access(auth[7:].strip())
        except TokenError:
            claims = None
    svc.auth.sessions.revoke(refresh_token, claims)
    audit.record(svc.db, principal.actor, "sign_out", None, address(request))


@router.get("/me", response_model=Me)
def me(principal: Who) -> Me:
    return Me(
        name=principal.name,
        kind=principal.kind,
        role=principal.role,
        scopes=sorted(principal.scopes),
        groups=sorted(principal.groups),
    )


def _user(svc, principal):
    user = user_by_id(svc.db, principal.user_id) if principal.user_id is not None else None
    if user is None:
        raise HTTPException(403, "API keys belong to a user; sign in as one")
    return user


@router.post("/keys", response_model=KeyCreated, status_code=201, responses={403: {}})
def new_key(body: KeyRequest, request: Request, svc: Svc, principal: Who) -> KeyCreated:
    """An API key of yours, with scopes no wider than yours; shown once."""
    try:
        created = create_key(svc.db, _user(svc, principal), body.name, body.scopes)
    except (AccountError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from exc
    audit.record(svc.db, principal.actor, "key_created", f"key:{created.id}", address(request))
    return KeyCreated(id=created.id, key=created.secret, scopes=created.scopes)


@router.get("/keys")
def keys(svc: Svc, principal: Who) -> list[dict]:
    return [
        {
            "id": k.id,
            "name": k.name,
            "scopes": k.scopes,
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
            "revoked": k.revoked_at is not None,
        }
        for k in list_keys(svc.db, _user(svc, principal).id)
    ]


@router.delete("/keys/{key_id}", status_code=204, responses={404: {}})
def drop_key(key_id: RowIdPath, request: Request, svc: Svc, principal: Who) -> None:
    if not revoke_key(svc.db, _user(svc, principal).id, key_id):
        raise HTTPException(404, f"no key {key_id} of yours")
    audit.record(svc.db, principal.actor, "key_revoked", f"key:{key_id}", address(request))
