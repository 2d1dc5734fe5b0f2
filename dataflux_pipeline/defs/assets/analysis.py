"""Stage 2: run the analyzers over a batch; segments and per-kind feature tables."""

import json
import shutil
import time
import traceback

import dagster as dg

from dataflux_pipeline.analyzers import AnalysisError, MediaItem, analyze_file
from dataflux_pipeline.defs.assets.intake import failure_table, stored_paths
from dataflux_pipeline.defs.deployment import GPU_POOL, gpu_op_tags
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogStore
from dataflux_pipeline.settings import get_settings
from dataflux_pipeline.storage.objects import pull
from dataflux_pipeline.storage.schemas import FEATURE_TABLES

LIVE_STATUSES = ("cataloged", "analyzed", "indexed")
DESCRIPTOR_PART = "descriptors"  # model-free vectors land in `embeddings` beside the model ones
ANALYSIS_OUTPUTS = ("segments", *FEATURE_TABLES)


def _item(row: dict, catalog: CatalogStore) -> MediaItem:
    meta = json.loads(row["metadata"] or "{}")
    sidecars = {
        k: catalog.store_root / v["store_path"] for k, v in meta.get("sidecars", {}).items()
    }
    return MediaItem(
        path=catalog.store_root / row["store_path"],
        asset_id=row["asset_id"],
        mime_type=row["mime_type"],
        store_root=catalog.store_root,
        sidecars=sidecars,
    )


def thumbnails_rel(item: MediaItem, catalog: CatalogStore) -> str:
    return item.thumbnail_dir.relative_to(catalog.store_root).as_posix()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, deps=["assets"], group_name="analysis", kinds={"parquet"})
        for name in ANALYSIS_OUTPUTS
    ],
    partitions_def=batch_partitions,
    retry_policy=dg.RetryPolicy(max_retries=1, delay=5),
    # speech to text is the one model-heavy analyzer; with it on, analysis wants a GPU too
    pool=GPU_POOL if get_settings().whisper_model else None,
    op_tags=gpu_op_tags(get_settings()) if get_settings().whisper_model else None,
)
def analysis(context: dg.AssetExecutionContext, catalog: CatalogStore):
    """Analyze every live asset of the batch; a file that fails is marked failed, the rest go on."""
    partition = context.partition_key
    assets = catalog.tables.read("assets", partition)
    live = assets.filter(assets["status"].is_in(list(LIVE_STATUSES))).to_dicts()
    registry = catalog.registry()
    remote = catalog.remote_store()
    segments: list[dict] = []
    features: dict[str, list[dict]] = {t: [] for t in FEATURE_TABLES}
    vectors: list[dict] = []
    updates: dict[str, dict] = {}
    media_seconds = 0.0
    started = time.perf_counter()
    for n, row in enumerate(live, 1):
        t0 = time.perf_counter()
        item = _item(row, catalog)
        shutil.rmtree(item.thumbnail_dir, ignore_errors=True)  # none left from an older run
        pull(remote, catalog.store_root, stored_paths([row]))
        if remote is not None:
            remote.remove_tree(thumbnails_rel(item, catalog))
        try:
            result = analyze_file(item, registry)
        except AnalysisError as exc:
            updates[row["asset_id"]] = {"status": "failed", "error": str(exc)}
            context.log.warning(f"{row['file_name']}: {exc}")
            continue
        except Exception as exc:  # one broken file must not sink the batch
            context.log.error(f"{row['file_name']}: {traceback.format_exc()}")
            updates[row["asset_id"]] = {"status": "failed", "error": f"analyzer crashed: {exc!r}"}
            continue
        if remote is not None:
            remote.put_tree(item.thumbnail_dir, thumbnails_rel(item, catalog))
        segments += [s.model_dump() for s in result.segments]
        for table, rows in result.features.items():
            features[table] += rows
        vectors += [v.model_dump() | {"dim": len(v.vector)} for v in result.vectors]
        meta = json.loads(row["metadata"] or "{}") | {"technical": result.metadata}
        updates[row["asset_id"]] = {
            "status": "analyzed",
            "error": None,
            "duration_s": result.duration_s,
            "width": result.width,
            "height": result.height,
            "metadata": json.dumps(meta, default=str),
        }
        media_seconds += result.duration_s or 0.0
        context.log.info(
            f"analyzed {n}/{len(live)} {row['file_name']}: {len(result.segments)} segments "
            f"in {time.perf_counter() - t0:.2f}s"
        )
    counts = {"segments": catalog.tables.write("segments", partition, segments)}
    for table in FEATURE_TABLES:
        counts[table] = catalog.tables.write(table, partition, features[table])
    catalog.tables.write("embeddings", partition, vectors, part=DESCRIPTOR_PART)
    catalog.tables.update_assets(partition, updates)
    failed = [
        {"file_name": r["file_name"], "status": "failed", "error": updates[r["asset_id"]]["error"]}
        for r in live
        if updates[r["asset_id"]]["status"] == "failed"
    ]
    wall = time.perf_counter() - started
    for name in ANALYSIS_OUTPUTS:
        metadata = {"dagster/row_count": counts[name]}
        if name == "segments":
            metadata |= {
                "assets_analyzed": len(live) - len(failed),
                "assets_failed": len(failed),
                "media_seconds": round(media_seconds, 2),
                "realtime_factor": round(media_seconds / wall, 1) if wall else 0.0,
                "failures": failure_table(failed),
                "descriptor_vectors": len(vectors),
                "analyzers": ", ".join(f"{a.name} {a.version}" for a in registry.analyzers),
            }
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
