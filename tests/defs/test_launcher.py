"""The standby run launcher on a real (temporary) Dagster instance with real worker
processes: runs go to workers that warmed up before them, each run has its own process,
a dead or stale standby is replaced by a cold start, and termination cancels the run."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher import LaunchRunContext

from dataflux_pipeline.defs import launcher as launcher_module
from dataflux_pipeline.defs.launcher import PID_TAG, StandbyRunLauncher
from tests.defs import launched_jobs

pytestmark = pytest.mark.slow
LAUNCHER = {
    "module": "dataflux_pipeline.defs.launcher",
    "class": "StandbyRunLauncher",
    "config": {"standby": 1, "modules": ["tests.defs.launched_jobs"]},
}


@pytest.fixture
def instance():
    with dg.instance_for_test(overrides={"run_launcher": LAUNCHER}) as inst:
        yield inst


def launch(instance, job, config: dict, tags: dict | None = None) -> dg.DagsterRun:
    run = instance.create_run_for_job(
        job_def=job,
        run_config={"ops": config},
        tags=tags,
        job_code_origin=dg.reconstructable(job).get_python_origin(),
    )
    instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    return run


def finished(instance, run_id: str, timeout: float = 90.0) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {instance.get_run_by_id(run_id).status}")


def handed_to(instance, run_id: str) -> str:
    events = instance.all_logs(run_id)
    messages = [e.dagster_event.message or "" for e in events if e.dagster_event]
    return next(m.split("] ", 1)[-1] for m in messages if "Run handed to" in m)


def where(instance, tmp_path: Path, name: str, tags=None) -> tuple[dg.DagsterRun, dict]:
    out = tmp_path / f"{name}.json"
    config = {"where": {"config": {"out": str(out)}}}
    run = launch(instance, launched_jobs.where_job, config, tags)
    run = finished(instance, run.run_id)
    return run, json.loads(out.read_text())


def test_runs_start_in_warm_workers_one_process_each(instance, tmp_path):
    launcher: StandbyRunLauncher = instance.run_launcher
    assert isinstance(launcher, StandbyRunLauncher)
    assert launcher.prestart(wait_s=60)
    standby_pid = launcher._idle[0].pid
    first, seen = where(instance, tmp_path, "first")
    assert first.status == dg.DagsterRunStatus.SUCCESS
    assert seen == {"pid": standby_pid, "warmed": True, "nice": os.nice(0)}
    assert first.tags[PID_TAG] == str(standby_pid)
    assert handed_to(instance, first.run_id).startswith("Run handed to a warm standby")
    assert launcher.prestart(wait_s=60)  # the worker started behind the first run
    second, seen2 = where(instance, tmp_path, "second")
    assert second.status == dg.DagsterRunStatus.SUCCESS
    assert seen2["warmed"] and seen2["pid"] not in (standby_pid, os.getpid())
    deadline = time.monotonic() + 30  # the run is over before its worker has exited
    while launcher.check_run_worker_health(second).status.value == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert launcher.check_run_worker_health(second).status.value == "SUCCESS"


def test_a_dead_or_stale_standby_is_not_used(instance, tmp_path, monkeypatch):
    launcher: StandbyRunLauncher = instance.run_launcher
    assert launcher.prestart(wait_s=60)
    dead = launcher._idle[0]
    os.kill(dead.pid, signal.SIGKILL)
    dead.proc.wait(timeout=10)
    run, seen = where(instance, tmp_path, "after-kill")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert seen["pid"] != dead.pid
    assert handed_to(instance, run.run_id).startswith("Run handed to a new run worker")
    assert launcher.prestart(wait_s=60)
    stale = launcher._idle[0]
    newer = launcher_module.code_stamp(launcher.modules) + 10  # the code changed on disk
    monkeypatch.setattr(launcher_module, "code_stamp", lambda modules: newer)
    run, seen = where(instance, tmp_path, "after-edit")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert seen["pid"] != stale.pid
    assert stale.proc.wait(timeout=10) is not None  # the stale worker was let go


def test_terminate_cancels_the_run_in_its_worker(instance, tmp_path):
    launcher: StandbyRunLauncher = instance.run_launcher
    started = tmp_path / "started"
    run = launch(instance, launched_jobs.wait_job, {"wait": {"config": {"started": str(started)}}})
    deadline = time.monotonic() + 90
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), instance.get_run_by_id(run.run_id).status
    assert launcher.check_run_worker_health(run).status.value == "RUNNING"
    t0 = time.monotonic()
    assert launcher.terminate(run.run_id)
    done = finished(instance, run.run_id, timeout=60)
    assert done.status == dg.DagsterRunStatus.CANCELED
    assert time.monotonic() - t0 < 30
    assert not launcher.terminate(run.run_id)  # already over


def test_a_backfill_run_leaves_the_standby_to_new_files(instance, tmp_path):
    launcher: StandbyRunLauncher = instance.run_launcher
    assert launcher.prestart(wait_s=60)
    standby_pid = launcher._idle[0].pid
    run, seen = where(instance, tmp_path, "backfill", tags={"dagster/backfill": "abc"})
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert handed_to(instance, run.run_id).startswith("Run handed to a new low-priority")
    assert seen["pid"] != standby_pid and seen["nice"] == os.nice(0) + 10
    assert [w.pid for w in launcher._idle] == [standby_pid]  # still there, still idle
    fresh, seen = where(instance, tmp_path, "fresh")
    assert fresh.status == dg.DagsterRunStatus.SUCCESS
    assert seen["pid"] == standby_pid and seen["nice"] == os.nice(0)
