"""The service keeps answering, whole and correct, while a partition materializes and the
index is rebuilt and compacted underneath it; it sees the new rows without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import dagster as dg
import httpx
import pytest

from dataflux_pipeline.cli.demo import free_port, wait_healthy
from dataflux_pipeline.cli.ingest import ingest
from dataflux_pipeline.cli.samples import RECIPE_MD, write_image
from dataflux_pipeline.definitions import defs
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.settings import Settings

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_searches_during_ingest_and_maintenance(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATAFLUX_ANN_INDEX_MIN_ROWS", "5")  # the maintenance job builds one
    settings = Settings(home=tmp_path / "data", settle_seconds=0.0)
    settings.landing.mkdir(parents=True)
    (settings.landing / "bread.md").write_text(RECIPE_MD)
    (tmp_path / "dagster").mkdir()
    env = os.environ | {
        "DATAFLUX_HOME": str(settings.home),
        "DATAFLUX_INDEX_REFRESH_S": "0.2",
        "DATAFLUX_RESULT_CACHE_SIZE": "0",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        assert not ingest(settings, instance).failed_runs
        service = subprocess.Popen(
            [sys.executable, "-m", "dataflux_pipeline.cli.main", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(url, service)
            stop = threading.Event()
            seen: list[tuple[int, str | None]] = []

            def hammer() -> None:
                with httpx.Client(timeout=30) as http:
                    while not stop.is_set():
                        resp = http.post(f"{url}/search", json={"query": "sourdough loaf baking"})
                        top = (
                            resp.json()["results"][0]["file_name"]
                            if resp.status_code == 200
                            else None
                        )
                        seen.append((resp.status_code, top))

            client = threading.Thread(target=hammer)
            client.start()
            for n in range(12):
                (settings.landing / f"log_{n}.txt").write_text(
                    f"Lighthouse log {n}: calm sea, ship {n} passed."
                )
            write_image(settings.landing / "sea.jpg", (20, 60, 160))
            assert not ingest(settings, instance).failed_runs
            maintenance = defs.resolve_job_def("index_maintenance").execute_in_process(
                instance=instance, resources=resources_for(settings)
            )
            assert maintenance.success
            stop.set()
            client.join()
            found = httpx.post(f"{url}/search", json={"query": "lighthouse ship log"}, timeout=30)
        finally:
            service.terminate()
            service.wait(timeout=30)
    assert len(seen) >= 20
    assert {status for status, _ in seen} == {200}
    assert {top for _, top in seen} == {"bread.md"}
    assert found.json()["results"][0]["file_name"].startswith("log_")
