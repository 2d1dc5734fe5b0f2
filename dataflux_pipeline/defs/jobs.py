"""The per-batch ingest job: every partitioned asset, intake through index."""

import dagster as dg

from dataflux_pipeline.defs.deployment import run_tags
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.settings import get_settings

INGEST_SELECTION = dg.AssetSelection.groups("intake", "analysis", "embeddings", "serving")

ingest_job = dg.define_asset_job(
    "ingest",
    selection=INGEST_SELECTION,
    partitions_def=batch_partitions,
    description="Take, analyze, embed and index one batch of files.",
    tags=run_tags(get_settings()),
)
