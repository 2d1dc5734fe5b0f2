"""A model-based test of the live catalog: random sequences of what happens to a media
folder and to the catalog (add, copy, move, replace, remove, delete through the API,
re-analysis, old partitions re-run, a backfill, index maintenance, a run killed mid-step
and run again), checked after every step against a plain in-memory model.

Used by tests/catalog/test_state_machine.py (a bounded number of sequences in CI) and by
bench/lifecycle.py (as many as fit in a time budget)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import polars as pl
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dataflux_pipeline.catalog.projection import disagreements
from dataflux_pipeline.catalog.requests import delete, request_reanalysis
from dataflux_pipeline.storage.index import IndexWriter
from dataflux_pipeline.storage.tables import TableStore
from tests.catalog.home import Home

# Each content names a place no other content names, so its query can only find it.
CONTENTS = [
    "Lighthouse keepers on Skellig Michael logged every storm in a leather ledger.",
    "The saffron harvest in La Mancha happens at dawn, one crocus flower at a time.",
    "Copper pans conduct heat evenly, which is why Lyon chefs reduce sauces in them.",
    "Reindeer herders in Finnmark move their herds to the coast every spring.",
    "A tuning fork at 440 hertz gives the orchestra in Vienna its concert pitch.",
]
QUERIES = [
    "storm records kept by lighthouse keepers",
    "picking saffron crocus flowers",
    "copper cookware for sauces",
    "reindeer herding migration",
    "tuning fork concert pitch",
]
FOLDERS = ("inbox", "archive", "shared")
CRASH_STEPS = ("intake", "analysis", "embeddings", "index")


def content_id(n: int) -> str:
    return hashlib.sha256(CONTENTS[n].encode()).hexdigest()


@dataclass
class Model:
    """What the catalog should hold: path -> content, when each path appeared, and the
    contents deleted (which stay out whatever path holds them)."""

    paths: dict[str, int] = field(default_factory=dict)
    seen_at: dict[str, tuple[int, str]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    ever: set[int] = field(default_factory=set)
    tick: int = 0

    def live(self) -> dict[int, str]:
        """Live content -> the name it is shown under (its oldest path's)."""
        out: dict[int, tuple[tuple[int, str], str]] = {}
        for path, n in self.paths.items():
            if n in self.deleted:
                continue
            order = self.seen_at[path]
            if n not in out or order < out[n][0]:
                out[n] = (order, path.rsplit("/", 1)[-1])
        return {n: name for n, (_, name) in out.items()}


class CatalogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="dataflux-machine-")
        self.home = Home(Path(self.tmp.name))
        self.model = Model()
        self.names = 0
        self.steps = 0

    def teardown(self) -> None:
        self.home.close()
        self.tmp.cleanup()

    # ---- helpers -----------------------------------------------------------------------
    def _new_path(self, folder: str) -> str:
        self.names += 1
        return f"{folder}/file-{self.names:03d}.txt"

    def _settle(self) -> None:
        self.model.tick += 1
        self.home.ingest()
        self.steps += 1

    def _add_path(self, path: str, n: int) -> None:
        self.model.paths[path] = n
        self.model.seen_at[path] = (self.model.tick + 1, path)
        self.model.ever.add(n)

    # ---- what happens to the folder -----------------------------------------------------
    @rule(n=st.integers(0, len(CONTENTS) - 1), folder=st.sampled_from(FOLDERS))
    def add(self, n: int, folder: str) -> None:
        path = self._new_path(folder)
        self.home.put(path, CONTENTS[n])
        self._add_path(path, n)
        self._settle()

    @precondition(lambda self: self.model.paths)
    @rule(data=st.data(), folder=st.sampled_from(FOLDERS))
    def copy(self, data, folder: str) -> None:
        src = data.draw(st.sampled_from(sorted(self.model.paths)))
        dst = self._new_path(folder)
        self.home.copy(src, dst)
        self._add_path(dst, self.model.paths[src])
        self._settle()

    @precondition(lambda self: self.model.paths)
    @rule(data=st.data(), folder=st.sampled_from(FOLDERS))
    def move(self, data, folder: str) -> None:
        src = data.draw(st.sampled_from(sorted(self.model.paths)))
        dst = self._new_path(folder)
        self.home.move(src, dst)
        n = self.model.paths.pop(src)
        self.model.seen_at.pop(src)
        self._add_path(dst, n)
        self._settle()

    @precondition(lambda self: self.model.paths)
    @rule(data=st.data(), n=st.integers(0, len(CONTENTS) - 1))
    def replace(self, data, n: int) -> None:
        path = data.draw(st.sampled_from(sorted(self.model.paths)))
        self.home.put(path, CONTENTS[n])
        os.utime(self.home.landing / path, ns=(self.model.tick * 10**9, self.model.tick * 10**9))
        self.model.paths[path] = n  # the path keeps the moment it first appeared
        self.model.ever.add(n)
        self._settle()

    @precondition(lambda self: self.model.paths)
    @rule(data=st.data())
    def remove(self, data) -> None:
        path = data.draw(st.sampled_from(sorted(self.model.paths)))
        self.home.remove(path)
        del self.model.paths[path]
        del self.model.seen_at[path]
        self._settle()

    # ---- what people ask of the catalog -------------------------------------------------
    @precondition(lambda self: self.model.live())
    @rule(data=st.data())
    def delete_through_the_api(self, data) -> None:
        n = data.draw(st.sampled_from(sorted(self.model.live())))
        assert delete(self.home.catalog, content_id(n), actor="machine") is not None
        self.model.deleted.add(n)
        self._settle()

    @precondition(lambda self: self.model.live())
    @rule(data=st.data())
    def reanalyze(self, data) -> None:
        n = data.draw(st.sampled_from(sorted(self.model.live())))
        assert request_reanalysis(self.home.catalog, [content_id(n)], "machine")
        self._settle()

    # ---- what operators do -------------------------------------------------------------
    @precondition(lambda self: self.home.partitions)
    @rule(data=st.data())
    def rematerialize_a_past_partition(self, data) -> None:
        self.home.run_partition(data.draw(st.sampled_from(self.home.partitions)))
        self._settle()

    @precondition(lambda self: 0 < len(self.home.partitions) <= 12)
    @rule()
    def backfill(self) -> None:
        for partition in list(self.home.partitions):
            self.home.run_partition(partition)
        self._settle()

    @rule()
    def index_maintenance(self) -> None:
        self.home.run_job("index_maintenance")
        self._settle()

    @rule(n=st.integers(0, len(CONTENTS) - 1), step=st.sampled_from(CRASH_STEPS))
    def killed_mid_run_then_run_again(self, n: int, step: str) -> None:
        """A new file's run dies (SIGKILL) inside one step; the run is started again, as a
        run retry or the daily sweep does, and the catalog ends as if nothing happened."""
        path = self._new_path("inbox")
        self.home.put(path, CONTENTS[n])
        self._add_path(path, n)
        self.home.tick()
        partition = crash(self.home, step)
        if partition is not None:
            self.home.run_partition(partition)
            self.home.partitions.append(partition)
        self._settle()

    # ---- after every step ---------------------------------------------------------------
    @invariant()
    def agrees_with_the_model(self) -> None:
        if self.steps:
            check(self.home, self.model)


