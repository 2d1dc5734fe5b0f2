"""Index operations: indexes past the size threshold, batch writes on an indexed table, the
maintenance assets, and readers that never see half a batch while the pipeline writes."""

from __future__ import annotations

import threading
import time

import dagster as dg
import httpx
import numpy as np
import pytest

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.defs.assets.maintenance import search_index_indexes, search_index_optimized
from dataflux_pipeline.defs.resources import StorageResource
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.index import IndexReader, IndexTuning, IndexWriter
from tests.eval import harness


class Index(IndexWriter, IndexReader):
    """The writer and the reader on one connection, as a test needs both sides."""


DIM = 384


def _rows(asset: str, n: int, tag: str, seed: int, offset: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        {
            "segment_id": f"{asset}:chunk:{offset + i}",
            "asset_id": asset,
            "media_type": "document",
            "kind": "chunk",
            "text": f"{tag} note {offset + i} about {asset}",
            "file_name": f"{asset}.txt",
            "vector": vectors[i].tolist(),
        }
        for i in range(n)
    ]


def live_assets(settings: Settings, asset_ids: list[str]) -> None:
    """Record the contents as live and indexed in the catalog: the service shows only those."""
    with Catalog.open(settings.database).session() as s:
        for asset_id in asset_ids:
            s.add(
                Asset(
                    asset_id=asset_id,
                    status="indexed",
                    live=True,
                    media_type="document",
                    mime_type="text/plain",
                    file_name=f"{asset_id}.txt",
                )
            )
        Catalog.bump(s)


@pytest.mark.slow
def test_indexes_past_the_threshold_and_batches_still_merge(tmp_path) -> None:
    settings = Settings(home=tmp_path / "data")
    index = Index(settings.lancedb, tuning=IndexTuning(ann_min_rows=500))
    for a in range(6):
        index.upsert("text", _rows(f"a{a:02d}", 100, "first", a), [f"a{a:02d}"])
    info = index.info("text")
    assert info["rows"] == 600 and info["fts"] and info["ann"] is None  # FTS from the start

    storage = StorageResource(home=str(settings.home), ann_index_min_rows=500)
    result = dg.materialize(
        [search_index_indexes, search_index_optimized], resources={"storage": storage}
    )
    assert result.success
    built = result.asset_materializations_for_node("search_index_indexes")[0].metadata
    assert built["ann_indexes_built"].value == 1 and built["ann_min_rows"].value == 500
    optimized = result.asset_materializations_for_node("search_index_optimized")[0].metadata
    assert optimized["fragments_removed"].value > 0
    index = Index(settings.lancedb, tuning=IndexTuning(ann_min_rows=500))
    types = {i["type"] for i in index.info("text")["indices"]}
    assert types == {"IvfHnswSq", "FTS", "BTree", "LabelList"}  # LabelList: readers

    # A partition run on the indexed table: merge-insert, stale rows gone, indexes refreshed.
    index.upsert("text", _rows("a01", 40, "second", 99), ["a01"])
    tbl = index.table("text")
    assert tbl.count_rows() == 540 and tbl.count_rows("asset_id = 'a01'") == 40
    for i in tbl.list_indices():
        assert tbl.index_stats(i.name).num_unindexed_rows == 0, i.name
    probe = _rows("a01", 40, "second", 99)[7]
    near = index.vector_search("text", probe["vector"], 1)
    assert near[0]["segment_id"] == "a01:chunk:7" and near[0]["_distance"] < 1e-4
    assert index.text_search("text", "second note 7", 1)[0]["segment_id"] == "a01:chunk:7"
    assert index.text_search("text", "first", 5, where="asset_id = 'a01'") == []


def test_an_empty_batch_changes_nothing(tmp_path) -> None:
    index = Index(tmp_path / "lancedb", tuning=IndexTuning())
    index.upsert("text", _rows("a", 3, "x", 1), ["a"])
    version = index.table("text").version
    assert index.upsert("text", [], ["b"]) == 0
    assert index.table("text").version == version
    assert index.upsert("text", [], ["a"]) == 0 and index.count("text") == 0


