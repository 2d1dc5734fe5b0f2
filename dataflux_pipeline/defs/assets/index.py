"""Stage 4: the batch's vectors into the LanceDB index, and the relationships table."""

import dagster as dg
import polars as pl

from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogStore

SEGMENT_COLUMNS = ["segment_id", "kind", "start_s", "end_s", "page", "text", "thumbnail"]


@dg.asset(
    name="search_index",
    deps=["embeddings", "segments", "assets"],
    partitions_def=batch_partitions,
    group_name="serving",
    kinds={"lancedb"},
    retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def search_index(context: dg.AssetExecutionContext, catalog: CatalogStore):
    """Merge-insert on segment_id; segments the batch no longer has are deleted."""
    partition = context.partition_key
    tables = catalog.tables
    assets = tables.read("assets", partition)
    vectors = tables.read("embeddings", partition)
    joined = vectors.join(
        tables.read("segments", partition).select(SEGMENT_COLUMNS), on="segment_id", how="inner"
    ).join(assets.select("asset_id", "media_type", "file_name"), on="asset_id", how="left")
    asset_ids = assets["asset_id"].to_list()
    index = catalog.index()
    counts: dict[str, int] = {}
    spaces = set(joined["space"].unique().to_list()) | set(index.spaces())
    for space in sorted(spaces):
        rows = joined.filter(pl.col("space") == space).drop("space", "dim", "partition").to_dicts()
        counts[space] = index.upsert(space, rows, asset_ids)
    analyzed = assets.filter(pl.col("status") == "analyzed")["asset_id"].to_list()
    tables.update_assets(partition, {a: {"status": "indexed"} for a in analyzed})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            **{f"rows_{k}": v for k, v in counts.items()},
            **{f"index_total_{s}": index.count(s) for s in index.spaces()},
        }
    )
