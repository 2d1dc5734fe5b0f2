"""The LanceDB search index: one table per embedding space, rows keyed by segment_id.

A write is one merge-insert that also deletes the segments a re-analysis no longer
produces, so a batch lands as one table version: a reader sees the index before the
batch or after it, never half of it. Tables with text get a full-text (BM25) index as
soon as they have rows; the ANN index waits for a size threshold (below it a flat scan
is exact and fast enough). Existing indexes are refreshed after every write."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from dataflux_pipeline.storage import is_remote, lance_options

log = logging.getLogger(__name__)

INDEX_COLUMNS = [
    pa.field("segment_id", pa.string(), nullable=False),
    pa.field("asset_id", pa.string(), nullable=False),
    pa.field("media_type", pa.string()),
    pa.field("kind", pa.string()),
    pa.field("start_s", pa.float64()),
    pa.field("end_s", pa.float64()),
    pa.field("page", pa.int32()),
    pa.field("text", pa.string()),
    pa.field("thumbnail", pa.string()),
    pa.field("file_name", pa.string()),
    pa.field("model", pa.string()),
    pa.field("model_version", pa.string()),
]
RESULT_COLUMNS = [f.name for f in INDEX_COLUMNS if f.name not in ("model", "model_version")]
# What ranking needs of a candidate; the rest of a row is read only for the hits shown
# (see SearchIndex.hydrate): 20 full rows cost about 4 ms more per probe at 1M rows.
RANK_COLUMNS = ["segment_id", "asset_id"]
ANN_TYPES = ("IVF_HNSW_SQ", "IVF_SQ", "IVF_PQ")
SCALAR_COLUMNS = ("segment_id", "asset_id")


def index_schema(dim: int) -> pa.Schema:
    return pa.schema([*INDEX_COLUMNS, pa.field("vector", pa.list_(pa.float32(), dim))])


def table_name(space: str) -> str:
    return f"segments_{space}"


def quote(values: Sequence[str]) -> str:
    """A SQL IN-list body; ids come from requests, so quotes are escaped."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


@dataclass(frozen=True)
class IndexTuning:
    """Index build thresholds and query knobs (see Settings for what each one means)."""

    ann_index_type: str = "IVF_HNSW_SQ"
    ann_min_rows: int = 100_000
    fts_min_rows: int = 1
    nprobes: int = 10
    refine_factor: int = 0
    ef: int = 600
    keep_versions_s: float = 3600.0

    @classmethod
    def from_settings(cls, settings=None) -> IndexTuning:
        from dataflux_pipeline.settings import Settings

        s = settings or Settings()
        return cls(
            ann_index_type=s.ann_index_type,
            ann_min_rows=s.ann_index_min_rows,
            fts_min_rows=s.fts_index_min_rows,
            nprobes=s.ann_nprobes,
            refine_factor=s.ann_refine_factor,
            ef=s.ann_ef,
            keep_versions_s=s.index_keep_versions_s,
        )


@dataclass
class Probe:
    """One ranked query on one space: by `vector` (rows get `_distance`, cosine) or by
    `text` (BM25 over the text column, rows get `_score`)."""

    space: str
    limit: int
    vector: Any = None
    text: str | None = None
    where: str | None = None
    columns: Sequence[str] = tuple(RESULT_COLUMNS)
    row_id: bool = False  # rows carry `_rowid`, for hydrate()


