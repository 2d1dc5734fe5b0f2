"""Stage 4b: the relationships table: the batch's sidecars, the segment hierarchy, and
images that look like one another anywhere in the live catalog."""

import json

import dagster as dg
import polars as pl
from sqlalchemy import select

from dataflux_pipeline.analyzers.near_duplicates import near_duplicates
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.catalog.store import Catalog
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import AnalyzersResource, CatalogResource, StorageResource


def relationship_rows(intake: pl.DataFrame, segments: pl.DataFrame) -> list[dict]:
    rows: list[dict] = []
    analyzed = set(segments["asset_id"].to_list())
    for r in intake.filter(pl.col("asset_id").is_in(list(analyzed))).to_dicts():
        for kind, side in json.loads(r["sidecars"] or "{}").items():
            uri = f"{r['source']}:{side['path']}"
            rows.append({"source_id": r["asset_id"], "target_uri": uri, "kind": kind})
    for s in segments.select("segment_id", "asset_id", "parent_id", "kind").to_dicts():
        rows.append(
            {
                "source_id": s["segment_id"],
                "target_id": s["parent_id"] or s["asset_id"],
                "kind": "keyframe_of" if s["kind"] == "keyframe" else "segment_of",
            }
        )
    return rows


def current_images(live: Catalog, storage: StorageResource) -> list[tuple[str, str]]:
    """(asset_id, phash) of every live image, from the partition holding its analysis."""
    with live.reading() as s:
        where = {
            a: p
            for a, p in s.execute(
                select(Asset.asset_id, Asset.analysis_partition).where(
                    Asset.live, Asset.analysis_partition.isnot(None)
                )
            )
        }
    images = storage.tables.read("features_image").filter(pl.col("phash").is_not_null())
    return [
        (a, h)
        for a, h, p in images.select("asset_id", "phash", "partition").iter_rows()
        if where.get(a) == p
    ]


@dg.asset(
    name="relationships",
    deps=["assets", "segments", "features_image"],
    partitions_def=batch_partitions,
    group_name="analysis",
    kinds={"parquet"},
)
def relationships(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    catalog: CatalogResource,
    analyzers: AnalyzersResource,
) -> dg.MaterializeResult:
    """Sidecars, the segment hierarchy, and near-duplicate images across the catalog."""
    partition = context.partition_key
    tables = storage.tables
    rows = relationship_rows(tables.read("assets", partition), tables.read("segments", partition))
    mine = tables.read("features_image", partition).filter(pl.col("phash").is_not_null())
    pairs = near_duplicates(
        list(mine.select("asset_id", "phash").iter_rows()),
        current_images(catalog.catalog(), storage),
        analyzers.near_duplicate_max_distance,
    )
    rows += [
        {"source_id": a, "target_id": b, "kind": "near_duplicate", "distance": float(d)}
        for a, b, d in pairs
    ]
    with catalog.catalog().partition_lock(partition):
        written = tables.write("relationships", partition, rows)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    return dg.MaterializeResult(
        metadata={"dagster/row_count": written, **{f"kind_{k}": v for k, v in kinds.items()}}
    )
