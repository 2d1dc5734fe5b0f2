"""Stage 4b: the relationships table, derived from the batch's assets and segments."""

import json

import dagster as dg
import polars as pl

from dataflux_pipeline.analyzers.near_duplicates import near_duplicates
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import CatalogStore


def relationship_rows(assets: pl.DataFrame, segments: pl.DataFrame) -> list[dict]:
    rows: list[dict] = []
    for a in assets.to_dicts():
        for kind, side in json.loads(a["metadata"] or "{}").get("sidecars", {}).items():
            rows.append({"source_id": a["asset_id"], "target_uri": side["uri"], "kind": kind})
        rows += [
            {"source_id": a["asset_id"], "target_uri": uri, "kind": "alias"}
            for uri in (a["uris"] or [])[1:]
        ]
    for s in segments.select("segment_id", "asset_id", "parent_id", "kind").to_dicts():
        rows.append(
            {
                "source_id": s["segment_id"],
                "target_id": s["parent_id"] or s["asset_id"],
                "kind": "keyframe_of" if s["kind"] == "keyframe" else "segment_of",
            }
        )
    return rows


def near_duplicate_rows(catalog: CatalogStore, partition: str, max_distance: int) -> list[dict]:
    """This batch's images against every image in the catalog, this batch included."""
    images = catalog.tables.read("features_image").filter(pl.col("phash").is_not_null())
    pairs = [(a, h) for a, h in images.select("asset_id", "phash").iter_rows()]
    mine = [
        (a, h)
        for a, h, p in images.select("asset_id", "phash", "partition").iter_rows()
        if p == partition
    ]
    return [
        {"source_id": a, "target_id": b, "kind": "near_duplicate", "distance": float(d)}
        for a, b, d in near_duplicates(mine, pairs, max_distance)
    ]


@dg.asset(
    name="relationships",
    deps=["assets", "segments", "features_image"],
    partitions_def=batch_partitions,
    group_name="analysis",
    kinds={"parquet"},
)
def relationships(context: dg.AssetExecutionContext, catalog: CatalogStore):
    """Sidecars, extra names of the same content, the segment hierarchy, and images that
    look like one another anywhere in the catalog."""
    partition = context.partition_key
    rows = relationship_rows(
        catalog.tables.read("assets", partition), catalog.tables.read("segments", partition)
    )
    rows += near_duplicate_rows(catalog, partition, catalog.settings.near_duplicate_max_distance)
    written = catalog.tables.write("relationships", partition, rows)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    return dg.MaterializeResult(
        metadata={"dagster/row_count": written, **{f"kind_{k}": v for k, v in kinds.items()}}
    )
