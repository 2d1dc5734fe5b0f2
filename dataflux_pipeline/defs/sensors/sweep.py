"""Daily safety net: files nobody batched, and batches whose index step never succeeded."""

import dagster as dg

from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogStore
from dataflux_pipeline.defs.sensors.landing import run_request
from dataflux_pipeline.intake.batches import plan_batches


def incomplete_partitions(instance: dg.DagsterInstance) -> list[str]:
    keys = instance.get_dynamic_partitions(batch_partitions.name)
    done = instance.get_materialized_partitions(dg.AssetKey("search_index"))
    return [k for k in keys if k not in done]


@dg.schedule(
    job=ingest_job,
    cron_schedule="0 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sweep the landing folder and re-run batches that never reached the index.",
)
def daily_sweep(context: dg.ScheduleEvaluationContext, catalog: CatalogStore):
    plan = plan_batches(
        catalog.landing, catalog.ledger, {}, catalog.settle_seconds, catalog.batch_size
    )
    for batch in plan.batches:
        catalog.ledger.write(batch)
    new_keys = [b.partition for b in plan.batches]
    if new_keys:
        context.instance.add_dynamic_partitions(batch_partitions.name, new_keys)
    day = context.scheduled_execution_time.strftime("%Y%m%d")
    requests = [run_request(b, "sweep") for b in plan.batches]
    requests += [
        dg.RunRequest(
            partition_key=k, run_key=f"sweep-{day}-{k}", tags={"dataflux/source": "sweep"}
        )
        for k in incomplete_partitions(context.instance)
        if k not in new_keys
    ]
    if not requests:
        return dg.SkipReason("nothing missed")
    return requests
