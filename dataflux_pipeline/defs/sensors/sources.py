"""Watch every source (the landing folder or S3 prefix, the uploads area, any extra
folder): stable new files become batches, one partition and one run each; files gone
from a source leave the live catalog in the same tick."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource

from dataflux_pipeline.catalog.observe import known_versions, mark_removed, record_moves
from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.resources import CatalogResource, SourcesResource, StorageResource
from dataflux_pipeline.defs.sensors.launch import launch, record, recover
from dataflux_pipeline.intake.batches import (
    Observed,
    decode_cursor,
    encode_cursor,
    plan_from_listing,
)
from dataflux_pipeline.intake.listing import list_folder, list_s3, next_start_after
from dataflux_pipeline.settings import SourceConfig, get_settings

S3_FULL_LISTING_S = 300.0  # a complete S3 listing (which sees removals) at most this often
MAX_SETTLE_WAIT_S = 4.0  # a tick waits this long at most for files about to settle


def list_source(
    src: SourceConfig, s3: S3Resource, state: dict, now: float
) -> tuple[dict[str, Observed], bool]:
    """(listing, complete): folders are listed whole; an S3 prefix resumes after the last
    settled key, and is listed whole every S3_FULL_LISTING_S to see removals."""
    if not src.remote:
        root = Path(src.uri)
        # a folder that is not there (an unmounted disk) is not a folder emptied
        return list_folder(root), root.is_dir()
    full = now - state.get("full_at", 0.0) >= S3_FULL_LISTING_S
    listing = list_s3(s3.get_client(), src.uri, None if full else state.get("start_after"))
    if full:
        state["full_at"] = now
    return listing, full


def settle_wait(
    pending: dict[str, Observed], seen: dict[str, Observed], settle_s: float, now: float
) -> float | None:
    """Seconds until every pending file is old enough to be taken, if that is soon: a
    file met just after it was written should not wait for a whole further tick. Not
    when one changed since the last tick: that one is still being written."""
    if not pending or any(seen.get(rel, obs) != obs for rel, obs in pending.items()):
        return None
    youngest = max(o.mtime_ns for o in pending.values()) / 1e9
    wait = max(0.0, youngest + settle_s - now) + 0.1
    return wait if wait <= MAX_SETTLE_WAIT_S else None


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=get_settings().sensor_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New, stable files in every watched source, in batches of "
    "DATAFLUX_BATCH_SIZE; removed files leave the catalog at once.",
)
def sources_sensor(
    context: dg.SensorEvaluationContext,
    storage: StorageResource,
    sources: SourcesResource,
    catalog: CatalogResource,
    s3: S3Resource,
) -> dg.SensorResult:
    settings = sources.settings()
    live = catalog.catalog()
    watched = sources.watched()
    live.ensure_sources(watched)
    recover(storage.ledger, live, context.instance)
    pending, extra = decode_cursor(context.cursor)
    s3_state: dict = extra.get("s3", {})
    now = time.time()
    new_pending, batches, removed, moved = {}, [], 0, 0
    for src in watched:
        state = s3_state.setdefault(src.name, {}) if src.remote else {}
        listing, complete = list_source(src, s3, state, now)
        if complete:
            if not src.remote:
                moved += record_moves(live, src.name, listing).counts.get("moved", 0)
            removed += sum(mark_removed(live, src.name, listing).counts.values())
        known = known_versions(live, src.name)
        seen = pending.get(src.name, {})
        settle_s = src.settle(settings.settle_seconds)
        # a listing after the last settled key pairs with what was taken before it: a
        # subtitle that arrives after its video brings the video back, as in a folder
        paired = listing if complete else {**known, **listing}
        plan = plan_from_listing(paired, known, seen, settle_s, settings.batch_size, now, src.name)
        wait = settle_wait(plan.pending, seen, settle_s, now)
        if wait is not None and not src.remote:  # settles within this tick: wait for it
            time.sleep(wait)
            now = time.time()
            listing, complete = list_source(src, s3, state, now)
            plan = plan_from_listing(
                listing,
                known,
                plan.pending,
                settle_s,
                settings.batch_size,
                now,
                src.name,
            )
        new_pending[src.name] = plan.pending
        batches += plan.batches
        if src.remote:
            state["start_after"] = next_start_after(
                src.uri, listing, plan.pending, state.get("start_after")
            )
        if plan.pending:
            context.log.info(f"{src.name}: {len(plan.pending)} file(s) still settling")
    if moved:
        context.log.info(f"{moved} file(s) renamed or moved: nothing to analyze again")
    if removed:
        context.log.info(f"{removed} path(s) removed from their sources")
    record(storage.ledger, live, batches)
    cursor = encode_cursor(new_pending, s3=s3_state)
    return launch(context, storage.ledger, cursor, "sensor")
