"""Stage 3: embed the partition's segments: text with MiniLM, images and keyframes with
CLIP when it is configured (models/embed.py says which segment goes where)."""

import time

import dagster as dg

from dataflux_pipeline.defs.deployment import gpu_op_tags, gpu_pool
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogResource, EmbeddingModels, StorageResource
from dataflux_pipeline.models.embed import embed_segments
from dataflux_pipeline.settings import get_settings


def _load(loader, what: str):
    """A missing model folder is permanent (no retry); other load errors may be transient."""
    try:
        return loader()
    except FileNotFoundError as exc:
        raise dg.Failure(description=f"{what}: {exc}", allow_retries=False) from exc


@dg.asset(
    name="embeddings",
    deps=["segments"],
    partitions_def=batch_partitions,
    group_name="embeddings",
    kinds={"pytorch", "parquet"},
    pool=gpu_pool(get_settings()),
    op_tags=gpu_op_tags(get_settings()),
    retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def embeddings(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    catalog: CatalogResource,
    models: EmbeddingModels,
) -> dg.MaterializeResult:
    """One vector per segment and model space, with the model name and version."""
    partition = context.partition_key
    segs = storage.tables.read("segments", partition).to_dicts()
    t0 = time.perf_counter()
    text = _load(models.text, "text model") if segs else None
    clip = _load(models.clip, "CLIP model") if segs else None
    spaces = embed_segments(segs, text, clip, storage.store_root, log=context.log.info)
    rows = [
        {
            "segment_id": s["segment_id"],
            "asset_id": s["asset_id"],
            "space": space,
            "model": model.name,
            "model_version": model.version,
            "dim": model.dim,
            "vector": v.tolist(),
        }
        for space, (chosen, vectors, model) in spaces.items()
        for s, v in zip(chosen, vectors, strict=True)
    ]
    with catalog.catalog().partition_lock(partition):
        written = storage.tables.write("embeddings", partition, rows)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            **{f"vectors_{k}": len(v[0]) for k, v in spaces.items()},
            "seconds": round(time.perf_counter() - t0, 2),
        }
    )
