"""The per-batch ingest job: every partitioned asset, catalog through index."""

import dagster as dg

from dataflux_pipeline.defs.deployment import run_tags
from dataflux_pipeline.defs.partitions import batch_partitions

INGEST_SELECTION = dg.AssetSelection.groups("catalog", "analysis", "embeddings", "serving")

ingest_job = dg.define_asset_job(
    "ingest",
    selection=INGEST_SELECTION,
    partitions_def=batch_partitions,
    description="Catalog, analyze, embed and index one batch of landed files.",
    tags=run_tags(),
)
