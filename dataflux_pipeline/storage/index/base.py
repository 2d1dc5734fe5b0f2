"""What the index reader and writer share: one LanceDB connection per URI, table names,
the cached list of spaces and their shape, and the knobs of the ANN index."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from dataflux_pipeline.storage.objects import is_remote, lance_options
from dataflux_pipeline.storage.schemas import INDEX_COLUMNS

RESULT_COLUMNS = [
    f.name for f in INDEX_COLUMNS if f.name not in ("model", "model_version", "readers")
]
# What ranking needs of a candidate; the rest of a row is read only for the hits shown
# (see SearchIndex.hydrate): 20 full rows cost about 4 ms more per probe at 1M rows.
RANK_COLUMNS = ["segment_id", "asset_id"]
ANN_TYPES = ("IVF_HNSW_SQ", "IVF_SQ", "IVF_PQ")
SCALAR_COLUMNS = ("segment_id", "asset_id")
# file and folder names as words: full-text only (its vectors are a 1-dim placeholder)
NAMES_SPACE = "names"


def table_name(space: str) -> str:
    return f"segments_{space}"


def readable_by(labels: Sequence[str]) -> str:
    """The prefilter that keeps rows one of these reader labels may see."""
    return f"array_has_any(readers, [{quote(sorted(labels))}])"


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


class IndexBase:
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

    def segment_ids(self, space: str, where: str) -> list[str]:
        """Segment ids of the rows matching `where` (duplicates kept: a check counts them)."""
        if space not in self.spaces():
            return []
        query = self.table(space).search().where(where).select(["segment_id"]).limit(None)
        return query.to_arrow()["segment_id"].to_pylist()

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
