"""Ingest without the daemon: one sensor evaluation, then each new partition's run, in
this process, on the configured Dagster instance (so the runs show up in the UI)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from dataflux_pipeline.intake.batches import decode_pending
from dataflux_pipeline.settings import Settings


@dataclass
class IngestReport:
    partitions: list[str] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def ingest(
    settings: Settings,
    instance: dg.DagsterInstance,
    wait_s: float | None = None,
    on_partition: Callable[[str, int, int], None] | None = None,
) -> IngestReport:
    """Evaluate the landing sensor until no file is left settling (or `wait_s` passes), then
    materialize every partition it created. `on_partition(key, done, total)` reports progress."""
    from dataflux_pipeline.definitions import defs
    from dataflux_pipeline.defs.resources import resources_for

    resources = resources_for(settings)
    sensor = defs.get_sensor_def("landing_sensor")
    job = defs.resolve_job_def("ingest")
    deadline = time.monotonic() + (settings.settle_seconds * 3 + 5 if wait_s is None else wait_s)
    cursor, requests = None, []
    while True:
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        result = sensor(ctx)
        for req in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        requests += result.run_requests or []
        cursor = result.cursor
        pending = sorted(decode_pending(cursor))
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(min(1.0, max(0.2, settings.settle_seconds / 2)))
    report = IngestReport(pending=pending)
    for req in requests:
        run = job.execute_in_process(
            partition_key=req.partition_key,
            instance=instance,
            resources=resources,
            tags=req.tags,
            raise_on_error=False,
        )
        report.partitions.append(req.partition_key)
        if not run.success:
            report.failed_runs.append(req.partition_key)
        if on_partition:
            on_partition(req.partition_key, len(report.partitions), len(requests))
    return report
