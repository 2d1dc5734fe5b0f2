"""`make demo`: sample media into the landing folder, one ingest, three searches over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from dataflux_pipeline.settings import Settings

DEMO_QUERIES = [
    "whales singing under the ocean",
    "how long do you bake a loaf",
    "planets going around the sun",
    "a cat",  # the photos are found by what they show (image tags) and say (OCR)
    "coffee cup",
    "bakery",
]


def stage_samples(landing: Path, fixtures: Path | None) -> list[Path]:
    """Write the sample set beside the landing folder, then rename new files into it, so the
    sensor never sees a half-written file and a second demo adds nothing."""
    from dataflux_pipeline.cli.samples import write_demo_set

    landing.mkdir(parents=True, exist_ok=True)
    moved = []
    with tempfile.TemporaryDirectory(dir=landing.parent, prefix=".staging-") as tmp:
        for path in write_demo_set(Path(tmp), fixtures):
            target = landing / path.name
            if not target.exists():
                os.replace(path, target)
                moved.append(target)
    return moved


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"service at {url} not healthy after {timeout}s")


def run_demo(settings: Settings, fixtures: str | None) -> int:
    from dataflux_pipeline.cli.ingest import ingest
    from dataflux_pipeline.cli.instance import dagster_instance
    from dataflux_pipeline.cli.search import print_hits

    fixture_dir = Path(fixtures) if fixtures else None
    moved = stage_samples(settings.landing, fixture_dir)
    print(f"landing: {settings.landing} ({len(moved)} new sample files)")
    instance = dagster_instance(settings)
    report = ingest(
        settings, instance, on_partition=lambda k, n, t: print(f"  materialized {k} ({n}/{t})")
    )
    if report.failed_runs:
        print(f"failed runs: {report.failed_runs}", file=sys.stderr)
        return 1
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {"DATAFLUX_HOME": str(settings.home)}
    cmd = [sys.executable, "-m", "dataflux_pipeline.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env)
    try:
        wait_healthy(url, proc)
        print(f"\nservice: {url}  (OpenAPI at {url}/docs)")
        for query in DEMO_QUERIES:
            resp = httpx.post(f"{url}/search", json={"query": query, "limit": 3}, timeout=60)
            resp.raise_for_status()
            print()
            print_hits(resp.json())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\ntables: {settings.tables}\nindex: {settings.lancedb}")
    print(f"Dagster runs: {instance.root_directory} (make up to browse them in the UI)")
    return 0
