"""Stage 4b: the relationships table: the batch's sidecars, the segment hierarchy, and
images that look like one another anywhere in the live catalog."""

import dagster as dg
import polars as pl
from sqlalchemy import select

from dataflux_pipeline.analyzers.near_duplicates import near_duplicates
from dataflux_pipeline.catalog.models import Asset, SourcePath
from dataflux_pipeline.catalog.store import Catalog
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import AnalyzersResource, CatalogResource, StorageResource


def sidecar_rows(live: Catalog, analyzed: list[str]) -> list[dict]:
    """The sidecars of the contents analyzed here, as the catalog has them now: a
    re-analysis partition took no files, so its intake rows name none, and the rows of
    the partition it replaces are purged."""
    with live.reading() as s:
        roles: dict[str, dict[str, str]] = {}
        for a in s.scalars(select(Asset).where(Asset.asset_id.in_(analyzed))):
            sides = a.details.get("sidecars") or {}
            roles[a.asset_id] = {side["path"]: role for role, side in sides.items()}
        beside = s.execute(
            select(SourcePath.asset_id, SourcePath.source_id, SourcePath.path).where(
                SourcePath.asset_id.in_(analyzed), SourcePath.state == "sidecar"
            )
        )
        return [
            {"source_id": a, "target_uri": f"{source}:{path}", "kind": roles[a][path]}
            for a, source, path in beside
            if path in roles.get(a, {})
        ]


def relationship_rows(segments: pl.DataFrame) -> list[dict]:
    rows: list[dict] = []
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
    segments = tables.read("segments", partition)
    live = catalog.catalog()
    rows = sidecar_rows(live, segments["asset_id"].unique().to_list())
    rows += relationship_rows(segments)
    mine = tables.read("features_image", partition).filter(pl.col("phash").is_not_null())
    pairs = near_duplicates(
        list(mine.select("asset_id", "phash").iter_rows()),
        current_images(live, storage),
        analyzers.near_duplicate_max_distance,
    )
    rows += [
        {"source_id": a, "target_id": b, "kind": "near_duplicate", "distance": float(d)}
        for a, b, d in pairs
    ]
    with live.partition_lock(partition):
        written = tables.write("relationships", partition, rows)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    return dg.MaterializeResult(
        metadata={"dagster/row_count": written, **{f"kind_{k}": v for k, v in kinds.items()}}
    )
