"""Signing in and out over real HTTP: the OAuth2 password flow, refresh, sign-out,
API keys of one's own, guessing slowed down, and open mode said out loud."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dataflux_pipeline.accounts.users import add_user
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.settings import Settings
from tests.eval.harness import serve

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> Iterator[str]:
    settings = Settings(home=tmp_path_factory.mktemp("signin") / "data", access_token_ttl_s=60)
    db = Catalog.open(settings.database).db
    add_user(db, "ana", "editor", PASSWORD)
    add_user(db, "bo", "viewer", PASSWORD)
    with serve(settings) as base:
        yield base


def sign_in(url: str, name: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{url}/auth/token", data={"username": name, "password": password})


def test_sign_in_refresh_and_sign_out(url: str) -> None:
    tokens = sign_in(url, "ana").json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 60
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = httpx.get(f"{url}/auth/me", headers=auth).json()
    assert me["name"] == "ana" and me["role"] == "editor" and "assets:write" in me["scopes"]
    fresh = httpx.post(f"{url}/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
    assert fresh.status_code == 200
    again = httpx.post(f"{url}/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401 and "already used" in again.json()["detail"]
    new = fresh.json()
    new_auth = {"Authorization": f"Bearer {new['access_token']}"}
    # the replay revoked the whole session, including the refresh token just issued
    assert (
        httpx.post(f"{url}/auth/refresh", data={"refresh_token": new["refresh_token"]}).status_code
        == 401
    )
    out = httpx.post(f"{url}/auth/logout", headers=new_auth, data={})
    assert out.status_code == 204
    gone = httpx.get(f"{url}/auth/me", headers=new_auth)
    assert gone.status_code == 401 and "revoked" in gone.json()["detail"]


def test_no_credentials_and_wrong_ones_are_401_with_a_reason(url: str) -> None:
    health = httpx.get(f"{url}/health").json()
    assert health["auth"] == "accounts" and "index_rows" not in health
    resp = httpx.post(f"{url}/search", json={"query": "x"})
    assert resp.status_code == 401 and "sign in" in resp.json()["detail"]
    bad = httpx.get(f"{url}/assets", headers={"Authorization": "Bearer a.b.c"})
    assert bad.status_code == 401
    assert sign_in(url, "ana", "wrong password here").status_code == 401


def test_keys_of_ones_own_are_shown_once_and_never_wider(url: str) -> None:
    auth = {"Authorization": f"Bearer {sign_in(url, 'bo').json()['access_token']}"}
    wide = httpx.post(
        f"{url}/auth/keys", headers=auth, json={"name": "x", "scopes": ["assets:write"]}
    )
    assert wide.status_code == 422 and "cannot hold" in wide.json()["detail"][0]["msg"]
    made = httpx.post(f"{url}/auth/keys", headers=auth, json={"name": "laptop"}).json()
    assert made["scopes"] == ["assets:read"]
    with_key = {"X-API-Key": made["key"]}
    assert httpx.get(f"{url}/auth/me", headers=with_key).json()["name"] == "bo"
    listed = httpx.get(f"{url}/auth/keys", headers=auth).json()
    assert [k["name"] for k in listed] == ["laptop"] and "key" not in listed[0]
    assert httpx.delete(f"{url}/auth/keys/{made['id']}", headers=auth).status_code == 204
    assert httpx.get(f"{url}/auth/me", headers=with_key).status_code == 401


def test_guessing_a_password_is_slowed_down(url: str) -> None:
    statuses = [sign_in(url, "bo", f"guess number {n:03d}").status_code for n in range(7)]
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:]
    slowed = sign_in(url, "bo")  # even the right password waits its turn
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1


def test_open_mode_says_so(tmp_path) -> None:
    with serve(Settings(home=tmp_path / "data")) as base:
        assert httpx.get(f"{base}/health").json()["auth"] == "open"
        assert httpx.get(f"{base}/auth/me").json()["kind"] == "open"