def crash(home: Home, step: str) -> str | None:
    """Run the newest unrun partition in a child process that kills itself in `step`."""
    known = set(home.instance.get_dynamic_partitions("batches"))
    pending = [p for p in home.settings.batches.glob("*.json") if p.stem not in known]
    if not pending:
        return None
    partition = sorted(pending)[-1].stem
    home.instance.add_dynamic_partitions("batches", [partition])
    env = os.environ | {
        "DAGSTER_HOME": str(home.root / "dagster"),
        "DATAFLUX_HOME": str(home.settings.home),
        "DATAFLUX_SETTLE_SECONDS": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.catalog.crash_driver", partition, step],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    return partition


def check(home: Home, model: Model) -> None:
    live = {content_id(n): name for n, name in model.live().items()}
    assert home.live() == live, "catalog"
    with httpx.Client(base_url=home.url, timeout=60) as client:
        listed = client.get("/assets", params={"limit": 500}).json()["items"]
        assert {i["asset_id"]: i["file_name"] for i in listed} == live, "GET /assets"
        for n in sorted(model.ever):
            hits = client.post("/search", json={"query": QUERIES[n], "limit": 5}).json()
            ids = [h["asset_id"] for h in hits["results"]]
            gone = set(map(content_id, model.ever)) - set(live)
            assert not gone & set(ids), f"{QUERIES[n]!r} finds a content that is gone"
            if content_id(n) in live:
                assert ids[0] == content_id(n), f"{QUERIES[n]!r} misses its content"
                assert hits["results"][0]["file_name"] == live[content_id(n)]
    for n in model.ever:
        rows = home.rows_of(content_id(n))
        if content_id(n) in live:
            assert rows["segments"] == rows["embeddings"] == rows["analyses"] == 1, rows
        else:
            assert set(rows.values()) == {0}, (n, rows)
    for space, rows in home.index_rows().items():
        assert rows.height == rows["segment_id"].n_unique(), f"{space}: a segment twice"
        assert dict(zip(rows["asset_id"], rows["file_name"], strict=True)) == live, space
    ids = set(home.table("assets")["asset_id"].to_list()) | set(map(content_id, model.ever))
    index = IndexWriter(home.settings.lancedb)
    assert disagreements(home.catalog, TableStore(home.settings.tables), index, ids) == []
    if home.table("segments").height:
        counts = home.table("segments").group_by("segment_id").len()
        assert counts.filter(pl.col("len") > 1).height == 0, "a segment id in two partitions"
