"""Who sees what, over real HTTP: every read endpoint x every kind of caller x every
relation to an asset x its visibility, generated from one table. A caller who may not
read an asset never learns it exists: 404 exactly as for an id that does not exist."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest

from dataflux_pipeline.accounts.users import add_user, create_key, set_groups
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.cli.ingest import ingest
from dataflux_pipeline.cli.samples import write_image
from dataflux_pipeline.settings import Settings
from tests.eval.harness import serve

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery staple"
# asset -> (visibility, shared with, caption words only it has)
ASSETS = {
    "private": ("private", None, "walrus lighthouse"),
    "to_sharee": ("shared", {"user": "sharee"}, "flamingo bakery"),
    "to_partners": ("shared", {"group": "partners"}, "glacier violin"),
    "public": ("public", None, "tractor orchard"),
}
# the one table: caller -> assets they may read
READS = {
    "admin": set(ASSETS),
    "owner": set(ASSETS),
    "sharee": {"to_sharee", "public"},
    "sharee_key": {"to_sharee", "public"},
    "member": {"to_partners", "public"},
    "stranger": {"public"},
}
ROLES = {"admin": "admin", "owner": "editor", "sharee": "viewer", "member": "viewer"}
ROLES["stranger"] = "viewer"


@dataclass
class World:
    url: str
    ids: dict[str, str]
    images: dict[str, bytes]
    headers: dict[str, dict[str, str]]

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers[who], timeout=60)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("matrix")
    # the landing folder belongs to `owner` and is private to them by default
    settings = Settings(
        home=root / "data",
        settle_seconds=0.0,
        index_refresh_s=0.0,
        landing_owner="owner",
        landing_visibility="private",
    )
    db = Catalog.open(settings.database).db
    for name, role in ROLES.items():
        add_user(db, name, role, PASSWORD)
    set_groups(db, add_user(db, "member2", "viewer", PASSWORD).id, ["partners"])
    set_groups(db, db_user(db, "member").id, ["partners"])
    (root / "dagster").mkdir()
    settings.landing.mkdir(parents=True)
    images = {}
    for n, (name, (_, _, words)) in enumerate(ASSETS.items()):
        path = write_image(settings.landing / f"{name}.jpg", (40 * n, 200 - 40 * n, 90), seed=n)
        (settings.landing / f"{name}.json").write_text(json.dumps({"title": words}))
        images[name] = path.read_bytes()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance, serve(settings) as url:
        assert not ingest(settings, instance).failed_runs
        headers = {name: bearer(url, name) for name in ROLES}
        headers["sharee_key"] = {
            "X-API-Key": create_key(db, db_user(db, "sharee"), "laptop", []).secret
        }
        with httpx.Client(base_url=url, headers=headers["owner"], timeout=60) as c:
            listed = c.get("/assets").json()["items"]
            ids = {i["file_name"].removesuffix(".jpg"): i["asset_id"] for i in listed}
            assert set(ids) == set(ASSETS)
            for name, (visibility, share, _) in ASSETS.items():
                if share:
                    assert c.post(f"/assets/{ids[name]}/shares", json=share).status_code == 200
                elif visibility == "public":
                    body = {"visibility": "public"}
                    assert c.put(f"/assets/{ids[name]}/visibility", json=body).status_code == 200
        yield World(url, ids, images, headers)


def db_user(db, name):
    from dataflux_pipeline.accounts.users import get_user

    return get_user(db, name)


def bearer(url: str, name: str) -> dict[str, str]:
    resp = httpx.post(f"{url}/auth/token", data={"username": name, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def reads(world: World, who: str, asset: str) -> dict[str, bool]:
    """Whether each read path shows `asset` to `who`."""
    aid = world.ids[asset]
    words = ASSETS[asset][2]
    with world.client(who) as c:
        detail = c.get(f"/assets/{aid}")
        prefix = c.get(f"/assets/{aid[:10]}")
        segment = c.get(f"/segments/{aid}:image:0")
        thumb = c.get(f"/thumbnails/{aid}")
        listed = {i["asset_id"] for i in c.get("/assets", params={"limit": 500}).json()["items"]}
        hits = c.post("/search", json={"query": words, "limit": 20}).json()["results"]
        similar = c.post("/similar", json={"asset_id": aid, "limit": 20})
        near = set()
        for other, image in world.images.items():  # found from anything else, or not
            if other == asset:
                continue
            r = c.post("/search/by-file", files={"file": ("o.jpg", image, "image/jpeg")})
            near |= {h["asset_id"] for h in r.json()["results"]}
            similar_other = c.post("/similar", json={"asset_id": world.ids[other], "limit": 20})
            if similar_other.status_code == 200:
                near |= {h["asset_id"] for h in similar_other.json()["results"]}
        by_file = c.post(
            "/search/by-file", files={"file": ("q.jpg", world.images[asset], "image/jpeg")}
        ).json()["results"]
    for resp in (detail, prefix, segment, thumb, similar):
        assert resp.status_code in (200, 404), (resp.status_code, resp.text)
    return {
        "detail": detail.status_code == 200,
        "prefix": prefix.status_code == 200,
        "segment": segment.status_code == 200,
        "thumbnail": thumb.status_code == 200,
        "listing": aid in listed,
        "search": aid in {h["asset_id"] for h in hits},
        "similar_from": similar.status_code == 200,
        "similar_to": aid in near,
        "by_file": aid in {h["asset_id"] for h in by_file},
    }


CASES = [(who, asset) for who in READS for asset in ASSETS]


@pytest.mark.parametrize(("who", "asset"), CASES, ids=[f"{w}-{a}" for w, a in CASES])
def test_every_read_path_agrees_with_the_table(world: World, who: str, asset: str) -> None:
    seen = reads(world, who, asset)
    expected = asset in READS[who]
    wrong = {path: shown for path, shown in seen.items() if shown != expected}
    assert not wrong, f"{who} on {asset}: expected {'shown' if expected else 'hidden'}"


def test_totals_count_only_what_the_caller_may_read(world: World) -> None:
    for who, allowed in READS.items():
        with world.client(who) as c:
            assert c.get("/assets").json()["total"] == len(allowed), who
            total = c.post("/search", json={"query": "photo", "limit": 100}).json()["total"]
            assert total <= len(allowed), who


def test_a_hidden_asset_looks_exactly_like_no_asset(world: World) -> None:
    hidden, missing = world.ids["private"], "f" * 64
    with world.client("stranger") as c:
        a, b = c.get(f"/assets/{hidden}"), c.get(f"/assets/{missing}")
        assert a.status_code == b.status_code == 404
        assert a.json()["detail"].replace(hidden, "X") == b.json()["detail"].replace(missing, "X")
        assert c.get(f"/assets/{hidden[:8]}").status_code == 404  # a prefix says nothing
        assert c.put(f"/assets/{hidden}/visibility", json={"visibility": "public"}).status_code in (
            403,
            404,
        )
        samples = {hidden: [], missing: []}
        for _ in range(25):
            for ident in samples:
                t0 = time.perf_counter()
                c.get(f"/assets/{ident}")
                samples[ident].append(time.perf_counter() - t0)
    a_ms, b_ms = (statistics.median(v) * 1000 for v in samples.values())
    assert abs(a_ms - b_ms) < max(2.0, 0.5 * min(a_ms, b_ms)), (a_ms, b_ms)


def test_only_owners_and_admins_change_an_asset(world: World) -> None:
    public = world.ids["public"]
    body = {"visibility": "public"}
    with world.client("stranger") as c:
        assert c.put(f"/assets/{public}/visibility", json=body).status_code == 403
        assert c.delete(f"/assets/{public}").status_code == 403  # a viewer lacks the scope
        assert c.post("/assets", files={"file": ("a.txt", b"x", "text/plain")}).status_code == 403
    with world.client("owner") as c:
        assert c.put(f"/assets/{public}/visibility", json=body).status_code == 200
    with world.client("admin") as c:
        assert c.put(f"/assets/{public}/visibility", json=body).status_code == 200


def test_a_collection_shows_its_reader_only_what_they_may_read(world: World) -> None:
    with world.client("owner") as c:
        made = c.post("/collections", json={"name": "trip"}).json()
        ids = [world.ids["private"], world.ids["to_partners"], world.ids["public"]]
        c.post(f"/collections/{made['id']}/items", json={"asset_ids": ids})
        c.post(f"/collections/{made['id']}/shares", json={"group": "partners"})
        within = c.post("/search", json={"query": "walrus lighthouse", "collection_id": made["id"]})
        assert world.ids["private"] in {h["asset_id"] for h in within.json()["results"]}
    with world.client("member") as c:
        seen = c.get(f"/collections/{made['id']}").json()["asset_ids"]
        assert set(seen) == {world.ids["to_partners"], world.ids["public"]}
        hits = c.post("/search", json={"query": "walrus lighthouse", "collection_id": made["id"]})
        assert world.ids["private"] not in {h["asset_id"] for h in hits.json()["results"]}
        assert c.delete(f"/collections/{made['id']}").status_code == 403
    with world.client("stranger") as c:
        assert c.get(f"/collections/{made['id']}").status_code == 404
        resp = c.post("/search", json={"query": "x", "collection_id": made["id"]})
        assert resp.status_code == 404


def test_feedback_is_stored_and_exported(world: World, tmp_path: Path) -> None:
    with world.client("sharee") as c:
        body = {"query": "pink bird", "asset_id": world.ids["to_sharee"], "relevant": True}
        assert c.post("/feedback", json=body).status_code == 201
        hidden = {"query": "x", "asset_id": world.ids["private"], "relevant": False}
        assert c.post("/feedback", json=hidden).status_code == 404
