"""The LanceDB search index: one table per embedding space, rows keyed by segment_id.

Writes are merge-inserts on segment_id plus a delete of the segments a re-analysis no
longer produces, so re-running a partition replaces rows instead of duplicating them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from dataflux_pipeline.storage import is_remote, lance_options

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


def index_schema(dim: int) -> pa.Schema:
    return pa.schema([*INDEX_COLUMNS, pa.field("vector", pa.list_(pa.float32(), dim))])


def table_name(space: str) -> str:
    return f"segments_{space}"


def _quote(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


class SearchIndex:
    def __init__(self, uri: str | Path, refresh_seconds: float | None = None) -> None:
        """`refresh_seconds` makes readers see new table versions that often (the service)."""
        import lancedb

        self.uri = str(uri)
        interval = None if refresh_seconds is None else timedelta(seconds=refresh_seconds)
        options = lance_options() if is_remote(self.uri) else None
        self.db = lancedb.connect(
            self.uri, read_consistency_interval=interval, storage_options=options
        )

    def spaces(self) -> list[str]:
        names = self.db.list_tables()
        names = getattr(names, "tables", names)
        return sorted(n.removeprefix("segments_") for n in names if n.startswith("segments_"))

    def table(self, space: str):
        return self.db.open_table(table_name(space))

    def upsert(self, space: str, rows: list[dict[str, Any]], asset_ids: Sequence[str]) -> int:
        """Make the index hold exactly `rows` for `asset_ids` in this space."""
        if not rows and space not in self.spaces():
            return 0
        dim = len(rows[0]["vector"]) if rows else None
        if space not in self.spaces():
            self.db.create_table(table_name(space), schema=index_schema(dim))
        tbl = self.table(space)
        if rows:
            data = pa.Table.from_pylist(rows, schema=tbl.schema)
            (
                tbl.merge_insert("segment_id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(data)
            )
        self._delete_stale(tbl, {r["segment_id"] for r in rows}, asset_ids)
        return len(rows)

    def _delete_stale(self, tbl, keep: set[str], asset_ids: Sequence[str]) -> None:
        for start in range(0, len(asset_ids), 200):
            where = f"asset_id IN ({_quote(asset_ids[start : start + 200])})"
            present = tbl.search().where(where).select(["segment_id"]).limit(None).to_arrow()
            stale = sorted(set(present["segment_id"].to_pylist()) - keep)
            for s in range(0, len(stale), 500):
                tbl.delete(f"segment_id IN ({_quote(stale[s : s + 500])})")

    def count(self, space: str) -> int:
        return self.table(space).count_rows() if space in self.spaces() else 0

    def search(
        self, space: str, vector, limit: int, where: str | None = None
    ) -> list[dict[str, Any]]:
        if space not in self.spaces():
            return []
        query = self.table(space).search(vector).distance_type("cosine").limit(limit)
        if where:
            query = query.where(where, prefilter=True)
        return query.to_list()

    def get(self, segment_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for space in self.spaces():
            tbl = self.table(space)
            rows = tbl.search().where(f"segment_id IN ({_quote(segment_ids)})").limit(None)
            for row in rows.to_list():
                found.setdefault(row["segment_id"], row)
        return found
