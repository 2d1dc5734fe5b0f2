"""Index upkeep, outside the partitioned runs: indexes that pay off only at size, and the
compaction that keeps many small batch writes from slowing queries down.

Both assets are unpartitioned and live in their own group, so the partitioned ingest job
never selects them. `search_index_indexes` follows new batches (declarative automation);
the `index_maintenance` job runs both on a schedule."""

import time

import dagster as dg

from dataflux_pipeline.defs.resources import StorageResource

MAINTENANCE_GROUP = "maintenance"
MAINTENANCE_POOL = "lancedb_maintenance"  # one maintenance step at a time per deployment
RETRY = dg.RetryPolicy(max_retries=2, delay=15)  # a commit conflict with a batch write

# After new batches are indexed (once they stop arriving mid-run), and never twice at once.
AFTER_NEW_BATCHES = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after new batches are indexed")


def _table(rows: list[dict]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("no embedding spaces yet")
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(str(r[k]) for k in head) + " |" for r in rows]
    return dg.MetadataValue.md("\n".join(lines))


@dg.asset(
    name="search_index_indexes",
    deps=["search_index"],
    group_name=MAINTENANCE_GROUP,
    kinds={"lancedb"},
    pool=MAINTENANCE_POOL,
    retry_policy=RETRY,
    automation_condition=AFTER_NEW_BATCHES,
)
def search_index_indexes(context: dg.AssetExecutionContext, storage: StorageResource):
    """Full-text index on every space with text; the ANN index (and scalar indexes on the
    keys) on spaces past DATAFLUX_ANN_INDEX_MIN_ROWS, where a flat scan stops being cheap."""
    index = storage.index()
    tuning = index.tuning
    rows, built_ann, seconds = [], 0, 0.0
    for space in index.spaces():
        built = index.ensure_indexes(space)
        info = index.info(space)
        if "ann" in built:
            built_ann += 1
            seconds += built["ann"]["seconds"]
            context.log.info(f"{space}: built {built['ann']['type']} in {built['ann']['seconds']}s")
        rows.append(
            {
                "space": space,
                "rows": info["rows"],
                "version": info["version"],
                "ann": info["ann"] or f"none (< {tuning.ann_min_rows} rows)",
                "fts": info["fts"],
                "built": ", ".join(sorted(built)) or "-",
            }
        )
    return dg.MaterializeResult(
        metadata={
            "spaces": _table(rows),
            "ann_indexes_built": built_ann,
            "ann_build_seconds": round(seconds, 2),
            "ann_index_type": tuning.ann_index_type,
            "ann_min_rows": tuning.ann_min_rows,
            "dagster/row_count": sum(r["rows"] for r in rows),
        }
    )


@dg.asset(
    name="search_index_optimized",
    deps=["search_index_indexes"],
    group_name=MAINTENANCE_GROUP,
    kinds={"lancedb"},
    pool=MAINTENANCE_POOL,
    retry_policy=RETRY,
)
def search_index_optimized(context: dg.AssetExecutionContext, storage: StorageResource):
    """Compact the fragments batch writes leave behind, fold unindexed rows into the
    indexes, and drop versions older than DATAFLUX_INDEX_KEEP_VERSIONS_S."""
    index = storage.index()
    rows = []
    for space in index.spaces():
        tbl = index.table(space)
        before = tbl.stats()
        t0 = time.perf_counter()
        index.optimize(space)
        after = tbl.stats()
        rows.append(
            {
                "space": space,
                "rows": after["num_rows"],
                "fragments_before": before["fragment_stats"]["num_fragments"],
                "fragments_after": after["fragment_stats"]["num_fragments"],
                "version": tbl.version,
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
        context.log.info(f"optimized {space}: {rows[-1]}")
    return dg.MaterializeResult(
        metadata={
            "spaces": _table(rows),
            "fragments_removed": sum(r["fragments_before"] - r["fragments_after"] for r in rows),
            "seconds": round(sum(r["seconds"] for r in rows), 2),
            "keep_versions_s": index.tuning.keep_versions_s,
            "dagster/row_count": sum(r["rows"] for r in rows),
        }
    )


index_maintenance_job = dg.define_asset_job(
    "index_maintenance",
    selection=dg.AssetSelection.groups(MAINTENANCE_GROUP),
    description="Build the indexes a space has outgrown, then compact and clean up the index.",
)

index_maintenance_schedule = dg.ScheduleDefinition(
    name="index_maintenance_hourly",
    job=index_maintenance_job,
    cron_schedule="17 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: ANN index once a space passes the threshold; compaction and cleanup.",
)

index_automation = dg.AutomationConditionSensorDefinition(
    "index_automation",
    target=dg.AssetSelection.groups(MAINTENANCE_GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Evaluates the maintenance assets' automation conditions (new batches).",
)
