"""POST /search, /similar and /search/by-file against the eval catalog, over a real socket.
The catalog is built by an ingest (tests/eval/harness.py), so the module is slow."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import polars as pl
import pytest

from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.tables import TableStore
from tests.eval import harness

pytestmark = pytest.mark.slow


@dataclass
class Env:
    settings: Settings
    url: str
    ids: dict[str, str]

    def post(self, path: str, **kwargs) -> httpx.Response:
        return httpx.post(self.url + path, timeout=60, **kwargs)

    def search(self, **body) -> dict:
        resp = self.post("/search", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def stems(self, results: list[dict]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[r["asset_id"]] for r in results]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Env]:
    settings = harness.copy_catalog(tmp_path_factory.mktemp("search"))
    with harness.serve(settings) as url:
        yield Env(settings, url, harness.asset_ids(settings))


def test_hybrid_hit_carries_scores_highlight_and_metadata(env: Env) -> None:
    body = env.search(query="Amara Okonkwo disputed invoice")
    assert body["mode"] == "hybrid"
    assert body["legs"] == ["bm25:names", "bm25:text", "vector:text"]
    top = body["results"][0]
    assert env.stems([top]) == ["invoice_dispute"]
    assert top["file_name"] == "invoice_dispute.txt" and top["media_type"] == "document"
    assert top["metadata"]["mime_type"] == "text/plain" and top["metadata"]["size_bytes"] > 0
    seg = top["segments"][0]
    assert "<mark>Disputed</mark> <mark>invoice</mark>" in seg["highlight"]
    assert seg["text_score"] > 0 and 0 < seg["vector_score"] <= 1
    assert seg["matched_by"] == ["bm25:text", "vector:text"]
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    assert body["total"] >= len(body["results"]) and body["took_ms"] > 0


def test_image_hit_links_a_thumbnail(env: Env) -> None:
    body = env.search(query="fox hunting in deep snow", media_types=["image"], limit=3)
    top = body["results"][0]
    assert env.stems([top]) == ["red_fox_snow"] and top["media_type"] == "image"
    assert top["segments"][0]["kind"] == "description"  # the caption sidecar
    thumb = httpx.get(env.url + top["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert {r["media_type"] for r in body["results"]} == {"image"}


def test_modes_rank_by_their_own_signal(env: Env) -> None:
    text = env.search(query="tips for insomnia", mode="text")
    assert "sleep_hygiene" not in env.stems(text["results"]) and text["legs"] == [
        "bm25:names",
        "bm25:text",
    ]
    vector = env.search(query="tips for insomnia", mode="vector")
    assert env.stems(vector["results"])[0] == "sleep_hygiene" and vector["legs"] == ["vector:text"]
    top = vector["results"][0]
    # the calibrated scale: the same P(relevant) whatever the mode, rising with cosine
    cosines = [r["segments"][0]["vector_score"] for r in vector["results"]]
    assert cosines == sorted(cosines, reverse=True) and 0 < top["score"] <= 1
    assert top["score"] == top["segments"][0]["score"]
    exact = env.search(query="Jezero", mode="text")
    assert env.stems(exact["results"]) == ["mars_rover"]
    assert env.post("/search", json={"query": "x", "mode": "fuzzy"}).status_code == 422


def test_pages_do_not_overlap(env: Env) -> None:
    four = env.search(query="animals in the wild", limit=4, include_segments=False)
    first = env.search(query="animals in the wild", limit=2)
    second = env.search(query="animals in the wild", limit=2, offset=2)
    ids = [r["asset_id"] for r in four["results"]]
    assert [r["asset_id"] for r in first["results"] + second["results"]] == ids
    assert four["results"][0]["segments"] == [] and len(first["results"][0]["segments"]) >= 1
    many = env.search(query="animals in the wild", segments_per_asset=1)
    assert all(len(r["segments"]) == 1 for r in many["results"])


def test_asset_level_filters(env: Env) -> None:
    assets = harness.live_assets(env.settings)
    wavs = set(assets.filter(pl.col("mime_type") == "audio/wav")["asset_id"])
    assert len(wavs) == len(list(harness.CORPUS.glob("*.srt")))
    found = env.search(query="music", filters={"mime_types": ["audio/wav"]})["results"]
    assert found and {r["asset_id"] for r in found} <= wavs
    by_length = env.search(
        query="music", filters={"duration_s": {"min": 1.5, "max": 2.5}}, min_score=0
    )
    assert {r["asset_id"] for r in by_length["results"]} == wavs  # every clip is 2 s long
    wide = set(assets.filter(pl.col("width") >= 300)["asset_id"])
    assert len(wide) == 4
    body = env.search(query="photo", filters={"width": {"min": 300}}, limit=20, min_score=0)
    assert {r["asset_id"] for r in body["results"]} == wide
    camera = {"technical.exif.Make": "DataFlux Camera"}
    images = env.search(query="photo", filters={"metadata": camera}, limit=20, min_score=0)
    images = images["results"]
    assert len(images) == 8 and {r["media_type"] for r in images} == {"image"}
    other = {"technical.exif.Make": ["Nikon", "Canon"]}
    assert env.search(query="photo", filters={"metadata": other})["total"] == 0
    future = {"arrived_at": {"from": "2100-01-01T00:00:00Z"}}
    assert env.search(query="photo", filters=future)["results"] == []
    past = {"arrived_at": {"to": "2100-01-01T00:00:00"}}
    assert env.search(query="photo", filters=past)["results"]


def test_audio_key_and_tempo_filters(env: Env) -> None:
    audio = TableStore(env.settings.tables).read("features_audio")
    tracks = audio.filter(pl.col("segment_id").str.contains(":track:"))
    carbonara = env.ids["carbonara_cooking"]
    row = tracks.filter(pl.col("asset_id") == carbonara).row(0, named=True)
    same_key = set(tracks.filter(pl.col("key") == row["key"])["asset_id"])
    body = env.search(query="carbonara", filters={"key": [row["key"]]}, limit=20)
    assert env.stems(body["results"])[0] == "carbonara_cooking"
    assert {r["asset_id"] for r in body["results"]} <= same_key
    if row["tempo_bpm"] is not None:
        tempo = {"min": row["tempo_bpm"] - 0.5, "max": row["tempo_bpm"] + 0.5}
        hits = env.search(query="carbonara", filters={"tempo_bpm": tempo})["results"]
        assert carbonara in {r["asset_id"] for r in hits}


def test_segment_kind_filter_and_bad_filters(env: Env) -> None:
    cues = env.search(query="black hole", filters={"kinds": ["cue"]})["results"]
    assert env.stems(cues)[0] == "black_holes_lecture"
    assert {s["kind"] for r in cues for s in r["segments"]} == {"cue"}
    assert cues[0]["segments"][0]["start_s"] is not None
    bad = [
        {"duration_s": {"min": 5, "max": 1}},
        {"metadata": {"bad key!": 1}},
        {"colour": "red"},
    ]
    for filters in bad:
        resp = env.post("/search", json={"query": "x", "filters": filters})
        assert resp.status_code == 422 and resp.json()["error"] == "unprocessable_entity"


def test_similar_by_asset_and_segment(env: Env) -> None:
    fox = env.ids["red_fox_snow"]
    body = env.post("/similar", json={"asset_id": fox, "media_types": ["image"]}).json()
    assert "visual" in body["spaces"] and body["source"]["asset_id"] == fox
    found = [r["asset_id"] for r in body["results"]]
    assert fox not in found and len(found) == 7  # the other images
    assert {r["media_type"] for r in body["results"]} == {"image"}
    segments = TableStore(env.settings.tables).read("segments")
    etna = segments.filter(
        (pl.col("asset_id") == env.ids["etna_eruption"]) & (pl.col("kind") == "chunk")
    )["segment_id"][0]
    body = env.post("/similar", json={"segment_id": etna, "space": "text", "limit": 5}).json()
    assert body["spaces"] == ["text"] and len(body["results"]) == 5
    hit_segments = {s["segment_id"] for r in body["results"] for s in r["segments"]}
    assert etna not in hit_segments
    strict = {"segment_id": etna, "space": "text", "threshold": 0.5}
    kept = env.post("/similar", json=strict).json()["results"]
    assert all(s["vector_score"] >= 0.5 for r in kept for s in r["segments"])
    assert len(kept) < len(env.post("/similar", json={"segment_id": etna}).json()["results"])


def test_similar_errors(env: Env) -> None:
    fox = env.ids["red_fox_snow"]
    assert env.post("/similar", json={"asset_id": fox, "space": "nope"}).status_code == 422
    no_text = env.post(
        "/similar", json={"asset_id": env.ids["carbonara_cooking"], "space": "visual"}
    )
    assert no_text.status_code == 422 and "visual" in no_text.json()["detail"][0]["msg"]
    assert env.post("/similar", json={"asset_id": "f" * 64}).status_code == 404
    assert env.post("/similar", json={}).status_code == 422
    both = {"asset_id": fox, "segment_id": f"{fox}:image:0"}
    assert env.post("/similar", json=both).status_code == 422


def _by_file(env: Env, name: str, content: bytes, **form) -> httpx.Response:
    return env.post("/search/by-file", files={"file": (name, content)}, data=form)


def test_search_by_file_uses_the_pipeline_analyzers(env: Env) -> None:
    landing = env.settings.landing
    image = _by_file(env, "query.jpg", (landing / "red_fox_snow.jpg").read_bytes())
    assert image.status_code == 200, image.text
    body = image.json()
    assert "visual" in body["spaces"] and body["source"]["mime_type"] == "image/jpeg"
    assert env.stems(body["results"])[0] == "red_fox_snow"
    assert body["results"][0]["segments"][0]["vector_score"] == pytest.approx(1.0, abs=1e-3)
    clip = _by_file(env, "clip.wav", (landing / "carbonara_cooking.wav").read_bytes(), limit="3")
    assert "audio" in clip.json()["spaces"] and len(clip.json()["results"]) <= 3
    assert env.stems(clip.json()["results"])[0] == "carbonara_cooking"
    note = b"Molten rock poured down the slopes of the Sicilian volcano and ash shut the airport."
    text = _by_file(env, "note.txt", note, space="text")
    assert text.json()["spaces"] == ["text"]
    assert env.stems(text.json()["results"])[0] == "etna_eruption"


def test_search_by_file_refuses_what_it_cannot_read(env: Env) -> None:
    assert _by_file(env, "blob.bin", bytes(range(256)) * 8).status_code == 415
    assert _by_file(env, "empty.jpg", b"").status_code == 422
    assert _by_file(env, "fake.jpg", b"plain text, not a picture").status_code == 422
    assert _by_file(env, "query.txt", b"hello", limit="1000").status_code == 422
    assert env.post("/search/by-file").status_code == 422
