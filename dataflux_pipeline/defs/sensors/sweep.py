"""Daily safety net: every source listed whole (files nobody batched), and batches whose
index step never succeeded."""

import time

import dagster as dg
from dagster_aws.s3 import S3Resource

from dataflux_pipeline.catalog.observe import known_versions, mark_removed
from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogResource, SourcesResource, StorageResource
from dataflux_pipeline.defs.sensors.launch import record, run_request
from dataflux_pipeline.intake.batches import plan_from_listing
from dataflux_pipeline.intake.listing import list_folder, list_s3


def incomplete_partitions(instance: dg.DagsterInstance) -> list[str]:
    keys = instance.get_dynamic_partitions(batch_partitions.name)
    done = instance.get_materialized_partitions(dg.AssetKey("search_index"))
    return [k for k in keys if k not in done]


@dg.schedule(
    job=ingest_job,
    cron_schedule="0 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="List every source whole and re-run batches that never reached the index.",
)
def daily_sweep(
    context: dg.ScheduleEvaluationContext,
    storage: StorageResource,
    sources: SourcesResource,
    catalog: CatalogResource,
    s3: S3Resource,
):
    from pathlib import Path

    settings = sources.settings()
    live = catalog.catalog()
    watched = sources.watched()
    live.ensure_sources(watched)  # a source the sensor has not met yet (sensor off, new)
    batches = []
    for src in watched:
        listing = list_s3(s3.get_client(), src.uri) if src.remote else list_folder(Path(src.uri))
        mark_removed(live, src.name, listing)
        plan = plan_from_listing(
            listing,
            known_versions(live, src.name),
            {},
            src.settle(settings.settle_seconds),
            settings.batch_size,
            time.time(),
            src.name,
        )
        batches += plan.batches
    record(storage.ledger, live, batches)
    new_keys = [b.partition for b in batches]
    if new_keys:
        context.instance.add_dynamic_partitions(batch_partitions.name, new_keys)
    day = context.scheduled_execution_time.strftime("%Y%m%d")
    requests = [run_request(b, "sweep") for b in batches]
    requests += [
        dg.RunRequest(
            partition_key=k, run_key=f"sweep-{day}-{k}", tags={"dataflux/origin": "sweep"}
        )
        for k in incomplete_partitions(context.instance)
        if k not in new_keys
    ]
    if not requests:
        return dg.SkipReason("nothing missed")
    return requests
