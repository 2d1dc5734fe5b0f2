"""Table guards: keys present and unique, vectors the right size, index in step with Parquet."""

import dagster as dg
import polars as pl

from dataflux_pipeline.defs.resources import CatalogStore


def _result(problems: list[str], **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not problems, metadata={"problems": "; ".join(problems) or "none", **metadata}
    )


@dg.asset_check(asset="assets", blocking=True)
def assets_keys(catalog: CatalogStore) -> dg.AssetCheckResult:
    """Every row has an id; each content is live in at most one row across partitions."""
    df = catalog.tables.read("assets")
    live = df.filter(~pl.col("status").is_in(["duplicate"]))
    problems = []
    if df["asset_id"].null_count():
        problems.append("null asset_id")
    if live.height != live["asset_id"].n_unique():
        problems.append("the same content is cataloged twice")
    return _result(problems, rows=df.height)


@dg.asset_check(asset="segments", blocking=True)
def segments_keys(catalog: CatalogStore) -> dg.AssetCheckResult:
    df = catalog.tables.read("segments")
    problems = []
    if df["segment_id"].null_count() or df["asset_id"].null_count():
        problems.append("null key")
    if df.height != df["segment_id"].n_unique():
        problems.append("duplicate segment_id")
    return _result(problems, rows=df.height)


@dg.asset_check(asset="embeddings", blocking=True)
def embeddings_dimensions(catalog: CatalogStore) -> dg.AssetCheckResult:
    df = catalog.tables.read("embeddings")
    problems = []
    lengths = df.select(pl.col("vector").list.len().alias("n"), "dim", "space")
    if lengths.filter(pl.col("n") != pl.col("dim")).height:
        problems.append("vector length differs from dim")
    per_space = lengths.group_by("space").agg(pl.col("dim").n_unique().alias("dims"))
    if per_space.filter(pl.col("dims") > 1).height:
        problems.append("more than one dimension in a space")
    return _result(problems, rows=df.height)


@dg.asset_check(asset="search_index")
def index_matches_embeddings(catalog: CatalogStore) -> dg.AssetCheckResult:
    """Index rows per space equal the distinct embedded segments in Parquet."""
    df = catalog.tables.read("embeddings")
    index = catalog.index()
    problems, counts = [], {}
    expected = df.group_by("space").agg(pl.col("segment_id").n_unique().alias("n"))
    for space, n in expected.iter_rows():
        counts[space] = index.count(space)
        if counts[space] != n:
            problems.append(f"{space}: index has {counts[space]} rows, embeddings {n}")
    return _result(problems, **{f"index_{k}": v for k, v in counts.items()})
