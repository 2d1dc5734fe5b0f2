"""Stage 2b: browser-playable proxies of the batch's audio and video that browsers cannot
play as they are (analyzers.playback). Its own asset with its own code version: a new
proxy format re-materializes this step alone, and a file that plays as it is costs one
probe. A proxy that cannot be made leaves the original as the only playback; the batch
goes on."""

import dagster as dg
import polars as pl

from dataflux_pipeline.analyzers.playback import (
    PROXY_VERSION,
    ProxySettings,
    make_proxy,
    proxy_rel,
    why_proxy,
)
from dataflux_pipeline.catalog.analysis import work
from dataflux_pipeline.defs.assets.analysis import media_item
from dataflux_pipeline.defs.assets.files import Sources
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import (
    AnalyzersResource,
    CatalogResource,
    SourcesResource,
    StorageResource,
)
from dataflux_pipeline.intake.identity import media_type_of


@dg.asset(
    name="proxies",
    deps=["analyses"],
    partitions_def=batch_partitions,
    group_name="analysis",
    kinds={"video"},
    code_version=PROXY_VERSION,
)
def proxies(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    sources: SourcesResource,
    catalog: CatalogResource,
    analyzers: AnalyzersResource,
) -> dg.MaterializeResult:
    """An H.264/AAC MP4 for each analyzed audio or video content a browser cannot play."""
    partition = context.partition_key
    counts = {"made": 0, "plays_as_is": 0, "already_made": 0, "failed": 0}
    if not analyzers.proxies:
        return dg.MaterializeResult(metadata={"skipped": "DATAFLUX_PROXIES is off"})
    analyses = storage.tables.read("analyses", partition)
    analyzed = set(analyses.filter(pl.col("status") == "analyzed")["asset_id"].to_list())
    todo = [
        w
        for w in work(catalog.catalog(), partition)
        if w.asset_id in analyzed and media_type_of(w.mime_type) in ("video", "audio")
    ]
    knobs = ProxySettings(
        analyzers.proxy_max_height, analyzers.proxy_video_kbps, analyzers.proxy_audio_kbps
    )
    root, remote = storage.store_root, storage.remote_store()
    staging = root.parent / "incoming" / f"proxies-{partition}"
    with Sources(sources.watched(), staging) as files:
        for w in todo:
            rel = proxy_rel(w.asset_id)
            if (root / rel).exists() or (remote is not None and remote.exists(rel)):
                counts["already_made"] += 1
                continue
            try:
                item = media_item(w, storage, files)
                reason = why_proxy(item.path, w.mime_type)
                if reason is None:
                    counts["plays_as_is"] += 1
                    continue
                made = make_proxy(item.path, root / rel, knobs)
            except Exception as exc:  # one file a decoder chokes on must not sink the batch
                counts["failed"] += 1
                context.log.warning(f"{w.file_name}: no proxy ({exc})")
                continue
            if remote is not None:
                remote.put_file(root / rel, rel)
            counts["made"] += 1
            context.log.info(f"{w.file_name}: proxy {made} ({reason})")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts["made"],
            **{f"proxies_{k}": v for k, v in counts.items()},
        }
    )
