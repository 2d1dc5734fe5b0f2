"""The figures of the overview page, computed with DuckDB: the live catalog (the caller's
visible part of it) as one Arrow table, the `analyses` Parquet table for media hours and
ingest throughput, and the query log for top and zero-result searches. Everything a
caller is shown is about what they may read; storage and queries are for admins."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

from dataflux_pipeline.serving.querylog import QueryLog
from dataflux_pipeline.serving.views import STATES, CatalogView
from dataflux_pipeline.storage.tables import PARTITION_COLUMN

SIZE_CACHE_S = 60.0


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _analyses(catalog: CatalogView) -> ds.Dataset | None:
    tables = catalog.tables
    files = tables.files("analyses")
    if not files:
        return None
    base = tables.storage.full("analyses")
    hive = ds.HivePartitioning(pa.schema([(PARTITION_COLUMN, pa.string())]))
    return ds.dataset(
        files, filesystem=tables.fs, format="parquet", partitioning=hive, partition_base_dir=base
    )


def _folder_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


class Overview:
    def __init__(self, catalog: CatalogView, queries: QueryLog, home: Path) -> None:
        self.catalog, self.queries, self.home = catalog, queries, home
        self._sizes: tuple[float, dict[str, int]] = (-1e18, {})
        self._lock = threading.Lock()

    def storage(self) -> dict[str, int]:
        """Bytes on disk here per area (walked at most once a minute)."""
        with self._lock:
            stamp, sizes = self._sizes
            if time.monotonic() - stamp > SIZE_CACHE_S:
                store = self.home / "store"
                sizes = {
                    "thumbnails": _folder_bytes(store / "thumbnails"),
                    "proxies": _folder_bytes(store / "proxies"),
                    "copies": _folder_bytes(store / "objects"),
                    "tables": _folder_bytes(self.home / "tables"),
                    "index": _folder_bytes(self.home / "lancedb"),
                }
                self._sizes = (time.monotonic(), sizes)
        return sizes

    def compute(self, visible: frozenset[str], admin: bool, days: int) -> dict[str, Any]:
        con = duckdb.connect()
        live = self.catalog.snapshot().assets.filter(pl.col("asset_id").is_in(list(visible)))
        live = live.with_columns(
            pl.col("status").replace_strict(STATES, default="processing").alias("state")
        )
        con.register("live", live.select(*_LIVE_COLUMNS).to_arrow())
        out: dict[str, Any] = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "days": days,
            "by_media_type": _rows(
                con,
                "SELECT coalesce(media_type, 'other') AS media_type, count(*) AS count, "
                "coalesce(sum(duration_s), 0) / 3600.0 AS hours, "
                "coalesce(sum(size_bytes), 0) AS bytes FROM live GROUP BY 1 ORDER BY 2 DESC",
            ),
            "by_state": _rows(
                con, "SELECT state, count(*) AS count FROM live GROUP BY 1 ORDER BY 2 DESC"
            ),
        }
        totals = _rows(
            con,
            "SELECT count(*) AS assets, coalesce(sum(duration_s), 0) / 3600.0 AS media_hours, "
            "coalesce(sum(size_bytes), 0) AS original_bytes FROM live",
        )[0]
        out |= totals
        out["throughput"] = self._throughput(con, days)
        if admin:
            out["storage"] = self.storage()
            out["queries"] = self._queries(con, days)
        return out

    def _throughput(self, con: duckdb.DuckDBPyConnection, days: int) -> dict[str, Any]:
        """Contents analyzed per hour (a day or two) or per day, with media hours."""
        bucket = "hour" if days <= 2 else "day"
        analyses = _analyses(self.catalog)
        if analyses is None:
            return {"bucket": bucket, "points": []}
        con.register("analyses", analyses)
        since = datetime.now(UTC) - timedelta(days=days)
        points = _rows(
            con,
            f"SELECT date_trunc('{bucket}', analyzed_at) AS \"at\", "
            "count(*) FILTER (WHERE status = 'analyzed') AS analyzed, "
            "count(*) FILTER (WHERE status = 'failed') AS failed, "
            "coalesce(sum(duration_s) FILTER (WHERE status = 'analyzed'), 0) / 3600.0 AS hours "
            "FROM analyses WHERE analyzed_at >= ? "
            "AND asset_id IN (SELECT asset_id FROM live) GROUP BY 1 ORDER BY 1",
            [since],
        )
        for p in points:
            p["at"] = p["at"].isoformat()
        return {"bucket": bucket, "points": points}

    def _queries(self, con: duckdb.DuckDBPyConnection, days: int) -> dict[str, Any]:
        files = self.queries.files(days)
        empty = {"total": 0, "zero_share": 0.0, "p95_ms": None, "top": [], "zero": []}
        if not files:
            return empty
        columns = {"at": "TIMESTAMPTZ", "query": "VARCHAR", "total": "BIGINT"}
        columns |= {"took_ms": "DOUBLE", "mode": "VARCHAR"}
        con.read_json(files, format="newline_delimited", columns=columns).create_view("q")
        summary = _rows(
            con,
            "SELECT count(*) AS total, avg((total = 0)::INT) AS zero_share, "
            "quantile_cont(took_ms, 0.95) AS p95_ms FROM q",
        )[0]
        top = _rows(
            con,
            "SELECT query, count(*) AS count, max(total) AS results FROM q "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
        )
        zero = _rows(
            con,
            "SELECT query, count(*) AS count FROM q WHERE total = 0 "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
        )
        return empty | summary | {"top": top, "zero": zero}


_LIVE_COLUMNS = ("asset_id", "media_type", "state", "size_bytes", "duration_s", "arrived_at")
