"""API keys and scopes (serving.auth.require) on a tiny app with the service's own error
handlers, through TestClient: no socket, no catalog."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from dataflux_pipeline.serving.app import install_errors
from dataflux_pipeline.serving.auth import require, scopes_of

KEYS = {"reader-key": ["search"], "writer-key": ["upload"], "admin-key": ["search", "upload"]}


def client(keys: dict[str, list[str]]) -> TestClient:
    app = FastAPI()
    install_errors(app)
    app.state.settings = SimpleNamespace(api_keys=keys)

    @app.get("/find", dependencies=[Depends(require("search"))])
    def find() -> dict:
        return {"ok": "search"}

    @app.post("/put", dependencies=[Depends(require("upload"))])
    def put() -> dict:
        return {"ok": "upload"}

    @app.get("/open")
    def open_route() -> dict:
        return {"ok": "open"}

    return TestClient(app)


@pytest.fixture
def keyed() -> TestClient:
    return client(KEYS)


def test_no_key_is_401_with_a_challenge(keyed: TestClient) -> None:
    for resp in (keyed.get("/find"), keyed.post("/put")):
        assert resp.status_code == 401
        assert resp.json() == {
            "error": "unauthorized",
            "detail": "an API key is required (X-API-Key header)",
        }
        assert resp.headers["www-authenticate"] == "Bearer"
    assert keyed.get("/find", headers={"X-API-Key": ""}).status_code == 401
    assert keyed.get("/open").json() == {"ok": "open"}  # a route without the dependency


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "nope"},
        {"X-API-Key": "reader-ke"},  # a prefix of a key
        {"X-API-Key": "reader-key2"},  # a key with more after it
        {"X-API-Key": "READER-KEY"},
        {"Authorization": "Bearer nope"},
    ],
)
def test_a_wrong_key_is_401(keyed: TestClient, headers: dict) -> None:
    resp = keyed.get("/find", headers=headers)
    assert resp.status_code == 401
    assert resp.json() == {"error": "unauthorized", "detail": "unknown API key"}
    assert resp.headers["www-authenticate"] == "Bearer"


def test_a_key_without_the_scope_is_403(keyed: TestClient) -> None:
    resp = keyed.post("/put", headers={"X-API-Key": "reader-key"})
    assert resp.status_code == 403
    assert resp.json() == {"error": "forbidden", "detail": "this API key lacks the 'upload' scope"}
    resp = keyed.get("/find", headers={"Authorization": "Bearer writer-key"})
    assert resp.status_code == 403 and "'search'" in resp.json()["detail"]


def test_a_key_with_the_scope_passes_as_header_or_bearer(keyed: TestClient) -> None:
    assert keyed.get("/find", headers={"X-API-Key": "reader-key"}).json() == {"ok": "search"}
    assert keyed.post("/put", headers={"X-API-Key": "writer-key"}).json() == {"ok": "upload"}
    admin = {"Authorization": "Bearer admin-key"}
    assert keyed.get("/find", headers=admin).status_code == 200
    assert keyed.post("/put", headers=admin).status_code == 200
    # the X-API-Key header is asked first: a valid bearer does not rescue a wrong header
    both = {"X-API-Key": "nope", "Authorization": "Bearer admin-key"}
    assert keyed.get("/find", headers=both).status_code == 401
    basic = {"Authorization": "Basic YWRtaW4ta2V5"}  # not a bearer token: no key given
    assert keyed.get("/find", headers=basic).status_code == 401


def test_open_mode_without_keys() -> None:
    open_client = client({})
    assert open_client.get("/find").json() == {"ok": "search"}
    assert open_client.post("/put").json() == {"ok": "upload"}
    assert open_client.get("/find", headers={"X-API-Key": "anything"}).status_code == 200


def testscopes_of_compares_whole_keys() -> None:
    assert scopes_of(KEYS, "admin-key") == ["search", "upload"]
    assert scopes_of(KEYS, "admin") is None and scopes_of(KEYS, "admin-key ") is None
    assert scopes_of({}, "admin-key") is None
    assert scopes_of({"k\u00e9y": ["search"]}, "k\u00e9y") == ["search"]  # non-ASCII keys
