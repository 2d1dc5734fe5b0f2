"""What every sensor that makes batches shares: record a batch (manifest first, then the
catalog's pending paths), and request a run for each batch Dagster has not registered
yet, which also re-requests a batch whose tick died between the two."""

from __future__ import annotations

import dagster as dg

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.observe import register_batch
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.intake.batches import Batch, Ledger

PRIORITY = {"sensor": "10", "reanalysis": "0", "sweep": "0"}  # new files jump the queue
ACTIVE = [  # a run in one of these is still on its partition (or on the catalog's sync)
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def run_request(batch: Batch, origin: str) -> dg.RunRequest:
    return dg.RunRequest(
        partition_key=batch.partition,
        run_key=batch.partition,
        tags={
            "dataflux/origin": origin,
            "dataflux/files": str(len(batch.files) or len(batch.assets)),
            "dagster/priority": PRIORITY.get(origin, "0"),
        },
    )


def record(ledger: Ledger, live: Catalog, batches: list[Batch]) -> None:
    for batch in batches:
        ledger.write(batch)
        register_batch(live, batch)


def unlaunched(ledger: Ledger, instance: dg.DagsterInstance) -> list[Batch]:
    known = set(instance.get_dynamic_partitions(batch_partitions.name))
    return [ledger.read(p) for p in ledger.partitions() if p not in known]


def recover(ledger: Ledger, live: Catalog, instance: dg.DagsterInstance) -> None:
    """Register the paths of batches whose tick died after writing the manifest: unknown
    to the catalog, they would be planned again into a second batch of the same files
    (registering again is a no-op)."""
    for batch in unlaunched(ledger, instance):
        register_batch(live, batch)


def launch(
    context: dg.SensorEvaluationContext,
    ledger: Ledger,
    cursor: str | None,
    origin: str,
    skip_reason: str = "no new files",
) -> dg.SensorResult:
    batches = unlaunched(ledger, context.instance)
    if not batches:
        return dg.SensorResult(cursor=cursor, skip_reason=skip_reason)
    files = sum(len(b.files) or len(b.assets) for b in batches)
    context.log.info(f"{files} file(s) or content(s) in {len(batches)} batch(es)")
    return dg.SensorResult(
        run_requests=[
            run_request(b, "reanalysis" if b.kind == "reanalysis" else origin) for b in batches
        ],
        dynamic_partitions_requests=[
            batch_partitions.build_add_request([b.partition for b in batches])
        ],
        cursor=cursor,
    )
