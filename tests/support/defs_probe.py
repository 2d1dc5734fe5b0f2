"""Loads the Definitions in a fresh process under a given environment and prints what the
ingest job's steps ask of the deployment (test-only): the GPU placement is decided when
definitions are loaded, from the settings of that process.

Usage: python -m tests.support.defs_probe, with DATAFLUX_* set; prints one JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def probe(env: dict[str, str]) -> dict:
    """{"job_tags": ..., "ops": {op name: {"pool": ..., "tags": ...}}} of the ingest job
    as a process with `env` (on top of this one's, minus its DATAFLUX_*) loads it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLUX_")}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.defs_probe"],
        env=clean | {"PYTHONPATH": str(ROOT)} | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    from dataflux_pipeline.definitions import defs

    job = defs.resolve_job_def("ingest")
    ops = {
        n.definition.name: {"pool": n.definition.pool, "tags": dict(n.definition.tags)}
        for n in job.graph.nodes
    }
    print(json.dumps({"job_tags": dict(job.tags), "ops": ops}))


if __name__ == "__main__":
    main()
