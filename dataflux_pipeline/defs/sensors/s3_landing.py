"""Watch an S3 prefix: the folder sensor's rules (stability, batches, run keys) on a
listing that resumes after the last key it no longer needs to see."""

import json

import dagster as dg
from dagster_aws.s3 import S3Resource

from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.resources import CatalogStore
from dataflux_pipeline.defs.sensors.landing import launch
from dataflux_pipeline.intake.batches import (
    Observed,
    decode_pending,
    encode_pending,
    plan_from_listing,
)
from dataflux_pipeline.intake.identity import IGNORED_PREFIXES
from dataflux_pipeline.settings import get_settings


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""


def list_s3(client, uri: str, start_after: str | None = None) -> dict[str, Observed]:
    """Objects under the prefix, keyed by path relative to it (S3 writes are whole, so
    LastModified is the moment the object became complete)."""
    bucket, prefix = split_uri(uri)
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        kwargs["StartAfter"] = start_after
    found: dict[str, Observed] = {}
    for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix) :]
            if not rel or rel.endswith("/"):
                continue
            if any(part.startswith(IGNORED_PREFIXES) for part in rel.split("/")):
                continue
            found[rel] = Observed(obj["Size"], int(obj["LastModified"].timestamp() * 1e9))
    return found


def next_start_after(uri: str, listing: dict, pending: dict, current: str | None) -> str | None:
    """Resume after every key already settled, but never past one still settling."""
    _, prefix = split_uri(uri)
    settled = [k for k in listing if k not in pending]
    if pending:
        first_pending = min(pending)
        settled = [k for k in settled if k < first_pending]
    if not settled:
        return current
    return max(current or "", prefix + max(settled))


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING
    if get_settings().landing_uri
    else dg.DefaultSensorStatus.STOPPED,
    description="New objects under DATAFLUX_LANDING_URI (s3://bucket/prefix), in batches.",
)
def s3_landing_sensor(context: dg.SensorEvaluationContext, catalog: CatalogStore, s3: S3Resource):
    uri = catalog.landing_uri
    if not uri:
        return dg.SkipReason("DATAFLUX_LANDING_URI is not set")
    state = json.loads(context.cursor or "{}")
    listing = list_s3(s3.get_client(), uri, state.get("start_after"))
    plan = plan_from_listing(
        listing,
        catalog.ledger,
        decode_pending(context.cursor),
        catalog.settle_seconds,
        catalog.batch_size,
    )
    cursor = encode_pending(
        plan.pending,
        start_after=next_start_after(uri, listing, plan.pending, state.get("start_after")),
    )
    return launch(context, catalog, plan, cursor, "s3-sensor")
