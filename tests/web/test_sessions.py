"""Cookie sessions for the pages, without a browser: the cookies' attributes, the CSRF
token a change must carry (and bearer tokens and API keys that need none), renewal and
sign-out; in open mode, a page of another site may not change anything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dataflux_pipeline.accounts.users import add_user
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.serving.app import create_app
from dataflux_pipeline.settings import Settings
from tests.web.conftest import PASSWORD


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path_factory.mktemp("sessions") / "data")
    add_user(Catalog.open(settings.database).db, "ana", "editor", PASSWORD)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:
        yield c


def sign_in(client: TestClient) -> str:
    client.cookies.clear()
    resp = client.post("/auth/session", data={"username": "ana", "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return resp.json()["csrf_token"]


def test_sign_in_sets_strict_http_only_cookies_and_no_token_in_the_body(client) -> None:
    client.cookies.clear()
    resp = client.post("/auth/session", data={"username": "ana", "password": PASSWORD})
    body = resp.json()
    assert set(body) == {"name", "role", "csrf_token", "expires_in"}
    cookies = {c.split("=", 1)[0]: c.lower() for c in resp.headers.get_list("set-cookie")}
    for name in ("dataflux_session", "dataflux_refresh"):
        assert "httponly" in cookies[name] and "samesite=strict" in cookies[name]
    assert "path=/auth/session" in cookies["dataflux_refresh"]
    assert (
        "httponly" not in cookies["dataflux_csrf"] and "samesite=strict" in cookies["dataflux_csrf"]
    )
    assert client.get("/auth/me").json()["name"] == "ana"  # reads need no token
    wrong = client.post("/auth/session", data={"username": "ana", "password": "not it at all"})
    assert wrong.status_code == 401


def test_changes_by_cookie_need_the_csrf_token(client) -> None:
    csrf = sign_in(client)
    body = {"name": "trips"}
    refused = client.post("/collections", json=body)
    assert refused.status_code == 401 and "X-CSRF-Token" in refused.json()["detail"]
    forged = client.post("/collections", json=body, headers={"X-CSRF-Token": "abc.def"})
    assert forged.status_code == 401
    made = client.post("/collections", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    # a token minted for another user does not pass, even repeated in both places
    other = client.app.state.service.auth.csrf_token(user_id=999)
    client.cookies.set("dataflux_csrf", other)
    assert (
        client.post("/collections", json=body, headers={"X-CSRF-Token": other}).status_code == 401
    )
    client.cookies.set("dataflux_csrf", csrf)


def test_bearer_tokens_and_keys_need_no_csrf_token(client) -> None:
    client.cookies.clear()
    tokens = client.post("/auth/token", data={"username": "ana", "password": PASSWORD}).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/collections", json={"name": "b"}, headers=bearer).status_code == 201
    key = client.post("/auth/keys", json={"name": "k"}, headers=bearer).json()["key"]
    made = client.post("/collections", json={"name": "k"}, headers={"X-API-Key": key})
    assert made.status_code == 201


def test_renewal_rotates_and_sign_out_ends_the_session(client) -> None:
    csrf = sign_in(client)
    assert client.post("/auth/session/refresh").status_code == 401  # no CSRF header
    csrf = sign_in(client)
    renewed = client.post("/auth/session/refresh", headers={"X-CSRF-Token": csrf})
    assert renewed.status_code == 200 and renewed.json()["name"] == "ana"
    out = client.delete("/auth/session", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert client.get("/auth/me").status_code == 401
    assert client.post("/auth/session/refresh", headers={"X-CSRF-Token": csrf}).status_code == 401


def test_pages_carry_a_policy_without_inline_scripts(client) -> None:
    for path in ("/", "/upload", "/library", "/overview", "/asset/0123456789abcdef"):
        page = client.get(path)
        policy = page.headers["content-security-policy"]
        assert page.status_code == 200 and '<script type="module"' in page.text
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    docs = client.get("/docs")
    assert "/static/apidocs/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
    script_src = docs.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    assert "'sha256-" in script_src and "unsafe-inline" not in script_src
    assert client.get("/static/apidocs/redoc.standalone.js").status_code == 200
    assert client.get("/health").headers["x-content-type-options"] == "nosniff"


def test_open_mode_refuses_changes_from_other_sites(tmp_path) -> None:
    # a browser reaches an open-mode service at an address (a name would be DNS rebinding)
    app = create_app(Settings(home=tmp_path / "data"))
    with TestClient(app, base_url="http://127.0.0.1:8000") as open_client:
        cross = {"Sec-Fetch-Site": "cross-site"}
        refused = open_client.post("/collections", json={"name": "x"}, headers=cross)
        assert refused.status_code == 401
        same = {"Sec-Fetch-Site": "same-origin"}
        assert open_client.post("/feedback", json={}, headers=same).status_code == 422
        assert open_client.get("/assets", headers=cross).status_code == 200  # reads are fine
