"""Runs one partition and SIGKILLs itself at a chosen point (test-only).

Usage: python -m tests.support.fault_driver DATAFLUX_HOME PARTITION KILL_AT, with DAGSTER_HOME set.
KILL_AT is a table name (killed after its temp file is written, before the rename: in the
intake, analysis, embeddings or relationships step, which hold the partition's lock while
they write) or `index` (killed after the LanceDB merge-insert commits, before its indexes
are refreshed and before the catalog marks the contents indexed)."""

import os
import signal
import sys
from pathlib import Path

import dagster as dg

from dataflux_pipeline.definitions import defs
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage import index, tables


def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def main(home: str, partition: str, kill_at: str) -> None:
    if kill_at == "index":
        index.IndexWriter.refresh = die
    else:
        real_write, real_replace = tables.TableStore.write, os.replace

        def write(self, table, part_key, rows, part="data"):
            if table == kill_at:
                tables.os.replace = die
            try:
                return real_write(self, table, part_key, rows, part)
            finally:
                tables.os.replace = real_replace

        tables.TableStore.write = write
    settings = Settings(home=Path(home), settle_seconds=0.0)
    defs.resolve_job_def("ingest").execute_in_process(
        partition_key=partition,
        instance=dg.DagsterInstance.get(),
        resources=resources_for(settings),
    )
    sys.exit(3)  # reaching here means the kill point was never hit


if __name__ == "__main__":
    main(*sys.argv[1:4])
