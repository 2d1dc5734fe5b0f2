"""Guards on each partition's tables, reading only that partition, and the blocking
check that a run never leaves the index disagreeing with the live catalog."""

import dagster as dg
import polars as pl

from dataflux_pipeline.catalog.projection import disagreements
from dataflux_pipeline.defs.assets.index import touched
from dataflux_pipeline.defs.resources import CatalogResource, StorageResource


def partition_of(context: dg.AssetCheckExecutionContext) -> str:
    """The batch the check's run materialized. (Partitioned checks are a preview feature
    in Dagster 1.13; the run's partition tag says the same thing.)"""
    key = context.run.tags.get("dagster/partition")
    if key is None:
        raise dg.Failure("these checks run inside a partitioned ingest run")
    return key


def _result(problems: list[str], **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not problems, metadata={"problems": "; ".join(problems) or "none", **metadata}
    )


@dg.asset_check(asset="assets", blocking=True)
def assets_keys(context: dg.AssetCheckExecutionContext, storage: StorageResource):
    """Every record has an id; the batch took each path once."""
    df = storage.tables.read("assets", partition_of(context))
    problems = []
    if df["asset_id"].null_count():
        problems.append("null asset_id")
    if df.height != df.select("source", "path").n_unique():
        problems.append("a path was taken twice")
    return _result(problems, rows=df.height)


@dg.asset_check(asset="segments", blocking=True)
def segments_keys(context: dg.AssetCheckExecutionContext, storage: StorageResource):
    df = storage.tables.read("segments", partition_of(context))
    problems = []
    if df["segment_id"].null_count() or df["asset_id"].null_count():
        problems.append("null key")
    if df.height != df["segment_id"].n_unique():
        problems.append("duplicate segment_id")
    return _result(problems, rows=df.height)


@dg.asset_check(asset="embeddings", blocking=True)
def embeddings_dimensions(context: dg.AssetCheckExecutionContext, storage: StorageResource):
    df = storage.tables.read("embeddings", partition_of(context))
    problems = []
    lengths = df.select(pl.col("vector").list.len().alias("n"), "dim", "space")
    if lengths.filter(pl.col("n") != pl.col("dim")).height:
        problems.append("vector length differs from dim")
    per_space = lengths.group_by("space").agg(pl.col("dim").n_unique().alias("dims"))
    if per_space.filter(pl.col("dims") > 1).height:
        problems.append("more than one dimension in a space")
    return _result(problems, rows=df.height)


@dg.asset_check(asset="search_index", blocking=True)
def index_matches_catalog(
    context: dg.AssetCheckExecutionContext, storage: StorageResource, catalog: CatalogResource
):
    """For every content this partition touched: the index holds exactly the rows of its
    current analysis if it is live, none if it is not, and no segment twice."""
    live = catalog.catalog()
    ids = touched(live, storage, partition_of(context))
    problems = disagreements(live, storage.tables, storage.index(), ids)
    return _result(problems, contents_checked=len(ids))
