"""Stage 1: hash, store and type every file of a batch into the `assets` table."""

import contextlib
import json
import shutil
from collections import Counter
from pathlib import Path

import dagster as dg

from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogStore
from dataflux_pipeline.intake.records import Limits, intake_record, merge_duplicates
from dataflux_pipeline.storage.objects import Storage, push
from dataflux_pipeline.storage.tables import FINAL_STATUSES


def failure_table(rows: list[dict]) -> dg.MetadataValue:
    lines = ["| file | status | reason |", "| --- | --- | --- |"]
    lines += [
        f"| {r['file_name']} | {r['status']} | {r['error']} |"
        for r in rows
        if r["status"] in FINAL_STATUSES
    ]
    return dg.MetadataValue.md("\n".join(lines))


class LandingFiles:
    """Local paths for a batch's files: the landing folder itself, or copies of the S3
    objects fetched for the duration of the step (a vanished object stays missing, and the
    catalog records it as such)."""

    def __init__(self, catalog: CatalogStore, partition: str) -> None:
        self.source = Storage(catalog.landing_uri) if catalog.landing_uri else None
        self.base = catalog.landing_uri.rstrip("/") if catalog.landing_uri else None
        self.root = (
            catalog.settings.home / "incoming" / partition if self.source else catalog.landing
        )

    def local(self, rel: str) -> Path:
        path = self.root / rel
        if self.source is not None and not path.exists():
            with contextlib.suppress(FileNotFoundError):
                self.source.get_file(rel, path)
        return path

    def uri(self, rel: str) -> str | None:
        return f"{self.base}/{rel}" if self.base else None

    def __enter__(self) -> "LandingFiles":
        return self

    def __exit__(self, *_exc) -> None:
        if self.source is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def stored_paths(rows: list[dict]) -> list[str]:
    """Store-relative paths of every object (file and sidecars) the rows refer to."""
    paths = []
    for row in rows:
        if row.get("store_path"):
            paths.append(row["store_path"])
        sidecars = json.loads(row.get("metadata") or "{}").get("sidecars", {})
        paths += [s["store_path"] for s in sidecars.values()]
    return paths


@dg.asset(
    name="assets",
    partitions_def=batch_partitions,
    group_name="catalog",
    kinds={"parquet"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
)
def catalog_assets(context: dg.AssetExecutionContext, catalog: CatalogStore):
    """One row per distinct content in the batch: hashes, sniffed type, store copy, status."""
    partition = context.partition_key
    batch = catalog.ledger.read(partition)
    registry = catalog.registry()
    objects = catalog.store_root / "objects"
    limits = Limits(catalog.max_file_bytes, catalog.max_duration_s)
    with LandingFiles(catalog, partition) as landing:
        rows = []
        for n, f in enumerate(batch.files, 1):
            sidecars = {k: landing.local(v) for k, v in f.sidecars.items()}
            rows.append(
                intake_record(
                    landing.local(f.path),
                    landing.root,
                    sidecars,
                    objects,
                    limits,
                    registry.media_type,
                    uri=landing.uri(f.path),
                )
            )
            context.log.info(f"cataloged {n}/{len(batch.files)}: {f.path} -> {rows[-1]['status']}")
    others = catalog.tables.read("assets")
    others = others.filter(
        (others["partition"] != partition) & ~others["status"].is_in(list(FINAL_STATUSES))
    )
    rows = merge_duplicates(rows, set(others["asset_id"].to_list()))
    pushed = push(catalog.remote_store(), catalog.store_root, stored_paths(rows))
    written = catalog.tables.write("assets", partition, rows)
    statuses = Counter(r["status"] for r in rows)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "files": len(batch.files),
            "bytes": sum(r.get("size_bytes") or 0 for r in rows),
            "objects_uploaded": pushed,
            **{f"status_{k}": v for k, v in sorted(statuses.items())},
            "failures": failure_table(rows),
        }
    )
