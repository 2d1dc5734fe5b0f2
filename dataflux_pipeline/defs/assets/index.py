"""Stage 4: make this partition's new analyses current and bring the LanceDB index in
line with the live catalog for every content the partition touched (and any other the
catalog marked as changed): the index is a projection, never a log of batches."""

import dagster as dg
from sqlalchemy import select

from dataflux_pipeline.catalog.analysis import promote
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.catalog.projection import sync_index
from dataflux_pipeline.catalog.store import Catalog
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogResource, StorageResource


def touched(live: Catalog, storage: StorageResource, partition: str) -> list[str]:
    """Contents this partition took, holds, or that the catalog marked index-dirty."""
    ids = set(storage.tables.read("assets", partition)["asset_id"].to_list())
    with live.reading() as s:
        ids |= set(s.scalars(select(Asset.asset_id).where(Asset.analysis_partition == partition)))
    return sorted(ids)


def dirty(live: Catalog) -> list[str]:
    with live.reading() as s:
        return sorted(s.scalars(select(Asset.asset_id).where(Asset.index_dirty)))


@dg.asset(
    name="search_index",
    deps=["embeddings", "segments", "descriptors", "assets"],
    partitions_def=batch_partitions,
    group_name="serving",
    kinds={"lancedb"},
    retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def search_index(
    context: dg.AssetExecutionContext, storage: StorageResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    """Merge-insert on segment_id per space, with the rows of contents that are no longer
    live (or whose analysis moved on) deleted in the same commit."""
    partition = context.partition_key
    live = catalog.catalog()
    current = promote(live, partition)
    ids = sorted(set(touched(live, storage, partition)) | set(dirty(live)))
    index = storage.index()
    counts = sync_index(live, storage.tables, index, ids)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "contents_current_here": len(current),
            "contents_synced": len(ids),
            **{f"rows_{k}": v for k, v in counts.items()},
            **{f"index_total_{s}": index.count(s) for s in index.spaces()},
        }
    )
