"""Watch the landing folder: stable new files become a batch, a partition and one run."""

import dagster as dg

from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogStore
from dataflux_pipeline.intake.batches import (
    Batch,
    Plan,
    decode_pending,
    encode_pending,
    plan_batches,
)
from dataflux_pipeline.settings import get_settings


def run_request(batch: Batch, source: str) -> dg.RunRequest:
    return dg.RunRequest(
        partition_key=batch.partition,
        run_key=batch.partition,
        tags={"dataflux/source": source, "dataflux/files": str(len(batch.files))},
    )


def unlaunched_batches(catalog: CatalogStore, instance: dg.DagsterInstance) -> list[Batch]:
    """Manifests written by a tick that died before its partition was registered."""
    known = set(instance.get_dynamic_partitions(batch_partitions.name))
    return [b for b in catalog.ledger.batches() if b.partition not in known]


def launch(
    context: dg.SensorEvaluationContext, catalog: CatalogStore, plan: Plan, cursor: str, source: str
) -> dg.SensorResult:
    """Record the plan's batches, then request a run for every batch not yet registered."""
    for batch in plan.batches:
        catalog.ledger.write(batch)
    batches = unlaunched_batches(catalog, context.instance)
    if not batches:
        return dg.SensorResult(cursor=cursor, skip_reason="no new files")
    context.log.info(
        f"{sum(len(b.files) for b in batches)} new file(s) in {len(batches)} batch(es)"
    )
    return dg.SensorResult(
        run_requests=[run_request(b, source) for b in batches],
        dynamic_partitions_requests=[
            batch_partitions.build_add_request([b.partition for b in batches])
        ],
        cursor=cursor,
    )


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.STOPPED
    if get_settings().landing_uri
    else dg.DefaultSensorStatus.RUNNING,
    description="New, stable files in the landing folder, in batches of DATAFLUX_BATCH_SIZE.",
)
def landing_sensor(context: dg.SensorEvaluationContext, catalog: CatalogStore):
    plan = plan_batches(
        catalog.landing,
        catalog.ledger,
        decode_pending(context.cursor),
        catalog.settle_seconds,
        catalog.batch_size,
    )
    if plan.pending:
        context.log.info(f"{len(plan.pending)} file(s) still settling: {sorted(plan.pending)[:5]}")
    return launch(context, catalog, plan, encode_pending(plan.pending), "sensor")
