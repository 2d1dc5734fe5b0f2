"""Turn what the catalog recorded into runs: re-analysis requests become partitions of
the ingest job, and changes the index has not followed yet (removals, deletions, names)
or contents due for purging start a `catalog_sync` run."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import select

from dataflux_pipeline.catalog.models import Asset, StaleRows
from dataflux_pipeline.catalog.purge import due
from dataflux_pipeline.catalog.requests import claim_reanalysis, pending_reanalysis
from dataflux_pipeline.defs.assets.lifecycle import catalog_sync_job
from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.resources import CatalogResource, SourcesResource, StorageResource
from dataflux_pipeline.defs.sensors.launch import ACTIVE, launch
from dataflux_pipeline.intake.batches import reanalysis_batch
from dataflux_pipeline.settings import get_settings


def needs_sync(live, retention_s: float) -> bool:
    """Index changes no in-flight batch will make, purges due, or stale rows."""
    with live.reading() as s:
        unclaimed_dirt = s.scalar(
            select(Asset.asset_id)
            .where(Asset.index_dirty, Asset.pending_partition.is_(None))
            .limit(1)
        )
        stale = s.scalar(select(StaleRows.asset_id).limit(1))
    return bool(unclaimed_dirt or stale or due(live, retention_s))


@dg.sensor(
    jobs=[ingest_job, catalog_sync_job],
    minimum_interval_seconds=get_settings().sensor_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-analysis requests become runs; removals, deletions and renames reach "
    "the index, and forgotten content is purged (catalog_sync).",
)
def catalog_sensor(
    context: dg.SensorEvaluationContext,
    storage: StorageResource,
    sources: SourcesResource,
    catalog: CatalogResource,
) -> dg.SensorResult:
    live = catalog.catalog()
    ids = pending_reanalysis(live, sources.batch_size)
    if ids:
        batch = reanalysis_batch(ids)
        storage.ledger.write(batch)
        claimed = claim_reanalysis(live, batch.partition, ids)
        context.log.info(f"re-analysis of {len(claimed)} content(s) in {batch.partition}")
    result = launch(context, storage.ledger, context.cursor, "reanalysis", "nothing to do")
    running = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=catalog_sync_job.name, statuses=ACTIVE), limit=1
    )
    if not running and needs_sync(live, catalog.retention_s):
        sync = dg.RunRequest(job_name=catalog_sync_job.name, run_key=f"sync-{live.generation()}")
        return dg.SensorResult(
            run_requests=[*(result.run_requests or []), sync],
            dynamic_partitions_requests=result.dynamic_partitions_requests,
            cursor=context.cursor,
        )
    return result