def _sub_vectors(dim: int) -> int:
    """PQ sub-vectors: 8 dimensions each where the dimension allows, else a divisor of it."""
    for n in range(max(1, dim // 8), 0, -1):
        if dim % n == 0:
            return n
    return 1


def ann_config(kind: str, rows: int, dim: int):
    from lancedb.index import HnswSq, IvfPq, IvfSq

    if kind == "IVF_PQ":
        return IvfPq(
            distance_type="cosine",
            num_partitions=max(1, int(math.sqrt(rows))),
            num_sub_vectors=_sub_vectors(dim),
        )
    if kind == "IVF_HNSW_SQ":
        # sqrt(rows) partitions (the default); m/ef_construction below the defaults (20/300)
        # halve the build: 1M rows in 195-381 s on 2 cores, recall@10 0.96 at ef 600 (bench).
        return HnswSq(distance_type="cosine", m=16, ef_construction=150)
    if kind == "IVF_SQ":  # 14x faster to build than IVF_HNSW_SQ; see docs/decisions.md
        return IvfSq(distance_type="cosine")
    raise ValueError(f"unknown ANN index type {kind!r}; expected one of {ANN_TYPES}")


class SearchIndex:
    def __init__(
        self,
        uri: str | Path,
        refresh_seconds: float | None = None,
        tuning: IndexTuning | None = None,
    ) -> None:
        """`refresh_seconds` makes readers see new table versions that often (the service);
        open tables and the list of spaces are cached for as long."""
        import lancedb

        self.uri = str(uri)
        self.refresh_seconds = refresh_seconds
        self.tuning = tuning or IndexTuning.from_settings()
        interval = None if refresh_seconds is None else timedelta(seconds=refresh_seconds)
        options = lance_options() if is_remote(self.uri) else None
        self.db = lancedb.connect(
            self.uri, read_consistency_interval=interval, storage_options=options
        )
        self._tables: dict[str, Any] = {}
        self._spaces: tuple[float, list[str]] = (-math.inf, [])
        self._info: dict[str, tuple[float, dict[str, Any]]] = {}
        self._pins: dict[tuple[str, int], Any] = {}
        self._pins_lock = threading.Lock()  # request threads share the pins

    # ---- reading -------------------------------------------------------------------
    def _fresh(self, stamp: float) -> bool:
        ttl = self.refresh_seconds
        return ttl is not None and time.monotonic() - stamp < ttl

    def spaces(self) -> list[str]:
        stamp, cached = self._spaces
        if self._fresh(stamp):
            return cached
        names = self.db.list_tables()
        names = getattr(names, "tables", names)
        found = sorted(n.removeprefix("segments_") for n in names if n.startswith("segments_"))
        for gone in set(self._tables) - set(found):  # dropped by another process
            self._tables.pop(gone, None)
        self._spaces = (time.monotonic(), found)
        return found

    def table(self, space: str):
        tbl = self._tables.get(space)
        if tbl is None:
            tbl = self._tables[space] = self.db.open_table(table_name(space))
        return tbl

    def forget(self, space: str | None = None) -> None:
        """Drop cached handles (a table was created or replaced by another process)."""
        if space is None:
            self._tables.clear()
        else:
            self._tables.pop(space, None)
        self._spaces = (-math.inf, [])
        self._info.clear()

    def count(self, space: str) -> int:
        return self.table(space).count_rows() if space in self.spaces() else 0

    def info(self, space: str) -> dict[str, Any]:
        """Version, row count, dimension and index types of one space (cached like spaces)."""
        stamp, cached = self._info.get(space, (-math.inf, {}))
        if self._fresh(stamp):
            return cached
        tbl = self.table(space)
        indices = [
            {"name": i.name, "type": i.index_type, "columns": list(i.columns)}
            for i in tbl.list_indices()
        ]
        info = {
            "version": tbl.version,
            "rows": tbl.count_rows(),
            "dim": tbl.schema.field("vector").type.list_size,
            "indices": indices,
            "fts": any(i["type"] in ("FTS", "INVERTED") for i in indices),
            "ann": next((i["type"] for i in indices if i["columns"] == ["vector"]), None),
        }
        self._info[space] = (time.monotonic(), info)
        return info

    def submit(self, probes: Sequence[Probe]) -> Future:
        """Start `probes` now, side by side, in one trip to LanceDB's event loop (each sync
        call is several trips); `.result()` is a list of row lists, one per probe."""
        from lancedb.background_loop import LOOP

        # probes whose rows get hydrated read a pinned version, and hydrate() reads that
        # same version: row ids, and the rows themselves, belong to one table version
        handles = [
            (p, self.pinned(p.space) if p.row_id else (None, self.table(p.space))) for p in probes
        ]

        async def run_all():
            return await asyncio.gather(*(self._run(p, *pin) for p, pin in handles))

        return asyncio.run_coroutine_threadsafe(run_all(), LOOP.loop)

    def run(self, probes: Sequence[Probe]) -> list[list[dict[str, Any]]]:
        return self.submit(probes).result() if probes else []

    def pinned(self, space: str, version: int | None = None) -> tuple[int, Any]:
        """A read-only handle on `version` of a space (default: the one readers see now)."""
        if version is None:
            stamp, info = self._info.get(space, (-math.inf, {}))
            version = info["version"] if self._fresh(stamp) else self.table(space).version
        handle = self._pins.get((space, version))
        if handle is None:
            handle = self.db.open_table(table_name(space))
            handle.checkout(version)
            with self._pins_lock:
                self._pins[space, version] = handle
                while len(self._pins) > 8:  # writers add a version per batch; keep the newest
                    self._pins.pop(next(iter(self._pins)))
        return version, handle

    async def _run(self, p: Probe, version: int | None, tbl) -> list[dict[str, Any]]:
        query = tbl._table.query()  # the AsyncTable under the sync handle
        if p.text is not None:
            query = query.nearest_to_text(p.text, columns="text").select([*p.columns, "_score"])
        else:
            t = self.tuning
            query = (
                query.nearest_to(p.vector)
                .column("vector")
                .distance_type("cosine")
                .nprobes(t.nprobes)
                .ef(max(t.ef, p.limit))
                .select([*p.columns, "_distance"])
            )
            if t.refine_factor:
                query = query.refine_factor(t.refine_factor)
        query = query.limit(p.limit)
        if p.row_id:
            query = query.with_row_id()
        if p.where:
            query = query.where(p.where)
        rows = (await query.to_arrow()).to_pylist()
        if version is not None:
            for row in rows:
                row["_version"] = version
        return rows

    def vector_search(
        self,
        space: str,
        vector,
        limit: int,
        where: str | None = None,
        columns: Sequence[str] = RESULT_COLUMNS,
    ) -> list[dict[str, Any]]:
        """Nearest segments by cosine distance (`_distance`); exact below the ANN threshold."""
        if space not in self.spaces():
            return []
        return self.run([Probe(space, limit, vector=vector, where=where, columns=columns)])[0]

    def search(self, space: str, vector, limit: int, where: str | None = None):
        return self.vector_search(space, vector, limit, where)

    def vector_batch(
        self,
        space: str,
        vectors: Sequence[Any],
        limit: int,
        where: str | None = None,
        columns: Sequence[str] = RANK_COLUMNS,
    ) -> list[list[dict[str, Any]]]:
        """Nearest rows (with `_rowid`) for several query vectors in one LanceDB query,
        which shares planning and I/O across them; one row list per vector."""
        vectors = list(vectors)
        probe = Probe(space, limit, vector=vectors, where=where, columns=columns, row_id=True)
        if len(vectors) == 1:
            return [self.run([replace(probe, vector=vectors[0])])[0]]
        out: list[list[dict[str, Any]]] = [[] for _ in vectors]
        for row in self.run([probe])[0]:
            out[row.pop("query_index")].append(row)
        for rows in out:
            rows.sort(key=lambda r: r["_distance"])
        return out

    def hydrate(self, space: str, rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Full rows by segment id for ranked rows from a row-id probe, read by row id from
        the version the probe read. Should that version be gone (cleaned up after a
        compaction), the rows are read by key from the current one."""
        from lancedb.background_loop import LOOP

        found: dict[str, dict[str, Any]] = {}
        by_version: dict[int, dict[str, int]] = {}
        for r in rows:
            by_version.setdefault(r["_version"], {})[r["segment_id"]] = r["_rowid"]
        for version, wanted in by_version.items():
            try:
                handle = self.pinned(space, version)[1]._table
                take = handle.take_row_ids(list(wanted.values())).select(RESULT_COLUMNS)
                got = asyncio.run_coroutine_threadsafe(take.to_arrow(), LOOP.loop).result()
            except (OSError, RuntimeError, ValueError) as exc:
                log.info("version %s of %s is gone (%s); reading rows by key", version, space, exc)
                with self._pins_lock:
                    self._pins.pop((space, version), None)
                continue
            found |= {r["segment_id"]: r for r in got.to_pylist() if r["segment_id"] in wanted}
        missing = [r["segment_id"] for r in rows if r["segment_id"] not in found]
        if missing:
            where = f"segment_id IN ({quote(missing)})"
            for row in self.vectors(space, where, len(missing)):
                row.pop("vector", None)
                found[row["segment_id"]] = row
        return found

    def text_search(
        self,
        space: str,
        text: str,
        limit: int,
        where: str | None = None,
        columns: Sequence[str] = RESULT_COLUMNS,
    ) -> list[dict[str, Any]]:
        """BM25 over segment text (`_score`); [] where the space has no full-text index."""
        if space not in self.spaces() or not self.info(space)["fts"]:
            return []
        return self.run([Probe(space, limit, text=text, where=where, columns=columns)])[0]

    def tokenize(self, space: str, text: str) -> list[str]:
        """`text` as the space's full-text index sees it (stemmed, stop words dropped)."""
        return [t.text for t in self.table(space).tokenize(text, column="text")]

    def vectors(self, space: str, where: str, limit: int = 64) -> list[dict[str, Any]]:
        """Rows with their vectors, e.g. the segments of one asset (for similar-item search)."""
        if space not in self.spaces():
            return []
        query = self.table(space).search().where(where).select([*RESULT_COLUMNS, "vector"])
        return query.limit(limit).to_arrow().to_pylist()

    def get(self, segment_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for space in self.spaces():
            rows = self.vectors(space, f"segment_id IN ({quote(segment_ids)})", len(segment_ids))
            for row in rows:
                found.setdefault(row["segment_id"], row | {"space": space})
        return found

    # ---- writing -------------------------------------------------------------------
    def upsert(
        self, space: str, rows: list[dict[str, Any]] | pa.Table, asset_ids: Sequence[str]
    ) -> int:
        """Make the index hold exactly `rows` for `asset_ids` in this space, in one commit."""
        n = rows.num_rows if isinstance(rows, pa.Table) else len(rows)
        if not n and space not in self.spaces():
            return 0
        if space not in self.spaces():
            dim = _dim(rows)
            self.db.create_table(table_name(space), schema=index_schema(dim), exist_ok=True)
            self.forget(space)
        tbl = self.table(space)
        if asset_ids and not n:
            where = f"asset_id IN ({quote(asset_ids)})"
            if not tbl.count_rows(where):
                return 0
            tbl.delete(where)
        elif n:
            data = _as_table(rows, tbl.schema)
            builder = (
                tbl.merge_insert("segment_id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
            )
            if asset_ids:
                builder = builder.when_not_matched_by_source_delete(
                    f"asset_id IN ({quote(asset_ids)})"
                )
            builder.execute(data)
        else:
            return 0
        self.refresh(space)
        return n

    def refresh(self, space: str) -> list[str]:
        """After a write: build the full-text index once text is there, fold new rows into
        existing indexes (and compact) otherwise. Returns what it did."""
        tbl = self.table(space)
        self._info.pop(space, None)
        done = []
        if self._wants_fts(space):
            self.create_fts(space)
            done.append("fts")
        elif tbl.list_indices():
            self.optimize(space)
            done.append("optimize")
        return done

    def _wants_fts(self, space: str) -> bool:
        if self.info(space)["fts"]:
            return False
        with_text = self.table(space).count_rows("text IS NOT NULL")
        return with_text >= max(1, self.tuning.fts_min_rows)

    def create_fts(self, space: str) -> None:
        from lancedb.index import FTS

        self.table(space).create_index("text", config=FTS(), replace=True)
        self._info.pop(space, None)

    def create_ann(self, space: str, kind: str | None = None) -> dict[str, Any]:
        """Train the ANN index (and scalar indexes on the keys); returns what it built."""
        kind = kind or self.tuning.ann_index_type
        tbl = self.table(space)
        rows = tbl.count_rows()
        dim = tbl.schema.field("vector").type.list_size
        t0 = time.perf_counter()
        tbl.create_index("vector", config=ann_config(kind, rows, dim), replace=True)
        seconds = time.perf_counter() - t0
        self.create_scalar(space)
        self._info.pop(space, None)
        log.info("built %s on %s (%d rows) in %.1fs", kind, space, rows, seconds)
        return {"type": kind, "rows": rows, "seconds": round(seconds, 2)}

    def create_scalar(self, space: str) -> None:
        from lancedb.index import BTree

        tbl = self.table(space)
        have = {c for i in tbl.list_indices() for c in i.columns}
        for column in SCALAR_COLUMNS:
            if column not in have:
                tbl.create_index(column, config=BTree(), replace=True)

    def ensure_indexes(self, space: str) -> dict[str, Any]:
        """Indexes a space should have at its size: full-text once it has text, ANN and
        scalar key indexes past `ann_min_rows`. Idempotent."""
        built: dict[str, Any] = {}
        if self._wants_fts(space):
            t0 = time.perf_counter()
            self.create_fts(space)
            built["fts_seconds"] = round(time.perf_counter() - t0, 2)
        info = self.info(space)
        if info["rows"] >= self.tuning.ann_min_rows and info["ann"] is None:
            built["ann"] = self.create_ann(space)
        return built

    def optimize(self, space: str) -> None:
        """Compact small fragments, fold new rows into the indexes, drop versions older than
        `keep_versions_s` (long enough for any reader still on an older version)."""
        keep = timedelta(seconds=self.tuning.keep_versions_s)
        self.table(space).optimize(cleanup_older_than=keep)
        self._info.pop(space, None)


def _dim(rows: list[dict[str, Any]] | pa.Table) -> int:
    if isinstance(rows, pa.Table):
        vectors = rows.column("vector")
        return len(vectors[0].as_py())
    return len(rows[0]["vector"])


def _as_table(rows: list[dict[str, Any]] | pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows in the table's schema; columns a writer does not have are null."""
    if not isinstance(rows, pa.Table):
        return pa.Table.from_pylist(rows, schema=schema)
    for f in schema:
        if f.name not in rows.column_names:
            rows = rows.append_column(f.name, pa.nulls(rows.num_rows, f.type))
    return rows.select(schema.names).cast(schema)
