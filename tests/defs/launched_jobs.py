"""A code location for the launcher tests: a job that records the process it ran in, the
process that forked it and whether that one had warmed up first, one that waits to be
terminated, and one whose process dies mid-step."""

import json
import os
import time
from pathlib import Path

import dagster as dg

WARMED: list[float] = []  # set by the run server's warm-up, inherited by its forks


class Models(dg.ConfigurableResource):
    """Stands in for the embedding models: warming "loads" them by noting the time."""

    def text(self) -> None:
        WARMED.append(time.time())

    def clip(self) -> None:
        return None


@dg.op(config_schema={"out": str})
def where(context: dg.OpExecutionContext) -> None:
    record = {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "warmed": bool(WARMED),
        "nice": os.nice(0),
    }
    Path(context.op_config["out"]).write_text(json.dumps(record))


@dg.op(config_schema={"started": str})
def wait(context: dg.OpExecutionContext) -> None:
    Path(context.op_config["started"]).write_text(str(os.getpid()))
    time.sleep(120)


@dg.op(config_schema={"code": int})
def crash(context: dg.OpExecutionContext) -> None:
    os._exit(context.op_config["code"])  # as a segfault or an OOM kill would: no clean-up


@dg.job(executor_def=dg.in_process_executor)  # as the ingest job: steps in the run process
def where_job() -> None:
    where()


@dg.job(executor_def=dg.in_process_executor)  # as the ingest job: steps in the run process
def wait_job() -> None:
    wait()


@dg.job(executor_def=dg.in_process_executor)
def crash_job() -> None:
    crash()


defs = dg.Definitions(jobs=[where_job, wait_job, crash_job], resources={"models": Models()})