@pytest.fixture
def live(tmp_path) -> tuple[Settings, Index]:
    settings = Settings(home=tmp_path / "data", index_refresh_s=0.0)
    index = Index(settings.lancedb, tuning=IndexTuning())
    for a in range(3):
        index.upsert("text", _rows(f"other{a}", 5, "other", a), [f"other{a}"])
    index.upsert("text", _rows("target", 5, "alpha", 7), ["target"])
    live_assets(settings, ["other0", "other1", "other2", "target"])
    return settings, index


def test_readers_never_see_half_a_batch(live) -> None:
    """The writer swaps asset `target` between 5 `alpha` and 3 `bravo` segments, like a
    re-analysis; every response must show one whole version of it."""
    settings, index = live
    versions = {"alpha": _rows("target", 5, "alpha", 7), "bravo": _rows("target", 3, "bravo", 8)}
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            tag = "bravo" if n % 2 == 0 else "alpha"
            index.upsert("text", versions[tag], ["target"])
            n += 1

    seen = set()
    with harness.serve(settings) as url:
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            deadline = time.monotonic() + 6
            with httpx.Client(base_url=url, timeout=30) as client:
                while time.monotonic() < deadline:
                    body = {"query": "alpha bravo note", "mode": "text", "segments_per_asset": 20}
                    results = client.post("/search", json=body).json()["results"]
                    target = [r for r in results if r["asset_id"] == "target"]
                    assert len(target) == 1
                    tags = {s["text"].split()[0] for s in target[0]["segments"]}
                    count = len(target[0]["segments"])
                    assert (tags, count) in [({"alpha"}, 5), ({"bravo"}, 3)], (tags, count)
                    seen.add(tags.pop())
        finally:
            stop.set()
            thread.join()
    assert seen == {"alpha", "bravo"}  # it did watch the versions change, without a restart


@pytest.mark.parametrize("ann", [None, "IVF_HNSW_SQ", "IVF_SQ"])
def test_a_multi_vector_query_ranks_each_vector_as_a_single_query_does(tmp_path, ann) -> None:
    index = Index(tmp_path / "lancedb", tuning=IndexTuning(ann_min_rows=10**9))
    for a in range(6):
        index.upsert("text", _rows(f"a{a:02d}", 100, "t", a), [f"a{a:02d}"])
    if ann:
        assert index.create_ann("text", ann)["type"] == ann
        assert index.info("text")["ann"] is not None
    queries = [np.asarray(r["vector"], np.float32) for r in _rows("q", 5, "q", seed=99)]
    together = index.vector_batch("text", queries, 7)
    assert len(together) == 5
    for query, rows in zip(queries, together, strict=True):
        alone = index.vector_search("text", query, 7, columns=["segment_id"])
        assert [r["segment_id"] for r in rows] == [r["segment_id"] for r in alone]
        assert all("_rowid" in r and "query_index" not in r for r in rows)


def test_hydrate_reads_full_rows_even_after_compaction_moved_them(tmp_path) -> None:
    index = Index(tmp_path / "lancedb", tuning=IndexTuning(keep_versions_s=0))
    for a in range(4):
        index.upsert("text", _rows(f"a{a:02d}", 50, "t", a), [f"a{a:02d}"])
    query = np.asarray(_rows("a02", 1, "t", 2)[0]["vector"], np.float32)  # a02:chunk:0
    ranked = index.vector_batch("text", [query], 10)[0]
    assert ranked[0]["segment_id"] == "a02:chunk:0" and "text" not in ranked[0]
    full = index.hydrate("text", ranked)
    assert full["a02:chunk:0"]["text"] == "t note 0 about a02"
    assert set(full) == {r["segment_id"] for r in ranked}

    index.upsert("text", [], ["a00"])  # delete a whole asset, then compact: rows move
    index.optimize("text")
    index.forget()
    now = index.vector_batch("text", [query], 1)[0][0]
    assert now["segment_id"] == "a02:chunk:0" and now["_rowid"] != ranked[0]["_rowid"]
    moved = index.hydrate("text", [r for r in ranked if r["asset_id"] != "a00"])
    assert moved["a02:chunk:0"]["text"] == "t note 0 about a02"
    for sid, row in moved.items():
        assert row["segment_id"] == sid and row["text"].endswith(sid.split(":")[0])
