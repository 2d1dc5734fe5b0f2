"""Parquet tables laid out as `<table>/partition=<key>/<part>.parquet` (hive style).

One file set per partition, written to a temp name and renamed into place, so a re-run
replaces its own files (no duplicates) and a crash never leaves a half-written file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dataflux_pipeline.schemas import TABLES

PARTITION_COLUMN = "partition"
FINAL_STATUSES = ("failed", "skipped", "duplicate")


class TableStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def partition_dir(self, table: str, partition: str) -> Path:
        return self.root / table / f"{PARTITION_COLUMN}={partition}"

    def write(
        self, table: str, partition: str, rows: Iterable[Mapping[str, Any]] | pa.Table, part="data"
    ) -> int:
        """Replace one part of one partition atomically; returns the rows written."""
        schema = TABLES[table]
        data = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(list(rows), schema)
        data = data.select(schema.names).cast(schema)
        folder = self.partition_dir(table, partition)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f".{part}.*.tmp"):  # left by a writer that was killed
            stale.unlink(missing_ok=True)
        tmp = folder / f".{part}.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_table(data, tmp, compression="zstd")
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, folder / f"{part}.parquet")
        finally:
            tmp.unlink(missing_ok=True)
        return data.num_rows

    def files(self, table: str, partition: str | None = None) -> list[Path]:
        base = self.root / table
        pattern = f"{PARTITION_COLUMN}={partition}/*.parquet" if partition else "*/*.parquet"
        return sorted(base.glob(pattern))

    def read(self, table: str, partition: str | None = None) -> pl.DataFrame:
        """The table (or one partition of it) with its `partition` column."""
        files = self.files(table, partition)
        empty = pl.from_arrow(TABLES[table].empty_table())
        if not files:
            return empty.with_columns(pl.lit(None, pl.String).alias(PARTITION_COLUMN))
        frames = [
            pl.read_parquet(f).with_columns(
                pl.lit(f.parent.name.split("=", 1)[1]).alias(PARTITION_COLUMN)
            )
            for f in files
        ]
        return pl.concat(frames, how="vertical_relaxed")

    def scan(self, table: str) -> pl.LazyFrame:
        """Lazy hive-partitioned scan over every partition, for analytics."""
        return pl.scan_parquet(self.root / table / "**/*.parquet", hive_partitioning=True)

    def update_assets(self, partition: str, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Set columns (status, error, duration...) of asset rows in one partition, atomically.

        Rows already `failed`, `skipped` or `duplicate` keep that status: later steps only
        move live assets along (cataloged -> analyzed -> indexed)."""
        if not updates:
            return
        path = self.partition_dir("assets", partition) / "data.parquet"
        rows = pq.read_table(path).to_pylist()
        for row in rows:
            if row["asset_id"] in updates and row["status"] not in FINAL_STATUSES:
                row.update(updates[row["asset_id"]])
        self.write("assets", partition, rows)
