"""The catalog's current state through what a person does to a media folder: content that
repeats, moves, changes, goes, is deleted or analyzed again; old partitions re-run and
backfills. After each step, search, the catalog, the Parquet tables and the index agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from dataflux_pipeline.catalog.projection import disagreements
from dataflux_pipeline.catalog.requests import delete, request_reanalysis
from dataflux_pipeline.storage.index import IndexWriter
from dataflux_pipeline.storage.tables import TableStore
from tests.catalog.home import Home, home_at

pytestmark = pytest.mark.slow

WHALE = "glacier-bay-humpback.ogg"
TRUMPET = "sorohanro_-_solo-trumpet-06.ogg"
RECIPE = "Knead the dough for ten minutes, rest it overnight, bake the loaf at 230 degrees."
TRAIN = "The night train to Vienna leaves platform nine at eleven and arrives at dawn."
FERRY = "The ferry to the island is cancelled when the wind blows above force seven."


def by_name(home: Home, name: str) -> str:
    found = [a for a, n in home.live().items() if n == name]
    assert len(found) == 1, (name, home.live())
    return found[0]


def agrees(home: Home) -> None:
    """The index holds the projection of the live catalog for every content ever seen."""
    ids = set(home.table("assets")["asset_id"].to_list())
    index = IndexWriter(home.settings.lancedb)
    assert disagreements(home.catalog, TableStore(home.settings.tables), index, ids) == []
    for space, rows in home.index_rows().items():
        assert rows.height == rows["segment_id"].n_unique(), f"{space}: a segment twice"
        assert set(rows["asset_id"]) <= set(home.live()), f"{space}: rows of a gone content"


def top(home: Home, query: str, **body) -> str | None:
    hits = home.search(query, **body)
    return hits[0]["file_name"] if hits else None


def test_a_copy_in_a_later_batch_loses_nothing(tmp_path: Path, fixtures_dir: Path) -> None:
    """The reported defect: the whale's windows vanished from the index when a copy of it
    arrived in a later batch."""
    with home_at(tmp_path) as home:
        for name in (WHALE, TRUMPET):
            home.put(f"a/{name}", (fixtures_dir / "audio" / name).read_bytes())
        home.ingest()
        whale = by_name(home, WHALE)
        before = home.index_rows()["audio"]
        whale_rows = before.filter(pl.col("asset_id") == whale).height
        assert whale_rows >= 7
        analyses = home.table("analyses").height
        home.copy(f"a/{WHALE}", "b/whale-copy.ogg")
        report = home.ingest()
        assert len(report.partitions) == 1
        after = home.index_rows()["audio"]
        assert after.filter(pl.col("asset_id") == whale).height == whale_rows
        assert after.height == before.height
        assert home.table("analyses").height == analyses  # nothing analyzed again
        assert home.paths(whale) == ["a/" + WHALE, "b/whale-copy.ogg"]
        assert home.live()[whale] == WHALE  # the first name stays
        agrees(home)


def test_a_move_renames_without_analysis(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        home.put("inbox/recipe.txt", RECIPE)
        home.ingest()
        recipe = by_name(home, "recipe.txt")
        analyses = home.table("analyses").height
        home.move("inbox/recipe.txt", "kitchen/country-bread.txt")
        home.tick()  # the sensor alone records the move: same inode, size and mtime
        assert home.live() == {recipe: "country-bread.txt"}
        assert home.paths(recipe) == ["kitchen/country-bread.txt"]
        report = home.ingest()
        assert report.partitions == []  # no batch: nothing hashed or analyzed again
        assert home.table("analyses").height == analyses
        assert top(home, "how long to bake bread") == "country-bread.txt"
        names = set(home.index_rows()["text"]["file_name"])
        assert names == {"country-bread.txt"}
        agrees(home)


def test_a_copy_then_delete_is_taken_the_ordinary_way(tmp_path: Path) -> None:
    """Same size and mtime but another inode (cp -p, then rm): hashed in a batch, so a
    file whose bytes changed under the same size and mtime cannot pass for the old one."""
    with home_at(tmp_path) as home:
        home.put("inbox/recipe.txt", RECIPE)
        home.ingest()
        recipe = by_name(home, "recipe.txt")
        analyses = home.table("analyses").height
        home.copy("inbox/recipe.txt", "kitchen/bread.txt")
        home.remove("inbox/recipe.txt")
        report = home.ingest()
        assert len(report.partitions) == 1
        assert home.live() == {recipe: "bread.txt"}
        assert home.table("analyses").height == analyses  # hashed, not analyzed
        agrees(home)


def test_a_move_with_a_sidecar_is_analyzed_again(tmp_path: Path) -> None:
    """A caption beside the new name changes what the content says: the move goes
    through a batch and the pair is analyzed together."""
    with home_at(tmp_path) as home:
        home.put("inbox/recipe.txt", RECIPE)
        home.ingest()
        home.put("kitchen/bread.json", '{"title": "Grandmother rye"}')
        home.move("inbox/recipe.txt", "kitchen/bread.txt")
        report = home.ingest()
        assert len(report.partitions) == 1
        assert set(home.live().values()) == {"bread.txt"}
        agrees(home)


def test_a_replaced_file_takes_its_old_content_out_of_search(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        home.put("timetable.txt", TRAIN)
        home.put("other.txt", RECIPE)
        home.ingest()
        old = by_name(home, "timetable.txt")
        home.put("timetable.txt", FERRY)
        home.ingest()
        new = by_name(home, "timetable.txt")
        assert new != old and home.asset(old).live is False
        assert all(h["asset_id"] != old for h in home.search("night train to Vienna"))
        assert top(home, "ferry cancelled in strong wind") == "timetable.txt"
        assert set(home.rows_of(old).values()) == {0}  # purged from every table
        agrees(home)


def test_a_removed_file_leaves_search_on_the_next_tick(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        home.put("timetable.txt", TRAIN)
        home.put("other.txt", RECIPE)
        home.ingest()
        train = by_name(home, "timetable.txt")
        home.remove("timetable.txt")
        home.tick()  # one sensor evaluation, no run
        assert train not in home.live()
        assert all(h["asset_id"] != train for h in home.search("night train to Vienna"))
        home.ingest()  # the catalog sync follows: rows, index and copies go
        assert set(home.rows_of(train).values()) == {0}
        assert home.asset(train).purged_at is not None
        assert not (home.settings.store / "thumbnails" / train[:2] / train).exists()
        agrees(home)


def test_a_file_put_back_within_the_retention_comes_back_unanalyzed(tmp_path: Path) -> None:
    with home_at(tmp_path, retention_s=3600.0) as home:
        path = home.put("timetable.txt", TRAIN)
        kept = tmp_path / "kept.txt"
        shutil.copy2(path, kept)
        home.ingest()
        train = by_name(home, "timetable.txt")
        analyses = home.table("analyses").height
        home.remove("timetable.txt")
        home.ingest()
        assert train not in home.live() and home.asset(train).purged_at is None
        assert home.search("night train to Vienna") == []
        shutil.copy2(kept, home.landing / "timetable.txt")
        home.ingest()
        assert home.live() == {train: "timetable.txt"}
        assert home.table("analyses").height == analyses
        assert top(home, "night train to Vienna") == "timetable.txt"
        agrees(home)


def test_a_deleted_content_is_purged_and_stays_out(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        home.put("timetable.txt", TRAIN)
        home.put("other.txt", RECIPE)
        home.ingest()
        train = by_name(home, "timetable.txt")
        assert delete(home.catalog, train, actor="ana") == []
        assert train not in home.live()
        assert all(h["asset_id"] != train for h in home.search("night train to Vienna"))
        home.ingest()
        assert home.asset(train).purged_at is not None
        rows = home.rows_of(train)
        assert rows["segments"] == rows["embeddings"] == rows["analyses"] == 0
        home.copy("timetable.txt", "again/timetable-copy.txt")  # the file is still there
        home.ingest()
        assert train not in home.live()
        assert all(h["asset_id"] != train for h in home.search("night train to Vienna"))
        from sqlalchemy import select

        from dataflux_pipeline.catalog.models import Event

        with home.catalog.reading() as s:
            kinds = [
                (e.kind, e.actor) for e in s.scalars(select(Event).where(Event.asset_id == train))
            ]
        assert ("deleted", "ana") in kinds and ("purged", None) in kinds
        agrees(home)


def test_old_partitions_and_backfills_change_nothing(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        home.put("timetable.txt", TRAIN)
        home.put("recipe.txt", RECIPE)
        home.ingest()
        first = home.partitions[0]
        old = by_name(home, "timetable.txt")
        home.put("timetable.txt", FERRY)  # replaced in a later batch
        home.move("recipe.txt", "bread.txt")
        home.ingest()
        live = home.live()
        index = {s: sorted(r["segment_id"]) for s, r in home.index_rows().items()}
        home.run_partition(first)
        assert home.live() == live and old not in live
        assert {s: sorted(r["segment_id"]) for s, r in home.index_rows().items()} == index
        for partition in home.partitions:  # a backfill of everything
            home.run_partition(partition)
        assert home.live() == live
        assert {s: sorted(r["segment_id"]) for s, r in home.index_rows().items()} == index
        assert all(h["asset_id"] != old for h in home.search("night train to Vienna"))
        agrees(home)


def test_reanalysis_replaces_a_contents_rows(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        home.put("timetable.txt", TRAIN)
        home.ingest()
        train = by_name(home, "timetable.txt")
        first = home.asset(train).analysis_partition
        segments = home.rows_of(train)["segments"]
        assert request_reanalysis(home.catalog, [train], actor="ana") == [train]
        report = home.ingest()
        assert report.partitions and report.partitions[0].startswith("re-")
        asset = home.asset(train)
        assert asset.analysis_partition == report.partitions[0] != first
        assert home.rows_of(train)["segments"] == segments  # the old partition's rows purged
        assert top(home, "night train to Vienna") == "timetable.txt"
        agrees(home)
