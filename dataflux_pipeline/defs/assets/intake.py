"""Stage 1: read every file of a batch (hash, sniffed type, duration, sidecars), record
each version it took in the `assets` table, and tell the live catalog what each path now
holds. Only content new to the catalog is claimed for analysis."""

import json
from collections import Counter

import dagster as dg

from dataflux_pipeline.accounts.users import owner_labels
from dataflux_pipeline.catalog.intake import apply_intake
from dataflux_pipeline.catalog.requests import claim_reanalysis
from dataflux_pipeline.defs.assets.files import Sources
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import (
    AnalyzersResource,
    CatalogResource,
    SourcesResource,
    StorageResource,
)
from dataflux_pipeline.intake.records import IntakeRecord, Limits, take
from dataflux_pipeline.storage.objects import push

PROBLEMS = ("failed", "skipped")


def problem_table(rows: list[dict]) -> dg.MetadataValue:
    """Files that failed or were skipped, with the reason, as a table a person reads."""
    lines = ["| file | outcome | reason |", "| --- | --- | --- |"]
    lines += [f"| {r['file_name']} | {r['outcome']} | {r['error']} |" for r in rows]
    return dg.MetadataValue.md("\n".join(lines) if rows else "none")


def record_row(record: IntakeRecord) -> dict:
    row = record.model_dump()
    row["sidecars"] = json.dumps({k: v.model_dump() for k, v in record.sidecars.items()})
    return row


def stored_paths(records: list[IntakeRecord]) -> list[str]:
    """Store-relative paths of the copies (file and sidecars) the records made."""
    paths = [r.store_path for r in records if r.store_path]
    paths += [s.store_path for r in records for s in r.sidecars.values() if s.store_path]
    return paths


@dg.asset(
    name="assets",
    partitions_def=batch_partitions,
    group_name="intake",
    kinds={"parquet"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
)
def intake(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    sources: SourcesResource,
    catalog: CatalogResource,
    analyzers: AnalyzersResource,
) -> dg.MaterializeResult:
    """One row per file version the batch took: hashes, sniffed type, outcome."""
    partition = context.partition_key
    batch = storage.ledger.read(partition)
    live = catalog.catalog()
    if batch.kind == "reanalysis":
        claimed = claim_reanalysis(live, partition, batch.assets)
        storage.tables.write("assets", partition, [])
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "reanalysis": len(claimed), "claimed": len(claimed)}
        )
    registry = analyzers.registry()
    settings = sources.settings()
    limits = Limits(settings.max_file_bytes, settings.max_duration_s)
    objects = storage.store_root / "objects"
    records: list[IntakeRecord] = []
    with Sources(sources.watched(), storage.store_root.parent / "incoming" / partition) as files:
        for n, f in enumerate(batch.files, 1):
            if f.source not in files:
                context.log.warning(f"{f.path}: source {f.source!r} is no longer configured")
                continue
            src = files[f.source]
            src.fetch([f.path, *f.sidecars.values()])
            record = take(
                src.source,
                f.path,
                (f.size, f.mtime_ns),
                f.sidecars,
                objects,
                limits,
                registry.media_type,
            )
            records.append(record)
            context.log.info(f"took {n}/{len(batch.files)}: {f.path} -> {record.outcome}")
    excluded = live.excluded(r.asset_id for r in records)  # deleted: no row anywhere
    kept = [r for r in records if r.asset_id not in excluded]
    for r in records:  # nor a copy, in a source that copies originals
        if r.asset_id in excluded and r.store_path and r.store_path not in stored_paths(kept):
            (storage.store_root / r.store_path).unlink(missing_ok=True)
    pushed = push(storage.remote_store(), storage.store_root, stored_paths(kept))
    written = storage.tables.write("assets", partition, [record_row(r) for r in kept])
    owners = {
        src.name: (owner_labels(live.db, src.owner, src.group), src.default_visibility)
        for src in sources.watched()
    }
    change = apply_intake(live, partition, records, context.run_id, owners)
    outcomes = Counter(r.outcome for r in records)
    problems = [r.model_dump() for r in records if r.outcome in PROBLEMS]
    warnings = [w for r in records for w in r.warnings]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "files": len(batch.files),
            "bytes": sum(r.size_bytes or 0 for r in records),
            "objects_uploaded": pushed,
            "claimed_for_analysis": len(change.claimed),
            **{f"catalog_{k}": v for k, v in sorted(change.counts.items())},
            **{f"outcome_{k}": v for k, v in sorted(outcomes.items())},
            "problems": problem_table(problems),
            "sidecars_refused": dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings))
            if warnings
            else "none",
        }
    )
