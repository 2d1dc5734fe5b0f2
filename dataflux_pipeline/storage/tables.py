"""Parquet tables laid out as `<table>/partition=<key>/<part>.parquet` (hive style), on
local disk or S3.

One file set per partition, each file written whole (a temp name renamed into place
locally; a single PUT on S3), so a re-run replaces its own files (no duplicates) and a
crash never leaves a half-written file where a reader looks."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from dataflux_pipeline.storage.objects import Storage
from dataflux_pipeline.storage.schemas import TABLES

PARTITION_COLUMN = "partition"
_HIVE = ds.partitioning(pa.schema([(PARTITION_COLUMN, pa.string())]), flavor="hive")


class TableStore:
    def __init__(self, root: str | Path) -> None:
        self.storage = Storage(root)
        self.fs = self.storage.fs

    def _dir(self, table: str, partition: str) -> str:
        return self.storage.full(f"{table}/{PARTITION_COLUMN}={partition}")

    def write(
        self, table: str, partition: str, rows: Iterable[Mapping[str, Any]] | pa.Table, part="data"
    ) -> int:
        """Replace one part of one partition in whole; returns the rows written."""
        schema = TABLES[table]
        data = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(list(rows), schema)
        data = data.select(schema.names).cast(schema)
        folder = self._dir(table, partition)
        if self.storage.remote:
            buffer = io.BytesIO()
            pq.write_table(data, buffer, compression="zstd")
            self.fs.pipe_file(f"{folder}/{part}.parquet", buffer.getvalue())
            return data.num_rows
        local = Path(folder)
        local.mkdir(parents=True, exist_ok=True)
        for stale in local.glob(f".{part}.*.tmp"):  # left by a writer that was killed
            stale.unlink(missing_ok=True)
        tmp = local / f".{part}.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_table(data, tmp, compression="zstd")
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, local / f"{part}.parquet")
        finally:
            tmp.unlink(missing_ok=True)
        return data.num_rows

    def files(self, table: str, partition: str | None = None) -> list[str]:
        folder = self._dir(table, partition) if partition else self.storage.full(f"{table}/*")
        return sorted(self.fs.glob(f"{folder}/*.parquet"))

    def read(self, table: str, partition: str | None = None) -> pl.DataFrame:
        """The table (or one partition of it) with its `partition` column."""
        frames = [
            pl.from_arrow(pq.read_table(f, filesystem=self.fs)).with_columns(
                pl.lit(f.rsplit("/", 2)[-2].split("=", 1)[1]).alias(PARTITION_COLUMN)
            )
            for f in self.files(table, partition)
        ]
        if not frames:
            empty = pl.from_arrow(TABLES[table].empty_table())
            return empty.with_columns(pl.lit(None, pl.String).alias(PARTITION_COLUMN))
        return pl.concat(frames, how="vertical_relaxed")

    def scan(self, table: str) -> pl.LazyFrame:
        """Lazy hive-partitioned scan over every partition (filters are pushed down)."""
        files = self.files(table)
        if not files:
            return self.read(table).lazy()
        dataset = ds.dataset(
            files,
            filesystem=self.fs,
            format="parquet",
            partitioning=_HIVE,
            partition_base_dir=self.storage.full(table),
        )
        return pl.scan_pyarrow_dataset(dataset)

    def read_assets(self, table: str, partition: str, asset_ids: Iterable[str]) -> pl.DataFrame:
        """The rows of some contents in one partition."""
        df = self.read(table, partition)
        return df.filter(pl.col("asset_id").is_in(list(asset_ids)))

    def partitions_with(self, table: str, asset_ids: Iterable[str]) -> list[str]:
        """Partitions holding rows of any of these contents (reads only the id columns)."""
        ids = list(asset_ids)
        if not ids or not self.files(table):
            return []
        # relationships: by source or target, as drop_assets matches them
        columns = ["source_id", "target_id"] if table == "relationships" else ["asset_id"]
        found = (
            self.scan(table)
            .select(*columns, PARTITION_COLUMN)
            .filter(pl.any_horizontal(pl.col(c).str.slice(0, 64).is_in(ids) for c in columns))
            .select(PARTITION_COLUMN)
            .unique()
            .collect()
        )
        return sorted(found[PARTITION_COLUMN].to_list())

    def drop_assets(self, table: str, partition: str, asset_ids: Iterable[str]) -> int:
        """Rewrite one partition without these contents' rows; returns rows removed.
        (Relationships are keyed by source and target ids, asset or segment.)"""
        ids = set(asset_ids)
        files = self.files(table, partition)
        if not files or not ids:
            return 0
        data = pq.read_table(files[0], filesystem=self.fs)
        if table == "relationships":
            keep = [
                not ((s or "")[:64] in ids or (t or "")[:64] in ids)
                for s, t in zip(
                    data.column("source_id").to_pylist(),
                    data.column("target_id").to_pylist(),
                    strict=True,
                )
            ]
        else:
            keep = [a not in ids for a in data.column("asset_id").to_pylist()]
        removed = keep.count(False)
        if removed:
            self.write(table, partition, data.filter(pa.array(keep)))
        return removed
