"""Stage 3: embed text segments (MiniLM) and images/keyframes (CLIP, when configured)."""

import time

import dagster as dg

from dataflux_pipeline.defs.deployment import GPU_POOL, gpu_op_tags
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogStore, EmbeddingModels
from dataflux_pipeline.settings import get_settings

MODEL_PART = "models"
CONTAINER_KINDS = ("page",)  # their text is already in their chunks; embedding it twice adds noise


def _load(loader, what: str):
    """A missing model folder is permanent (no retry); other load errors may be transient."""
    try:
        return loader()
    except FileNotFoundError as exc:
        raise dg.Failure(description=f"{what}: {exc}", allow_retries=False) from exc


def _rows(segs: list[dict], vectors, embedder, space: str) -> list[dict]:
    return [
        {
            "segment_id": s["segment_id"],
            "asset_id": s["asset_id"],
            "space": space,
            "model": embedder.name,
            "model_version": embedder.version,
            "dim": embedder.dim,
            "vector": v.tolist(),
        }
        for s, v in zip(segs, vectors, strict=True)
    ]


@dg.asset(
    name="embeddings",
    deps=["segments"],
    partitions_def=batch_partitions,
    group_name="embeddings",
    kinds={"pytorch", "parquet"},
    pool=GPU_POOL,
    op_tags=gpu_op_tags(get_settings()),
    retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def embeddings(context: dg.AssetExecutionContext, catalog: CatalogStore, models: EmbeddingModels):
    """One vector per segment and embedding space, with the model name and version."""
    segs = catalog.tables.read("segments", context.partition_key).to_dicts()
    rows: list[dict] = []
    per_space: dict[str, int] = {}
    t0 = time.perf_counter()
    texts = [s for s in segs if s["text"] and s["kind"] not in CONTAINER_KINDS]
    if texts:
        text = _load(models.text, "text model")
        rows += _rows(texts, text.encode([s["text"] for s in texts]), text, text.space)
        per_space[text.space] = len(texts)
        context.log.info(f"embedded {len(texts)} text segments with {text.name} on {text.device}")
    clip = _load(models.clip, "CLIP model")
    images = [s for s in segs if s["thumbnail"]]
    if clip is not None and images:
        paths = [catalog.store_root / s["thumbnail"] for s in images]
        rows += _rows(images, clip.encode_images(paths), clip, clip.space)
        per_space[clip.space] = len(images)
        context.log.info(f"embedded {len(images)} images/keyframes with {clip.name}")
    elif images:
        context.log.info(f"CLIP not configured: {len(images)} images/keyframes not embedded")
    written = catalog.tables.write("embeddings", context.partition_key, rows, part=MODEL_PART)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            **{f"vectors_{k}": v for k, v in per_space.items()},
            "seconds": round(time.perf_counter() - t0, 2),
        }
    )
