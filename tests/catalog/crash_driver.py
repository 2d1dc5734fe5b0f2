"""Run one ingest partition and SIGKILL this process inside a chosen step, the way an
OOM kill or a lost node ends a run: python -m tests.catalog.crash_driver PARTITION STEP
(DAGSTER_HOME and DATAFLUX_HOME set)."""

from __future__ import annotations

import os
import signal
import sys


def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def arm(step: str) -> None:
    """Patch the point inside `step` where a kill leaves the most half-done."""
    from dataflux_pipeline.catalog import analysis, intake
    from dataflux_pipeline.defs.assets import analysis as analysis_step
    from dataflux_pipeline.defs.assets import intake as intake_step
    from dataflux_pipeline.storage import tables
    from dataflux_pipeline.storage.index import writer

    if step == "intake":  # intake records written, the catalog not told
        intake_step.apply_intake = die
        assert intake.apply_intake
    elif step == "analysis":  # tables written, outcomes not recorded
        analysis_step.record_analysis = die
        assert analysis.record_analysis
    elif step == "embeddings":  # inside the embeddings table write
        real = tables.TableStore.write

        def write(self, table, partition, rows, part="data"):
            if table == "embeddings":
                die()
            return real(self, table, partition, rows, part)

        tables.TableStore.write = write
    elif step == "index":  # one space of the index written, the catalog not told
        real_upsert = writer.IndexWriter.upsert

        def upsert(self, space, rows, asset_ids):
            real_upsert(self, space, rows, asset_ids)
            die()

        writer.IndexWriter.upsert = upsert


def main(partition: str, step: str) -> None:
    import dagster as dg

    from dataflux_pipeline.definitions import defs
    from dataflux_pipeline.defs.resources import resources_for
    from dataflux_pipeline.settings import Settings

    arm(step)
    settings = Settings()
    defs.resolve_job_def("ingest").execute_in_process(
        partition_key=partition,
        instance=dg.DagsterInstance.get(),
        resources=resources_for(settings),
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
