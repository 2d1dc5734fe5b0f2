"""What a page of another site cannot make a browser do to this service, over real HTTP:
sign the browser in as someone else, or, in open mode, reach the service under a host
name of the attacker's (DNS rebinding)."""

from __future__ import annotations

from pathlib import Path

import httpx

from dataflux_pipeline.accounts.users import add_user
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.settings import Settings
from tests.eval.harness import serve

PASSWORD = "correct horse battery staple"
ELSEWHERE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


def test_a_page_elsewhere_cannot_sign_the_browser_in(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "data")
    add_user(Catalog.open(settings.database).db, "mallory", "editor", PASSWORD)
    form = {"username": "mallory", "password": PASSWORD}
    with serve(settings) as url:
        forged = httpx.post(f"{url}/auth/session", data=form, headers=ELSEWHERE)
        assert forged.status_code == 403 and "dataflux_session" not in forged.cookies
        ours = httpx.post(
            f"{url}/auth/session", data=form, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert ours.status_code == 200 and ours.json()["name"] == "mallory"


def test_open_mode_answers_a_browser_only_at_addresses_and_localhost(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "data")
    with serve(settings) as url:
        port = url.rsplit(":", 1)[1]
        page = {"Sec-Fetch-Site": "same-origin"}  # what a rebound page's requests say
        rebound = httpx.get(f"{url}/assets", headers=page | {"Host": f"rebind.evil.example:{port}"})
        assert rebound.status_code == 401 and "rebinding" in rebound.json()["detail"]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            assert httpx.get(f"{url}/assets", headers=page | {"Host": host}).status_code == 200
        # a program (no Origin, no Sec-Fetch-Site) is no browser, whatever name it used
        assert httpx.get(f"{url}/assets", headers={"Host": "laptop.lan"}).status_code == 200
