"""Stage 2: analyze the contents this partition claimed (and re-analyze those whose
current analysis it holds); segments, per-kind features, model-free descriptors and one
`analyses` row per content. A content that fails is recorded with its reason; the rest
of the batch goes on."""

import json
import os
import shutil
import time
import traceback
from datetime import UTC, datetime

import dagster as dg
import xxhash

from dataflux_pipeline import __version__
from dataflux_pipeline.analyzers import AnalysisError, MediaItem, analyze_file
from dataflux_pipeline.catalog.analysis import Outcome, Work, record_analysis, work
from dataflux_pipeline.defs.assets.files import Sources
from dataflux_pipeline.defs.assets.intake import problem_table
from dataflux_pipeline.defs.deployment import gpu_op_tags, gpu_pool
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import (
    AnalyzersResource,
    CatalogResource,
    SourcesResource,
    StorageResource,
)
from dataflux_pipeline.intake.identity import IntakeError, contained
from dataflux_pipeline.settings import get_settings
from dataflux_pipeline.storage.objects import pull
from dataflux_pipeline.storage.schemas import FEATURE_TABLES

ANALYSIS_OUTPUTS = ("segments", *FEATURE_TABLES, "descriptors", "analyses")
_S = get_settings()
# speech to text and the vision models are the model-heavy analyzers: with one of them on
# a GPU deployment, the analysis step wants a GPU too
MODELS_ON_GPU = _S.uses_gpu and bool(
    _S.whisper_model or _S.ocr or _S.image_tags or _S.face_detection or _S.safety
)


class Unavailable(Exception):
    """The bytes of a content cannot be read here now (moved away, changed)."""


def _xxh(path) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def media_item(w: Work, storage: StorageResource, files: Sources) -> MediaItem:
    """The content's bytes as a local file: its stored copy, or a path that holds it now
    (checked to still be the same bytes), and its sidecars likewise."""
    root = storage.store_root
    remote = storage.remote_store()
    stored = [w.store_path] if w.store_path else []
    stored += [s["store_path"] for s in w.sidecars.values() if s.get("store_path")]
    pull(remote, root, stored)
    if w.store_path:
        path, source = root / w.store_path, None
    else:
        found = [(s, r) for s, r in w.paths if s in files]
        if not found:
            raise Unavailable("no source path holds this content now")
        source, rel = found[0]
        try:
            path = contained(files[source].local(rel), files[source].root)
        except IntakeError as exc:
            raise Unavailable(str(exc)) from exc
        if path.stat().st_size != w.size_bytes or _xxh(path) != w.xxh128:
            raise Unavailable(f"{rel} changed since it was taken; a later batch has it")
    sidecars = {}
    for kind, side in w.sidecars.items():
        if side.get("store_path"):
            sidecars[kind] = root / side["store_path"]
        elif source is not None:
            try:
                sidecars[kind] = contained(files[source].local(side["path"]), files[source].root)
            except IntakeError:
                continue
    return MediaItem(
        path=path, asset_id=w.asset_id, mime_type=w.mime_type, store_root=root, sidecars=sidecars
    )


def publish_thumbnails(item: MediaItem) -> None:
    """An analysis's derived images replace the asset's previous ones, in one rename."""
    shutil.rmtree(item.thumbnail_dir, ignore_errors=True)
    if item.staging is not None and item.staging.is_dir():
        item.thumbnail_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(item.staging, item.thumbnail_dir)


