"""The server pieces behind the pages, without a browser: the matching moment's picture,
sidecars landing with their file, stage events, the size and owner filters, and the
query log behind the overview."""

from __future__ import annotations

import json

import polars as pl
import pytest
from fastapi.testclient import TestClient

from dataflux_pipeline.cli.samples import write_image
from dataflux_pipeline.serving.app import create_app
from dataflux_pipeline.serving.moments import Moments, _shots
from dataflux_pipeline.serving.querylog import QueryLog
from dataflux_pipeline.serving.schemas import SegmentHit
from dataflux_pipeline.serving.sidecars import paired_name
from dataflux_pipeline.settings import Settings

A = "a" * 64


def segments() -> pl.DataFrame:
    rows = []
    for n, start in enumerate([0.0, 2.0, 4.0]):
        shot = f"{A}:shot:{n}"
        rows.append(
            {
                "segment_id": shot,
                "kind": "shot",
                "parent_id": None,
                "start_s": start,
                "page": None,
                "thumbnail": None,
            }
        )
        rows.append(
            {
                "segment_id": f"{A}:keyframe:{n}",
                "kind": "keyframe",
                "parent_id": shot,
                "start_s": start + 0.5,
                "page": None,
                "thumbnail": f"thumbnails/aa/{A}/shot_{n:04d}.jpg",
            }
        )
    rows.append(
        {
            "segment_id": f"{A}:page:1",
            "kind": "page",
            "parent_id": None,
            "start_s": None,
            "page": 2,
            "thumbnail": f"thumbnails/aa/{A}/page_0002.jpg",
        }
    )
    return pl.DataFrame(rows)


class Catalog:
    """Stands in for the service's catalog view: one video's current analysis."""

    reads = 0

    def row(self, asset_id):
        return {"asset_id": asset_id, "partition": "p1"}

    def analysis_rows(self, table, asset_id):
        Catalog.reads += 1
        return segments()


def hit(**kw) -> SegmentHit:
    return SegmentHit(segment_id=f"{A}:cue:0", kind="cue", score=1.0, space="text", **kw)


def test_a_hit_shows_the_shot_on_screen_at_its_start() -> None:
    shots = _shots(segments())
    assert shots.at(0.0).endswith("shot_0000.jpg")
    assert shots.at(3.99).endswith("shot_0001.jpg") and shots.at(4.0).endswith("shot_0002.jpg")
    assert shots.at(99.0).endswith("shot_0002.jpg")
    moments = Moments(Catalog())
    assert moments.thumbnail(hit(start_s=4.6), A).endswith("shot_0002.jpg")
    assert moments.thumbnail(hit(page=2), A).endswith("page_0002.jpg")
    assert moments.thumbnail(hit(thumbnail="thumbnails/own.jpg"), A) == "thumbnails/own.jpg"
    assert moments.thumbnail(hit(), A) is None
    assert Catalog.reads == 1  # one read per analysis, however many hits


def test_sidecars_take_the_file_stem() -> None:
    assert paired_name("Trip.To.Sea.mp4", "subs.en.srt") == "Trip.en.srt"
    assert paired_name("clip.mp4", "clip.srt") == "clip.srt"
    assert paired_name("clip.mp4", "notes") == "clip.notes"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("parts") / "data")
    with TestClient(create_app(settings)) as c:
        yield c


def test_a_video_and_its_subtitles_land_together_and_report_queued(client, tmp_path) -> None:
    photo = write_image(tmp_path / "boat.jpg", (10, 20, 200))
    files = [
        ("file", ("boat.jpg", photo.read_bytes(), "image/jpeg")),
        ("sidecar", ("caption.txt", b"A blue boat in the harbour", "text/plain")),
    ]
    made = client.post("/assets", files=files)
    assert made.status_code == 202, made.text
    asset_id = made.json()["asset_id"]
    folder = client.app.state.settings.uploads / asset_id
    assert sorted(p.name for p in folder.iterdir()) == ["boat.jpg", "boat.txt"]
    listed = client.get(f"/assets/{asset_id}").json()
    assert listed["state"] == "queued" and listed["asset"]["file_name"] == "boat.jpg"
    wrong = client.post(
        "/assets",
        files=[
            ("file", ("b.jpg", photo.read_bytes() + b"x", "image/jpeg")),
            ("sidecar", ("b.srt", b"1\n00:00:01,000 --> 00:00:02,000\nhi\n", "text/plain")),
        ],
    )
    assert wrong.status_code == 422 and "cannot be a sidecar" in wrong.text
    with client.stream("GET", f"/events/assets?id={asset_id}") as stream:
        lines = stream.iter_lines()
        event = next(line for line in lines if line.startswith("data:") and asset_id in line)
    assert json.loads(event[5:])["stage"] == "queued"


def test_size_and_owner_filters_narrow_before_ranking(client) -> None:
    body = {"query": "boat", "filters": {"size_bytes": {"min": 1}, "owners": ["nobody"]}}
    found = client.post("/search", json=body)
    assert found.status_code == 200 and found.json()["total"] == 0


def test_the_query_log_keeps_words_not_people(tmp_path) -> None:
    log = QueryLog(tmp_path / "q")
    log.record("  Whales   SINGING ", 3, 12.345, "hybrid")
    (line,) = (tmp_path / "q").glob("*.jsonl")
    entry = json.loads(line.read_text())
    assert entry["query"] == "whales singing" and entry["total"] == 3
    assert set(entry) == {"at", "query", "total", "took_ms", "mode"}
    assert log.files(1) == [str(line)]


def test_overview_counts_queries_for_those_who_see_everything(client) -> None:
    client.post("/search", json={"query": "nothing like this exists"})
    found = client.get("/stats/overview?days=1").json()
    assert found["queries"]["total"] >= 1
    assert any(q["query"] == "nothing like this exists" for q in found["queries"]["zero"])
    assert {"by_media_type", "by_state", "throughput", "storage", "media_hours"} <= set(found)


def test_media_of_an_asset_one_cannot_see_is_404(client) -> None:
    assert client.get(f"/media/{A}").status_code == 404
    assert client.get("/media/not-an-id").status_code == 422
