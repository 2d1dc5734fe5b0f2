"""Daily safety net: every source listed whole (files nobody batched), and batches whose
index step never succeeded."""

import time

import dagster as dg
from dagster_aws.s3 import S3Resource

from dataflux_pipeline.catalog.observe import known_versions, mark_removed
from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogResource, SourcesResource, StorageResource
from dataflux_pipeline.defs.sensors.launch import ACTIVE, record, run_request
from dataflux_pipeline.defs.sensors.sources import list_source
from dataflux_pipeline.intake.batches import plan_from_listing


def incomplete_partitions(instance: dg.DagsterInstance) -> list[str]:
    """Batches whose index step never succeeded and that no run is on now (a queued or
    running batch would otherwise be analyzed twice, by two runs at once)."""
    keys = instance.get_dynamic_partitions(batch_partitions.name)
    done = instance.get_materialized_partitions(dg.AssetKey("search_index"))
    runs = instance.get_runs(dg.RunsFilter(job_name=ingest_job.name, statuses=ACTIVE))
    active = {r.tags.get("dagster/partition") for r in runs}
    return [k for k in keys if k not in done and k not in active]


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
    settings = sources.settings()
    live = catalog.catalog()
    watched = sources.watched()
    live.ensure_sources(watched)  # a source the sensor has not met yet (sensor off, new)
    batches = []
    for src in watched:
        listing, complete = list_source(src, s3, {}, time.time())  # no state: whole
        if complete:  # an unmounted folder is not a folder emptied
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
