"""Who controls a content, over real HTTP: only its owners (and admins) delete, publish and
re-analyze it; who uploads bytes that someone else owns may read them, nothing more."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dataflux_pipeline.accounts.principals import user_label
from dataflux_pipeline.accounts.users import add_user, create_key
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset, AssetAccess
from dataflux_pipeline.cli.samples import write_image
from dataflux_pipeline.settings import Settings
from tests.eval.harness import serve


@dataclass
class Team:
    url: str
    keys: dict[str, str]
    labels: dict[str, str]
    photo: bytes  # alice's private photo
    private: str
    public: str

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.keys[who]}, timeout=30)


def _owned(catalog: Catalog, content: bytes, name: str, owner: str, visibility: str) -> str:
    asset_id = hashlib.sha256(content).hexdigest()
    with catalog.session() as s:
        s.add(
            Asset(
                asset_id=asset_id,
                media_type="image",
                mime_type="image/jpeg",
                size_bytes=len(content),
                source_id="landing",
                path=name,
                file_name=name,
                status="indexed",
                live=True,
                visibility=visibility,
                details={},
                analyzers={},
            )
        )
        s.add(AssetAccess(asset_id=asset_id, principal=owner, relation="owner"))
        Catalog.bump(s)
    return asset_id


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    settings = Settings(home=tmp_path / "data", settle_seconds=0.0, index_refresh_s=0.0)
    settings.landing.mkdir(parents=True)
    catalog = Catalog.open(settings.database)
    users = {n: add_user(catalog.db, n, "editor", None) for n in ("alice", "bob", "carol")}
    keys = {n: create_key(catalog.db, u, "laptop", []).secret for n, u in users.items()}
    labels = {n: user_label(u.id) for n, u in users.items()}
    photo = write_image(tmp_path / "harbour.jpg", (30, 90, 160), seed=3).read_bytes()
    other = write_image(tmp_path / "field.jpg", (160, 150, 40), seed=4).read_bytes()
    private = _owned(catalog, photo, "harbour.jpg", labels["alice"], "private")
    public = _owned(catalog, other, "field.jpg", labels["alice"], "public")
    with serve(settings) as url:
        yield Team(url, keys, labels, photo, private, public)


def test_only_owners_reanalyze_delete_or_publish(team: Team) -> None:
    with team.client("bob") as bob:
        assert bob.get(f"/assets/{team.public}").status_code == 200  # bob may read it
        refused = bob.post(f"/assets/{team.public}/analyze")
        assert refused.status_code == 403 and "owners" in refused.json()["detail"]
        assert bob.delete(f"/assets/{team.public}").status_code == 403
        body = {"visibility": "private"}
        assert bob.put(f"/assets/{team.public}/visibility", json=body).status_code == 403
    with team.client("alice") as alice:
        assert alice.post(f"/assets/{team.public}/analyze").status_code == 202


def test_uploading_someone_elses_bytes_gives_reading_not_control(team: Team) -> None:
    with team.client("bob") as bob:
        assert bob.get(f"/assets/{team.private}").status_code == 404
        up = bob.post("/assets", files={"file": ("mine.jpg", team.photo, "image/jpeg")})
        assert up.status_code == 202 and up.json()["asset_id"] == team.private
        seen = bob.get(f"/assets/{team.private}")
        assert seen.status_code == 200 and seen.json()["access"] is None  # owners hidden
        assert bob.delete(f"/assets/{team.private}").status_code == 403
        body = {"visibility": "public"}
        assert bob.put(f"/assets/{team.private}/visibility", json=body).status_code == 403
        assert bob.post(f"/assets/{team.private}/analyze").status_code == 403
    with team.client("alice") as alice:
        access = alice.get(f"/assets/{team.private}").json()["access"]
        assert access["visibility"] == "private"
        assert access["owners"] == [team.labels["alice"]]
        assert access["held_by"] == [team.labels["bob"]]
    with team.client("carol") as carol:  # still private to everyone else
        assert carol.get(f"/assets/{team.private}").status_code == 404


def test_the_first_of_two_uploads_before_the_intake_owns(tmp_path: Path) -> None:
    from dataflux_pipeline.catalog.access import access_of, apply_intents, record_upload

    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}")
    record_upload(catalog, "c" * 64, "u:1", "private")
    record_upload(catalog, "c" * 64, "u:2", "public")  # the same bytes, a moment later
    with catalog.session() as s:
        asset = Asset(asset_id="c" * 64, status="cataloged", details={}, analyzers={})
        s.add(asset)
        s.flush()
        apply_intents(s, asset, [], "public")
    access = access_of(catalog, "c" * 64)
    assert access["owners"] == ["u:1"] and access["held_by"] == ["u:2"]
    assert access["visibility"] == "private"  # the owner's choice, not the later one's
