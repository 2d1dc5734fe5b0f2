"""Managing accounts over real HTTP: an admin changes roles, never so that no enabled
admin is left."""

from __future__ import annotations

from pathlib import Path

import httpx

from dataflux_pipeline.accounts.users import add_user, create_key
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.settings import Settings
from tests.eval.harness import serve


def test_an_admin_cannot_leave_the_deployment_without_one(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "data")
    db = Catalog.open(settings.database).db
    key = create_key(db, add_user(db, "root", "admin", None), "laptop", []).secret
    with serve(settings) as url, httpx.Client(base_url=url, headers={"X-API-Key": key}) as c:
        for change in ({"role": "viewer"}, {"disabled": True}):
            refused = c.patch("/users/root", json=change)
            assert refused.status_code == 409 and "last admin" in refused.json()["detail"]
        assert c.get("/users").status_code == 200  # still an admin
        made = c.post("/users", json={"name": "deputy", "role": "admin", "password": "x" * 16})
        assert made.status_code == 201, made.text
        demoted = c.patch("/users/root", json={"role": "editor"})
        assert demoted.status_code == 200 and demoted.json()["role"] == "editor"