def carried_over(storage: StorageResource, partition: str, asset_id: str) -> dict[str, list]:
    """This partition's existing rows of a content it cannot read now (a re-run after the
    file moved away): kept as they are rather than lost."""
    return {
        t: storage.tables.read_assets(t, partition, [asset_id]).drop("partition").to_dicts()
        for t in ANALYSIS_OUTPUTS
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, deps=["assets"], group_name="analysis", kinds={"parquet"})
        for name in ANALYSIS_OUTPUTS
    ],
    partitions_def=batch_partitions,
    retry_policy=dg.RetryPolicy(max_retries=1, delay=5),
    # speech to text is the one model-heavy analyzer; with it on a GPU, analysis wants one
    pool=gpu_pool(get_settings()) if MODELS_ON_GPU else None,
    op_tags=gpu_op_tags(get_settings()) if MODELS_ON_GPU else None,
)
def analysis(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    sources: SourcesResource,
    catalog: CatalogResource,
    analyzers: AnalyzersResource,
):
    """Analyze every content this partition holds; each file is decoded once."""
    partition = context.partition_key
    live = catalog.catalog()
    todo = work(live, partition)
    registry = analyzers.registry()
    remote = storage.remote_store()
    out: dict[str, list[dict]] = {t: [] for t in ANALYSIS_OUTPUTS}
    outcomes: dict[str, Outcome] = {}
    media_seconds, started = 0.0, time.perf_counter()
    staging = storage.store_root.parent / "incoming" / f"analysis-{partition}"
    with Sources(sources.watched(), staging) as files:
        for n, w in enumerate(todo, 1):
            t0 = time.perf_counter()
            try:
                item = media_item(w, storage, files)
            except Unavailable as exc:
                if w.current:
                    for table, rows in carried_over(storage, partition, w.asset_id).items():
                        out[table] += rows
                    context.log.info(f"{w.file_name}: kept as analyzed before ({exc})")
                else:
                    outcomes[w.asset_id] = Outcome("failed", f"not analyzed: {exc}")
                continue
            # beside the store's thumbnails: the same filesystem, so publishing is a rename
            item.staging = storage.store_root / "thumbnails" / ".staging" / partition / w.asset_id
            shutil.rmtree(item.staging, ignore_errors=True)  # none left from an older run
            try:
                result = analyze_file(item, registry)
            except AnalysisError as exc:
                outcomes[w.asset_id] = Outcome("failed", str(exc))
                context.log.warning(f"{w.file_name}: {exc}")
                continue
            except Exception as exc:  # one broken file must not sink the batch
                context.log.error(f"{w.file_name}: {traceback.format_exc()}")
                outcomes[w.asset_id] = Outcome("failed", f"analyzer crashed: {exc!r}")
                continue
            finally:
                if w.asset_id in outcomes:  # failed: the served thumbnails stay as they are
                    shutil.rmtree(item.staging, ignore_errors=True)
            publish_thumbnails(item)
            if remote is not None:
                rel = item.thumbnail_dir.relative_to(storage.store_root).as_posix()
                remote.put_tree(item.thumbnail_dir, rel)
            versions = {s.analyzer: s.analyzer_version for s in result.segments if s.analyzer}
            versions["dataflux"] = __version__
            seconds = time.perf_counter() - t0
            outcomes[w.asset_id] = Outcome(
                "analyzed",
                duration_s=result.duration_s,
                width=result.width,
                height=result.height,
                technical=json.loads(json.dumps(result.metadata, default=str)),
                analyzers=versions,
            )
            out["segments"] += [s.model_dump() for s in result.segments]
            for table, rows in result.features.items():
                out[table] += rows
            out["descriptors"] += [v.model_dump() | {"dim": len(v.vector)} for v in result.vectors]
            media_seconds += result.duration_s or 0.0
            context.log.info(
                f"analyzed {n}/{len(todo)} {w.file_name}: {len(result.segments)} segments "
                f"in {seconds:.2f}s"
            )
    now = datetime.now(UTC)
    out["analyses"] += [
        {
            "asset_id": asset_id,
            "status": o.status,
            "error": o.error,
            "duration_s": o.duration_s,
            "width": o.width,
            "height": o.height,
            "metadata": json.dumps(o.technical),
            "analyzers": json.dumps(o.analyzers),
            "analyzed_at": now,
        }
        for asset_id, o in outcomes.items()
    ]
    with live.partition_lock(partition):
        counts = {t: storage.tables.write(t, partition, out[t]) for t in ANALYSIS_OUTPUTS}
    record_analysis(live, partition, outcomes, context.run_id)
    failed = [
        {"file_name": w.file_name, "outcome": "failed", "error": outcomes[w.asset_id].error}
        for w in todo
        if w.asset_id in outcomes and outcomes[w.asset_id].status == "failed"
    ]
    wall = time.perf_counter() - started
    for name in ANALYSIS_OUTPUTS:
        metadata: dict = {"dagster/row_count": counts[name]}
        if name == "segments":
            metadata |= {
                "contents_analyzed": sum(o.status == "analyzed" for o in outcomes.values()),
                "contents_failed": len(failed),
                "media_seconds": round(media_seconds, 2),
                "realtime_factor": round(media_seconds / wall, 1) if wall else 0.0,
                "failures": problem_table(failed),
                "analyzers": ", ".join(f"{a.name} {a.version}" for a in registry.analyzers),
            }
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
