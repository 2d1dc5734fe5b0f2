"""Ingest without the daemon: the sources sensor until nothing is left settling, each new
partition's run, then the catalog sensor and whatever it asks for (re-analysis batches,
catalog_sync), all in this process on the configured Dagster instance (so the runs show
up in the UI). The daemon does the same on its own schedule."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from dataflux_pipeline.intake.batches import decode_cursor
from dataflux_pipeline.settings import Settings

MAX_ROUNDS = 5  # catalog sensor rounds; each settles what the previous runs left
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class IngestReport:
    partitions: list[str] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    synced: int = 0


def _evaluate(sensor, instance, resources, cursor=None):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = sensor(ctx)
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def ingest(
    settings: Settings,
    instance: dg.DagsterInstance,
    wait_s: float | None = None,
    on_partition: Callable[[str, int, int], None] | None = None,
    quiet: bool = True,
) -> IngestReport:
    """Take every new file (waiting up to `wait_s` for files still being written), run
    each new partition, then bring the index and purges in line with the catalog.
    `on_partition(key, done, total)` reports progress."""
    from dataflux_pipeline.definitions import defs
    from dataflux_pipeline.defs.resources import resources_for

    resources = resources_for(settings)
    job = defs.resolve_job_def("ingest")
    deadline = time.monotonic() + (settings.settle_seconds * 3 + 5 if wait_s is None else wait_s)
    cursor, requests = None, []
    while True:
        result = _evaluate(defs.resolve_sensor_def("sources_sensor"), instance, resources, cursor)
        requests += result.run_requests or []
        cursor = result.cursor
        pending = sorted(p for files in decode_cursor(cursor)[0].values() for p in files)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(min(1.0, max(0.2, settings.settle_seconds / 2)))
    report = IngestReport(pending=pending)
    run_config = QUIET if quiet else None
    done = 0
    for _ in range(MAX_ROUNDS):
        for req in requests:
            if req.job_name and req.job_name != job.name:
                run = defs.resolve_job_def(req.job_name).execute_in_process(
                    instance=instance, resources=resources, run_config=run_config, tags=req.tags
                )
                report.synced += 1
            else:
                run = job.execute_in_process(
                    partition_key=req.partition_key,
                    instance=instance,
                    resources=resources,
                    tags=req.tags,
                    run_config=run_config,
                    raise_on_error=False,
                )
                report.partitions.append(req.partition_key)
                done += 1
                if on_partition:
                    on_partition(req.partition_key, done, done + len(requests) - 1)
            if not run.success:
                report.failed_runs.append(req.partition_key or req.job_name)
        result = _evaluate(defs.resolve_sensor_def("catalog_sensor"), instance, resources)
        requests = list(result.run_requests or [])
        if not requests:
            break
    return report


def quiet_libraries() -> None:
    """What a person running the CLI should not see: Dagster's per-event lines, model
    loading progress bars, and warnings libraries raise about their own internals."""
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning, module="dagster")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for name in ("dagster", "alembic", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
