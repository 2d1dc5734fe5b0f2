"""The service is stateless over the index and the catalog on disk (or S3): two worker
processes answer alike, and both pick up a new index version without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest

from dataflux_pipeline.cli.demo import free_port
from dataflux_pipeline.cli.ingest import ingest
from tests.eval import harness

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_answer_alike_and_both_see_new_versions(tmp_path: Path) -> None:
    settings = harness.copy_catalog(tmp_path)
    port = free_port()
    env = os.environ | {"DATAFLUX_HOME": str(settings.home), "DATAFLUX_INDEX_REFRESH_S": "0.5"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataflux_pipeline.cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        with httpx.Client(base_url=url, timeout=60) as c:

            def workers() -> dict[int, dict]:
                seen: dict[int, dict] = {}
                for _ in range(60):  # fresh connections spread over the workers
                    health = httpx.get(f"{url}/health", timeout=10).json()
                    seen[health["worker"]] = health["index"]["text"]
                return seen

            assert len(workers()) == 2
            body = {"query": "how do bees make honey", "limit": 5}
            answers = set()
            for _ in range(20):
                resp = httpx.post(f"{url}/search", json=body, timeout=30).json()
                answers.add(tuple((r["asset_id"], r["score"]) for r in resp["results"]))
            assert len(answers) == 1 and next(iter(answers))
            before = {v["version"] for v in workers().values()}
            settings.landing.mkdir(exist_ok=True)
            (settings.landing / "okapi_sighting.txt").write_text(
                "An okapi, the forest giraffe, was filmed at dawn in the Ituri rainforest."
            )
            (tmp_path / "dagster").mkdir()
            with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
                assert not ingest(settings, instance).failed_runs
            deadline = time.time() + 30
            while time.time() < deadline:
                versions = {pid: v["version"] for pid, v in workers().items()}
                if len(versions) == 2 and all(v not in before for v in versions.values()):
                    break
                time.sleep(0.5)
            assert len(versions) == 2 and all(v not in before for v in versions.values())
            for _ in range(10):
                hits = c.post("/search", json={"query": "okapi in the rainforest"}).json()
                assert hits["results"][0]["file_name"] == "okapi_sighting.txt"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
