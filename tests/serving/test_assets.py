"""The catalog endpoints, uploads through the uploads area and the real pipeline, deletion
and its purge, API keys, health and metrics, against a private copy of the eval catalog.
The catalog is built by an ingest and some tests ingest more, so the module is slow."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import dagster as dg
import httpx
import polars as pl
import pytest
from PIL import Image

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.cli.ingest import ingest
from dataflux_pipeline.cli.samples import near_duplicate
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.index import IndexReader
from dataflux_pipeline.storage.schemas import TABLES
from dataflux_pipeline.storage.tables import TableStore
from tests.eval import harness

pytestmark = pytest.mark.slow


@dataclass
class Env:
    settings: Settings
    instance: dg.DagsterInstance
    url: str
    ids: dict[str, str]

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, timeout=60, **kwargs)

    def upload(self, name: str, content: bytes, **kwargs) -> httpx.Response:
        return httpx.post(self.url + "/assets", files={"file": (name, content)}, **kwargs)

    def delete(self, ident: str) -> httpx.Response:
        return httpx.delete(f"{self.url}/assets/{ident}", timeout=60)

    def search_ids(self, query: str, **body) -> list[str]:
        resp = httpx.post(self.url + "/search", json={"query": query, **body}, timeout=60)
        assert resp.status_code == 200, resp.text
        return [r["asset_id"] for r in resp.json()["results"]]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("catalog")
    settings = harness.copy_catalog(root)
    _, _, partition = harness.catalog()
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        instance.add_dynamic_partitions("batches", [partition])  # already ingested
        with harness.serve(settings) as url:
            yield Env(settings, instance, url, harness.asset_ids(settings))


def wait_for_state(env: Env, asset_id: str, state: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while env.get(f"/assets/{asset_id}").json()["state"] != state:
        assert time.monotonic() < deadline, f"{asset_id} never reached {state}"
        time.sleep(0.2)


def rows_of(settings: Settings, asset_id: str) -> dict[str, int]:
    """Rows of one content in every Parquet table that has any."""
    tables = TableStore(settings.tables)
    out = {}
    for table in TABLES:
        if not tables.files(table):
            continue
        if table == "relationships":
            mine = (pl.col("source_id").str.slice(0, 64) == asset_id) | (
                pl.col("target_id").str.slice(0, 64) == asset_id
            )
        else:
            mine = pl.col("asset_id") == asset_id
        n = tables.scan(table).filter(mine).select(pl.len()).collect().item()
        if n:
            out[table] = n
    return out


def index_rows(settings: Settings, asset_id: str) -> dict[str, int]:
    index = IndexReader(settings.lancedb)  # a fresh handle sees the newest version
    where = f"asset_id = '{asset_id}'"
    found = {space: len(index.segment_ids(space, where)) for space in index.spaces()}
    return {space: n for space, n in found.items() if n}


def test_asset_list_pages_and_filters(env: Env) -> None:
    everything = env.get("/assets").json()
    assert everything["total"] == 41 and len(everything["items"]) == 41
    assert {i["state"] for i in everything["items"]} == {"completed"}
    page = env.get("/assets", params={"limit": 5, "offset": 5}).json()
    assert [i["asset_id"] for i in page["items"]] == [
        i["asset_id"] for i in everything["items"][5:10]
    ]
    images = env.get("/assets", params={"media_type": "image"}).json()
    assert images["total"] == 8 and {i["mime_type"] for i in images["items"]} == {"image/jpeg"}
    markdown = env.get("/assets", params={"mime_type": "text/markdown"}).json()
    assert markdown["total"] == len(list(harness.CORPUS.glob("*.md")))
    assert env.get("/assets", params={"status": "failed"}).json()["total"] == 0
    assert env.get("/assets", params={"status": ["indexed", "queued"]}).json()["total"] == 41
    assert env.get("/assets", params={"limit": 0}).status_code == 422


def test_asset_detail_has_segments_features_sidecars(env: Env) -> None:
    fox = env.ids["red_fox_snow"]
    detail = env.get(f"/assets/{fox}").json()
    assert detail["state"] == "completed" and detail["asset"]["status"] == "indexed"
    kinds = sorted(s["kind"] for s in detail["segments"])
    assert kinds == ["description", "image"]
    image = detail["features"]["features_image"][0]
    assert (
        (image["width"], image["height"])
        == (320, 240)
        == (
            detail["asset"]["width"],
            detail["asset"]["height"],
        )
    )
    assert [s["kind"] for s in detail["sidecars"]] == ["metadata"]
    assert detail["sidecars"][0]["uri"] == "landing:red_fox_snow.json"
    assert detail["near_duplicates"] == []
    assert detail["uris"] == ["landing:red_fox_snow.jpg"]  # <source>:<relative path>
    thumb = env.get(detail["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    segment = next(s for s in detail["segments"] if s["kind"] == "image")
    by_segment = env.get(f"/thumbnails/{segment['segment_id']}")
    assert by_segment.content == thumb.content


def test_asset_by_id_prefix(env: Env) -> None:
    fox = env.ids["red_fox_snow"]
    short = env.get(f"/assets/{fox[:8]}")
    assert short.status_code == 200, short.text
    assert short.json()["asset"]["asset_id"] == fox and short.json()["state"] == "completed"
    assert env.get(f"/assets/{fox[:7]}").status_code == 422  # under 8 hex characters
    assert env.get(f"/assets/{fox[:7]}g").status_code == 422  # not hex
    # the whole string must be an id: a trailing newline is not ignored (re.fullmatch)
    for ident in (fox + "\n", fox[:8] + "\n", fox + "x"):
        resp = env.get("/assets/" + quote(ident))
        assert resp.status_code == 422, (ident, resp.text)
        assert resp.json()["error"] == "unprocessable_entity"
    unknown = next(
        c * 8 for c in "0123456789" if not any(a.startswith(c * 8) for a in env.ids.values())
    )
    assert env.get(f"/assets/{unknown}").json()["error"] == "not_found"
    # a second content under the same 8 characters: while it is not live the short
    # prefix still names the fox (only readable contents count); once live, the
    # prefix is ambiguous and a longer one still resolves
    twin = fox[:8] + ("0" if fox[8] != "0" else "1") + fox[9:]
    with Catalog.open(env.settings.database).session() as s:
        s.add(Asset(asset_id=twin, status="indexed", live=False, file_name="gone.jpg"))
    assert env.get(f"/assets/{fox[:8]}").json()["asset"]["asset_id"] == fox
    assert env.get(f"/assets/{twin}").status_code == 404  # known, but not live
    with Catalog.open(env.settings.database).session() as s:
        s.get(Asset, twin).live = True
        Catalog.bump(s)  # as every catalog write does: the service reloads its view
    deadline = time.monotonic() + 10  # the service looks at the catalog once a second
    while (ambiguous := env.get(f"/assets/{fox[:8]}")).status_code == 200:
        assert time.monotonic() < deadline, "the service never saw the twin go live"
        time.sleep(0.2)
    assert ambiguous.status_code == 409, ambiguous.text
    assert sorted(ambiguous.json()["detail"]["candidates"]) == sorted([fox, twin])
    assert env.get(f"/assets/{fox[:9]}").json()["asset"]["asset_id"] == fox
    with Catalog.open(env.settings.database).session() as s:  # later tests count assets
        s.delete(s.get(Asset, twin))
        Catalog.bump(s)
    time.sleep(1.1)


def test_segment_detail_and_errors(env: Env) -> None:
    chunk = f"{env.ids['sourdough_baking']}:chunk:0"
    seg = env.get(f"/segments/{chunk}").json()
    assert seg["kind"] == "chunk" and "sourdough" in seg["text"].lower()
    assert seg["spaces"] == ["text"]
    assert seg["features"]["features_document"][0]["word_count"] > 50
    assert env.get(f"/segments/{env.ids['sourdough_baking']}:chunk:99").status_code == 404
    assert env.get("/segments/nonsense").status_code == 422
    missing = env.get(f"/assets/{'0' * 64}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert env.get("/assets/not-an-id").status_code == 422
    assert env.get(f"/thumbnails/{env.ids['sourdough_baking']}").status_code == 404


def test_health_and_metrics(env: Env) -> None:
    httpx.post(env.url + "/search", json={"query": "volcano"})
    health = env.get("/health").json()
    assert health["status"] == "ok" and health["assets"] == 41
    text = health["index"]["text"]
    assert text["rows"] == health["index_rows"]["text"] > 40 and text["dim"] == 384
    assert "FTS(text)" in text["indices"] and text["version"] > 0
    assert {"text", "visual", "audio"} <= set(health["index"])
    metrics = env.get("/metrics").text
    assert 'dataflux_requests_total{endpoint="/search",method="POST",status="200"}' in metrics
    assert 'dataflux_request_seconds_bucket{endpoint="/search",le="0.025",method="POST"}' in metrics
    assert f'dataflux_index_rows{{space="text"}} {float(text["rows"])}' in metrics
    env.get(f"/assets/{env.ids['etna_eruption']}")
    metrics = env.get("/metrics").text
    assert 'endpoint="/assets/{asset_id}",method="GET",status="200"' in metrics  # no ids


def test_upload_is_queued_then_completed_by_the_pipeline(env: Env) -> None:
    content = b"Glassblowing: gather molten glass from the furnace on a blowpipe and shape it.\n"
    asset_id = hashlib.sha256(content).hexdigest()
    resp = env.upload("glassblowing.txt", content)
    assert resp.status_code == 202, resp.text
    assert resp.json() == {
        "asset_id": asset_id,
        "status": "queued",
        "file_name": "glassblowing.txt",
        "status_url": f"/assets/{asset_id}",
    }
    landed = env.settings.uploads / asset_id / "glassblowing.txt"
    assert landed.read_bytes() == content
    assert not list((env.settings.uploads / ".incoming").iterdir())
    assert not (env.settings.landing / "uploads").exists()
    assert env.get(f"/assets/{asset_id}").json()["state"] == "queued"
    queued = env.get("/assets", params={"status": "queued"}).json()
    assert [i["asset_id"] for i in queued["items"]] == [asset_id]
    again = env.upload("copy.txt", content)
    assert again.status_code == 409 and again.json()["status"] == "queued"
    known = env.upload("x.md", (harness.CORPUS / "sourdough_baking.md").read_bytes())
    assert known.status_code == 409 and known.json()["status"] == "completed"
    assert known.json()["asset_id"] == env.ids["sourdough_baking"]

    fox = Image.open(env.settings.landing / "red_fox_snow.jpg")
    smaller = io.BytesIO()
    near_duplicate(fox, "resized").save(smaller, "JPEG", quality=85)
    copy_id = env.upload("fox_small.jpg", smaller.getvalue()).json()["asset_id"]

    report = ingest(env.settings, env.instance)
    assert report.failed_runs == [] and len(report.partitions) == 1
    wait_for_state(env, asset_id, "completed")
    detail = env.get(f"/assets/{asset_id}").json()
    assert detail["uris"] == [f"uploads:{asset_id}/glassblowing.txt"]
    assert detail["asset"]["status"] == "indexed" and landed.read_bytes() == content
    hits = httpx.post(env.url + "/search", json={"query": "glassblowing furnace"}).json()
    assert hits["results"][0]["asset_id"] == asset_id  # new index version, same process
    assert env.get("/assets").json()["total"] == 43
    twins = env.get(f"/assets/{copy_id}").json()["near_duplicates"]
    assert [t["asset_id"] for t in twins] == [env.ids["red_fox_snow"]]
    assert twins[0]["file_name"] == "red_fox_snow.jpg" and twins[0]["distance"] <= 8
    back = env.get(f"/assets/{env.ids['red_fox_snow']}").json()["near_duplicates"]
    assert copy_id in {t["asset_id"] for t in back}


def test_delete_hides_at_once_and_the_sync_purges(env: Env) -> None:
    typewriter = env.ids["typewriter_desk"]
    note_text = b"Bell founding: bronze is poured into a loam mould and tuned on a lathe.\n"
    note = env.upload("bell_founding.txt", note_text).json()["asset_id"]
    report = ingest(env.settings, env.instance)
    assert report.failed_runs == [] and len(report.partitions) == 1
    wait_for_state(env, note, "completed")
    assert env.search_ids("Olivetti typewriter", mode="text")[0] == typewriter
    assert env.search_ids("bronze bell mould", mode="text")[0] == note
    thumbs = env.settings.store / "thumbnails" / typewriter[:2] / typewriter
    assert [p.name for p in thumbs.iterdir()] == ["image.jpg"]
    before = rows_of(env.settings, typewriter)
    assert {"assets", "analyses", "segments", "embeddings", "features_image"} <= set(before)
    assert {"text", "visual"} <= set(index_rows(env.settings, typewriter))
    assert rows_of(env.settings, note)["segments"] >= 1 and index_rows(env.settings, note)
    total = env.get("/assets").json()["total"]

    deleted = env.delete(typewriter)
    assert deleted.status_code == 200 and deleted.json() == {
        "asset_id": typewriter,
        "deleted": True,
    }
    assert env.delete(note[:10]).json() == {"asset_id": note, "deleted": True}  # by prefix
    # gone at once: detail, thumbnails, list, search and similar, before any sync
    for ident in (typewriter, note):
        missing = env.get(f"/assets/{ident}")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert env.get(f"/thumbnails/{ident}").status_code == 404
        assert env.delete(ident).status_code == 404
    assert env.get("/assets").json()["total"] == total - 2
    assert typewriter not in env.search_ids("Olivetti typewriter", mode="text")
    assert typewriter not in env.search_ids("antique writing machine", limit=50)
    assert note not in env.search_ids("bronze bell mould")
    # full-text hits of a deleted content and of live ones in one ranked list
    mixed = env.search_ids("bronze bell mould and sourdough starter", limit=50)
    assert note not in mixed and env.ids["sourdough_baking"] in mixed
    similar = httpx.post(env.url + "/similar", json={"asset_id": typewriter}, timeout=60)
    assert similar.status_code == 404
    fox = env.ids["red_fox_snow"]
    neighbours = httpx.post(env.url + "/similar", json={"asset_id": fox, "limit": 50}).json()
    assert typewriter not in {r["asset_id"] for r in neighbours["results"]}
    # an upload is deleted at its source; a landing file is left where it is
    assert not (env.settings.uploads / note).exists()
    assert (env.settings.landing / "typewriter_desk.jpg").is_file()
    # ... and its rows wait for the catalog sync
    assert rows_of(env.settings, typewriter) == before
    assert {"text", "visual"} <= set(index_rows(env.settings, typewriter))

    report = ingest(env.settings, env.instance)
    assert report.failed_runs == [] and report.partitions == [] and report.synced >= 1
    for ident in (typewriter, note):
        assert rows_of(env.settings, ident) == {}
        assert index_rows(env.settings, ident) == {}
        assert not (env.settings.store / "thumbnails" / ident[:2] / ident).exists()
        assert Catalog.open(env.settings.database).get(ident).purged_at is not None
        assert env.get(f"/assets/{ident}").status_code == 404
    others = rows_of(env.settings, fox)
    assert {"assets", "segments", "embeddings", "features_image"} <= set(others)

    # the file left in the landing folder, touched, is taken again, and stays out
    landed = env.settings.landing / "typewriter_desk.jpg"
    os.utime(landed, ns=(time.time_ns(), time.time_ns()))
    report = ingest(env.settings, env.instance)
    assert report.failed_runs == [] and len(report.partitions) == 1
    assert env.get(f"/assets/{typewriter}").status_code == 404
    assert env.get("/assets").json()["total"] == total - 2
    assert typewriter not in env.search_ids("antique writing machine", limit=50)
    assert index_rows(env.settings, typewriter) == {}
    assert rows_of(env.settings, typewriter) == {}  # deleted content leaves no row anywhere
    assert not (env.settings.store / "thumbnails" / typewriter[:2] / typewriter).exists()


def test_uploads_that_are_refused(env: Env) -> None:
    assert env.upload("empty.txt", b"").status_code == 422
    mismatch = env.upload("clip.mp4", b"just some text pretending to be a video")
    assert mismatch.status_code == 422 and "video" in mismatch.json()["detail"][0]["msg"]
    unsupported = env.upload("blob.bin", bytes(range(256)) * 4)
    assert unsupported.status_code == 415
    assert env.upload("", b"abc").status_code == 422
    for refused in (b"", b"just some text pretending to be a video", bytes(range(256)) * 4):
        assert not (env.settings.uploads / hashlib.sha256(refused).hexdigest()).exists()
    assert not list((env.settings.uploads / ".incoming").iterdir())


@pytest.fixture(scope="module")
def keyed(env: Env) -> Iterator[str]:
    keys = {"reader": ["search"], "writer": ["upload"], "both": ["search", "upload"]}
    settings = env.settings.model_copy(update={"api_keys": keys, "upload_max_bytes": 64})
    with harness.serve(settings) as url:
        yield url


def test_api_keys_and_scopes(keyed: str) -> None:
    body = {"query": "volcano"}
    assert httpx.post(keyed + "/search", json=body).status_code == 401
    wrong = httpx.post(keyed + "/search", json=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized"
    scoped = httpx.post(keyed + "/search", json=body, headers={"X-API-Key": "writer"})
    assert scoped.status_code == 403
    assert httpx.post(keyed + "/search", json=body, headers={"X-API-Key": "reader"}).is_success
    bearer = {"Authorization": "Bearer both"}
    assert httpx.get(keyed + "/assets", headers=bearer).status_code == 200
    assert httpx.get(keyed + "/assets").status_code == 401
    assert httpx.get(keyed + "/health").status_code == 200
    upload = {"files": {"file": ("n.txt", b"a note")}}
    assert (
        httpx.post(keyed + "/assets", headers={"X-API-Key": "reader"}, **upload).status_code == 403
    )
    big = {"files": {"file": ("big.txt", b"x" * 100)}}
    too_big = httpx.post(keyed + "/assets", headers={"X-API-Key": "writer"}, **big)
    assert too_big.status_code == 413
