"""Catalog upkeep outside the batch runs: the index follows every change the catalog
recorded (removals, deletions, renames), then what is to be forgotten is purged.

Both assets are unpartitioned; the catalog sensor requests a `catalog_sync` run whenever
the catalog has something for them, so a file removed from a watched folder or deleted
through the API leaves the index (and, after the retention period, every table) without
waiting for a new batch."""

import dagster as dg

from dataflux_pipeline.catalog.projection import disagreements, sync_index
from dataflux_pipeline.catalog.purge import due, purge, purge_stale
from dataflux_pipeline.defs.assets.index import dirty
from dataflux_pipeline.defs.resources import CatalogResource, StorageResource

LIFECYCLE_GROUP = "lifecycle"


@dg.asset(
    name="index_sync",
    deps=["search_index"],
    group_name=LIFECYCLE_GROUP,
    kinds={"lancedb"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
)
def index_sync(storage: StorageResource, catalog: CatalogResource) -> dg.MaterializeResult:
    """Every content the catalog marked as changed gets exactly the index rows it should
    have now (none, once it is no longer live)."""
    live = catalog.catalog()
    ids = dirty(live)
    index = storage.index()
    counts = sync_index(live, storage.tables, index, ids)
    problems = disagreements(live, storage.tables, index, ids)
    if problems:
        raise dg.Failure(description="index disagrees with the catalog: " + "; ".join(problems))
    return dg.MaterializeResult(
        metadata={"contents_synced": len(ids), **{f"rows_{k}": v for k, v in counts.items()}}
    )


@dg.asset(
    name="purged",
    deps=["index_sync"],
    group_name=LIFECYCLE_GROUP,
    kinds={"parquet"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
)
def purged(
    context: dg.AssetExecutionContext, storage: StorageResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    """Deleted contents, and removed ones past DATAFLUX_RETENTION_S, lose their rows,
    copies and thumbnails; rows a re-analysis left behind go too."""
    live = catalog.catalog()
    ids = due(live, catalog.retention_s)
    sync_index(live, storage.tables, storage.index(), ids)  # out of the index first
    report = purge(live, storage.tables, storage.objects(), ids, storage.remote_store())
    purge_stale(live, storage.tables, report)
    context.log.info(f"purged {len(report.purged)} content(s): {report.rows_removed}")
    return dg.MaterializeResult(
        metadata={
            "contents_purged": len(report.purged),
            "files_removed": report.files_removed,
            "stale_rows_removed": report.stale_rows_removed,
            **{f"rows_{k}": v for k, v in report.rows_removed.items()},
        }
    )


catalog_sync_job = dg.define_asset_job(
    "catalog_sync",
    selection=dg.AssetSelection.groups(LIFECYCLE_GROUP),
    description="Index follows the catalog's changes; forgotten content is purged.",
    tags={"dagster/priority": "5"},
)
