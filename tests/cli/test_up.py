"""`dataflux up` (what `make up` runs) stops cleanly: no Dagster process outlives it, even
when started the way a shell backgrounds a command (SIGINT ignored); and a home made by an
older version is told what its Dagster settings lack."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from dataflux_pipeline.cli.demo import free_port
from dataflux_pipeline.cli.up import stop_all

ROOT = Path(__file__).resolve().parents[2]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_stop_all_reaches_children_that_ignore_sigterm() -> None:
    """The code-server case: a grandchild that ignores SIGTERM is killed after the grace."""
    script = (
        "import signal, subprocess, sys, time;"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "subprocess.Popen([sys.executable, '-c', "
        "'import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']);"
        "time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    time.sleep(1.0)
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert len(tree) == 2
    t0 = time.monotonic()
    stop_all([proc], grace_s=1.0)
    assert time.monotonic() - t0 < 10
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_up_stops_everything_on_sigterm_with_sigint_ignored(tmp_path: Path) -> None:
    api, ui = free_port(), free_port()
    env = os.environ | {
        "DATAFLUX_HOME": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "DATAFLUX_API_PORT": str(api),
        "DATAFLUX_API_URL": f"http://127.0.0.1:{api}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dataflux_pipeline.cli.main", "up", "--ui-port", str(ui)],
        cwd=ROOT,
        env=env,
        preexec_fn=_ignore_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            try:
                up = httpx.get(f"http://127.0.0.1:{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                up = False
            if up and _listening(ui):
                break
            time.sleep(1)
        else:
            pytest.fail("dataflux up did not start within 240 s")
        time.sleep(3)  # let the code server and daemon come up too
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        assert len(tree) >= 4  # up, dagster dev (webserver, daemon, code server), serve
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        time.sleep(1)
        alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], [p.cmdline() for p in alive]
        assert not _listening(api) and not _listening(ui)
        assert b"Segmentation fault" not in proc.stdout.read()
    finally:
        if proc.poll() is None:
            stop_all([proc], grace_s=1.0)


def test_an_older_home_is_told_which_local_settings_it_lacks(tmp_path: Path, caplog) -> None:
    """A home made by an older version keeps its own dagster.yaml (the user's to edit);
    start-up names what the current local settings have and it does not."""
    from dataflux_pipeline.cli.instance import LOCAL_INSTANCE_YAML, prepare_dagster_home
    from dataflux_pipeline.settings import Settings

    settings = Settings(home=tmp_path / "home")
    home = tmp_path / "dagster"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        prepare_dagster_home(settings)  # a new home gets the current copy: nothing missing
        assert (home / "dagster.yaml").read_text() == LOCAL_INSTANCE_YAML.read_text()
        older = LOCAL_INSTANCE_YAML.read_text().split("\nrun_monitoring:")[0]
        (home / "dagster.yaml").write_text(older)
        with caplog.at_level(logging.WARNING, logger="dataflux_pipeline.cli.instance"):
            prepare_dagster_home(settings)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "lacks run_monitoring" in warned[0]
    assert "run_launcher" not in warned[0]  # that section it has
    assert (home / "dagster.yaml").read_text() == older  # the user's file is left as it is


def test_a_production_instance_is_not_told_to_take_local_settings(tmp_path: Path) -> None:
    """deploy/dagster.yaml (PostgreSQL, the k8s launcher's queue) lacks the local launcher
    on purpose; only a local instance is compared with the local settings."""
    from dataflux_pipeline.cli.instance import missing_sections

    assert missing_sections(ROOT / "deploy" / "dagster.yaml") == []
    local = tmp_path / "dagster.yaml"
    local.write_text("telemetry:\n  enabled: false\n")
    assert "run_launcher" in missing_sections(local)
