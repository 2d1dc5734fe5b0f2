"""The Parquet tables: whole-file partition writes, reads with the partition column, the
contents' rows of one partition, and rewrites that drop exactly some contents' rows."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from dataflux_pipeline.storage.schemas import TABLES
from dataflux_pipeline.storage.tables import PARTITION_COLUMN, TableStore

A, B, C = ("a" * 64, "b" * 64, "c" * 64)


def segments(asset: str, n: int, tag: str = "v1") -> list[dict]:
    return [
        {
            "segment_id": f"{asset}:chunk:{i}",
            "asset_id": asset,
            "kind": "chunk",
            "index": i,
            "text": f"{tag} text {i} of {asset[:4]}",
            "analyzer": "document",
            "analyzer_version": "1.0",
        }
        for i in range(n)
    ]


def link(source: str, target: str | None, kind: str, uri: str | None = None) -> dict:
    return {"source_id": source, "target_id": target, "target_uri": uri, "kind": kind}


@pytest.fixture
def tables(tmp_path: Path) -> TableStore:
    return TableStore(tmp_path / "tables")


def test_write_and_read_round_trip_with_the_partition(tables: TableStore) -> None:
    assert tables.write("segments", "p1", segments(A, 3)) == 3
    assert tables.write("segments", "p2", segments(B, 2)) == 2
    one = tables.read("segments", "p1")
    assert one.columns == [*TABLES["segments"].names, PARTITION_COLUMN]
    assert one["segment_id"].to_list() == [f"{A}:chunk:{i}" for i in range(3)]
    assert one["text"][2] == "v1 text 2 of aaaa"
    assert one[PARTITION_COLUMN].unique().to_list() == ["p1"]
    both = tables.read("segments").sort("segment_id")
    assert both.height == 5
    assert dict(zip(both["asset_id"], both[PARTITION_COLUMN], strict=True)) == {A: "p1", B: "p2"}
    assert tables.scan("segments").filter(pl.col("asset_id") == B).collect().height == 2


def test_a_rewrite_replaces_its_partition_whole(tables: TableStore) -> None:
    tables.write("segments", "p1", segments(A, 3, "v1"))
    tables.write("segments", "p2", segments(B, 1))
    tables.write("segments", "p1", segments(A, 2, "v2"))
    p1 = tables.read("segments", "p1")
    assert p1["text"].to_list() == ["v2 text 0 of aaaa", "v2 text 1 of aaaa"]
    assert tables.read("segments").height == 3  # no duplicates, p2 untouched
    assert [Path(f).name for f in tables.files("segments", "p1")] == ["data.parquet"]
    assert tables.write("segments", "p1", []) == 0
    assert tables.read("segments", "p1").height == 0


def test_reading_a_missing_table_gives_its_schema(tables: TableStore) -> None:
    empty = tables.read("relationships")
    assert empty.height == 0
    assert empty.columns == [*TABLES["relationships"].names, PARTITION_COLUMN]
    assert tables.read("segments", "nope").height == 0
    assert tables.partitions_with("segments", [A]) == []
    assert tables.drop_assets("segments", "nope", [A]) == 0


def test_read_assets_picks_some_contents_of_one_partition(tables: TableStore) -> None:
    tables.write("segments", "p1", segments(A, 2) + segments(B, 3) + segments(C, 1))
    tables.write("segments", "p2", segments(A, 4))
    rows = tables.read_assets("segments", "p1", [A, C])
    assert sorted(rows["segment_id"]) == sorted([f"{A}:chunk:0", f"{A}:chunk:1", f"{C}:chunk:0"])
    assert set(rows[PARTITION_COLUMN]) == {"p1"}
    assert tables.read_assets("segments", "p1", []).height == 0


def test_partitions_with_finds_every_partition_holding_a_content(tables: TableStore) -> None:
    tables.write("segments", "p1", segments(A, 2))
    tables.write("segments", "p2", segments(B, 1))
    tables.write("segments", "p3", segments(A, 1) + segments(C, 1))
    assert tables.partitions_with("segments", [A]) == ["p1", "p3"]
    assert tables.partitions_with("segments", [B, C]) == ["p2", "p3"]
    assert tables.partitions_with("segments", ["d" * 64]) == []
    assert tables.partitions_with("segments", []) == []


def test_relationships_are_found_by_source_or_target_id(tables: TableStore) -> None:
    """A content's rows are those whose source or target is it or one of its segments:
    the near-duplicate row a later batch wrote about an older image is among them."""
    tables.write(
        "relationships",
        "p1",
        [link(f"{A}:chunk:0", A, "segment_of"), link(A, None, "metadata", "landing:a.json")],
    )
    tables.write(
        "relationships",
        "p2",
        [link(f"{B}:chunk:0", B, "segment_of"), link(B, A, "near_duplicate")],
    )
    tables.write("relationships", "p3", [link(f"{C}:shot:0", f"{C}:scene:0", "segment_of")])
    assert tables.partitions_with("relationships", [A]) == ["p1", "p2"]
    assert tables.partitions_with("relationships", [B]) == ["p2"]
    assert tables.partitions_with("relationships", [C]) == ["p3"]


def test_drop_assets_removes_exactly_those_contents_rows(tables: TableStore) -> None:
    rows = segments(A, 2) + segments(B, 3) + segments(C, 1)
    tables.write("segments", "p1", rows)
    tables.write("segments", "p2", segments(A, 1))
    before = tables.read("segments", "p1")
    assert tables.drop_assets("segments", "p1", [A, C]) == 3
    after = tables.read("segments", "p1")
    assert after.equals(before.filter(pl.col("asset_id") == B))
    assert tables.read("segments", "p2").height == 1  # other partitions untouched
    assert tables.drop_assets("segments", "p1", [A]) == 0
    assert tables.drop_assets("segments", "p1", []) == 0
    assert tables.read("segments", "p1").equals(after)


def test_drop_assets_on_relationships_matches_source_or_target(tables: TableStore) -> None:
    kept = [
        link(f"{B}:chunk:0", B, "segment_of"),
        link(B, None, "subtitle", "landing:b.srt"),
        link(B, C, "near_duplicate"),
    ]
    dropped = [
        link(f"{A}:chunk:0", A, "segment_of"),  # source is a segment of A
        link(B, A, "near_duplicate"),  # target is A
        link(f"{B}:shot:1", f"{A}:shot:0", "similar"),  # target is a segment of A
        link(A, None, "metadata", "landing:a.json"),
    ]
    tables.write("relationships", "p1", dropped[:2] + kept + dropped[2:])
    assert tables.drop_assets("relationships", "p1", [A]) == 4
    left = tables.read("relationships", "p1").drop(PARTITION_COLUMN).to_dicts()
    assert left == [r | {"distance": None} for r in kept]


def _writer_script(root: Path, kill_at: str) -> str:
    return textwrap.dedent(
        f"""
        import os, signal
        import pyarrow.parquet as pq
        from dataflux_pipeline.storage import tables as mod
        from tests.storage.test_tables import segments, A

        real_write = pq.write_table

        def write_half(table, where, **kw):
            real_write(table, where, **kw)
            data = open(where, "rb").read()
            open(where, "wb").write(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)

        def replace_never(src, dst):
            os.kill(os.getpid(), signal.SIGKILL)

        if {kill_at!r} == "writing":
            mod.pq.write_table = write_half
        else:
            mod.os.replace = replace_never
        mod.TableStore({str(root)!r}).write("segments", "p1", segments(A, 5, "new"))
        """
    )


@pytest.mark.parametrize("kill_at", ["writing", "renaming"])
def test_a_killed_writer_leaves_no_half_file(tables: TableStore, tmp_path: Path, kill_at) -> None:
    tables.write("segments", "p1", segments(A, 2, "old"))
    before = tables.read("segments", "p1")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _writer_script(tmp_path / "tables", kill_at)],
        cwd=repo,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    folder = tmp_path / "tables" / "segments" / "partition=p1"
    leftovers = [p.name for p in folder.iterdir() if p.name != "data.parquet"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".data.")  # the killed temp file
    assert tables.files("segments", "p1") == [str(folder / "data.parquet")]
    assert tables.read("segments", "p1").equals(before)  # readers still see the old file
    tables.write("segments", "p1", segments(A, 3, "next"))
    assert sorted(p.name for p in folder.iterdir()) == ["data.parquet"]  # temp cleaned up
    assert tables.read("segments", "p1")["text"][0] == "next text 0 of aaaa"
