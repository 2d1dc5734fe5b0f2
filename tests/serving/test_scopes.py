"""Scope checks and who-is-asking, without a socket: the route dependency answers 401
without credentials, 403 without the scope, and passes the principal on."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from dataflux_pipeline.accounts.principals import (
    LEGACY_SCOPES,
    OPEN,
    ROLE_SCOPES,
    Principal,
    normalize_scopes,
)
from dataflux_pipeline.serving.deps import Who, require
from dataflux_pipeline.serving.security import Unauthorized


class StubAuth:
    def __init__(self, principals: dict[str, Principal], open_mode: bool = False) -> None:
        self.principals, self.open = principals, open_mode

    def authenticate(self, headers, cookies=None, unsafe=False) -> Principal:
        key = headers.get("x-api-key")
        if key is None:
            if self.open:
                return OPEN
            raise Unauthorized("sign in")
        if key not in self.principals:
            raise Unauthorized("unknown API key")
        return self.principals[key]


def app(auth: StubAuth) -> TestClient:
    from types import SimpleNamespace

    api = FastAPI()
    router = APIRouter(dependencies=[Depends(require("upload"))])

    @router.post("/write")
    def write(principal: Who) -> dict:
        return {"name": principal.name}

    api.include_router(router)
    api.state.service = SimpleNamespace(auth=auth)
    return TestClient(api)


def user(role: str, scopes=None) -> Principal:
    return Principal("user", role, role, scopes or ROLE_SCOPES[role], user_id=7)


def test_scope_checks() -> None:
    client = app(StubAuth({"v": user("viewer"), "e": user("editor")}))
    assert client.post("/write").status_code == 401
    assert client.post("/write", headers={"X-API-Key": "nope"}).status_code == 401
    refused = client.post("/write", headers={"X-API-Key": "v"})
    assert refused.status_code == 403 and "assets:write" in refused.json()["detail"]
    assert client.post("/write", headers={"X-API-Key": "e"}).json() == {"name": "editor"}


def test_open_mode_is_everything_a_single_person_needs() -> None:
    client = app(StubAuth({}, open_mode=True))
    assert client.post("/write").json() == {"name": "local"}
    assert OPEN.unrestricted and OPEN.can("users:manage")


def test_roles_nest_and_old_scope_names_still_mean_something() -> None:
    assert ROLE_SCOPES["viewer"] < ROLE_SCOPES["editor"] < ROLE_SCOPES["admin"]
    assert normalize_scopes(["search", "upload"]) == {"assets:read", "assets:write"}
    assert set(LEGACY_SCOPES.values()) <= ROLE_SCOPES["admin"]
    viewer = user("viewer")
    assert viewer.readers == {"public", "u:7"} and not viewer.unrestricted
