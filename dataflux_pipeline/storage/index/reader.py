"""Reading the index (the service): ranked probes side by side on LanceDB's event loop,
pinned table versions, and the full rows of the hits a page shows."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from dataflux_pipeline.storage.index.base import (
    RANK_COLUMNS,
    RESULT_COLUMNS,
    IndexBase,
    Probe,
    quote,
    table_name,
)

log = logging.getLogger(__name__)


class IndexReader(IndexBase):
    """Ranked reads; never writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pins: dict[tuple[str, int], Any] = {}
        self._pins_lock = threading.Lock()  # request threads share the pins

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
