"""The run launcher on a real (temporary) Dagster instance with a real run server: runs
are forks of a server that warmed up before them, each in a process of its own, also
when they arrive together; a run whose process dies is marked failed by run monitoring
(as `dataflux up` configures it) and the server serves the next; a dead or stale server
is replaced; backfill runs start warm at a lower priority; termination cancels the run;
`standby: 0` starts every run cold."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.launcher import LaunchRunContext
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from dataflux_pipeline.defs import launcher as launcher_module
from dataflux_pipeline.defs.launcher import PID_TAG, StandbyRunLauncher
from tests.defs import launched_jobs

pytestmark = pytest.mark.slow
MODULES = ["tests.defs.launched_jobs"]
LOCAL_INSTANCE = Path(launcher_module.__file__).parents[1] / "cli" / "dagster.yaml"


def launcher_config(standby: int) -> dict:
    return {
        "module": "dataflux_pipeline.defs.launcher",
        "class": "StandbyRunLauncher",
        "config": {"standby": standby, "modules": MODULES},
    }


@pytest.fixture
def instance():
    monitoring = yaml.safe_load(LOCAL_INSTANCE.read_text())["run_monitoring"]  # as shipped
    overrides = {"run_launcher": launcher_config(1), "run_monitoring": monitoring}
    with dg.instance_for_test(overrides=overrides) as inst:
        yield inst
        inst.run_launcher.dispose()


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
    return next(m.split("] ", 1)[-1] for m in messages if "Run forked from" in m)


def start_where(instance, tmp_path: Path, name: str, tags=None) -> tuple[dg.DagsterRun, Path]:
    out = tmp_path / f"{name}.json"
    return launch(
        instance, launched_jobs.where_job, {"where": {"config": {"out": str(out)}}}, tags
    ), out


def where(instance, tmp_path: Path, name: str, tags=None) -> tuple[dg.DagsterRun, dict]:
    run, out = start_where(instance, tmp_path, name, tags)
    run = finished(instance, run.run_id)
    return run, json.loads(out.read_text())


def server_pid(launcher: StandbyRunLauncher) -> int:
    assert launcher._server is not None
    return launcher._server.pid


def test_runs_are_warm_forks_one_process_each(instance, tmp_path):
    launcher: StandbyRunLauncher = instance.run_launcher
    assert isinstance(launcher, StandbyRunLauncher)
    assert launcher.prestart(wait_s=60)
    server = server_pid(launcher)
    first, seen = where(instance, tmp_path, "first")
    assert first.status == dg.DagsterRunStatus.SUCCESS
    assert seen["parent"] == server and seen["pid"] != server
    assert seen["warmed"] and seen["nice"] == os.nice(0)
    assert first.tags[PID_TAG] == str(seen["pid"])
    assert handed_to(instance, first.run_id).startswith("Run forked from the warm run server")
    second, seen2 = where(instance, tmp_path, "second")
    assert second.status == dg.DagsterRunStatus.SUCCESS
    assert seen2["parent"] == server and seen2["pid"] not in (seen["pid"], server)
    deadline = time.monotonic() + 30  # the run is over before its process has exited
    while launcher.check_run_worker_health(second).status.value == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert launcher.check_run_worker_health(second).status.value == "SUCCESS"


def test_runs_that_arrive_together_all_start_warm(instance, tmp_path):
    launcher: StandbyRunLauncher = instance.run_launcher
    assert launcher.prestart(wait_s=60)
    started = [start_where(instance, tmp_path, f"together-{n}") for n in range(3)]
    seen = []
    for run, out in started:
        assert finished(instance, run.run_id).status == dg.DagsterRunStatus.SUCCESS
        seen.append(json.loads(out.read_text()))
    assert all(s["warmed"] and s["parent"] == server_pid(launcher) for s in seen)
    assert len({s["pid"] for s in seen}) == 3


def test_a_dead_or_stale_server_is_replaced(instance, tmp_path, monkeypatch):
    launcher: StandbyRunLauncher = instance.run_launcher
    assert launcher.prestart(wait_s=60)
    dead = launcher._server
    os.kill(dead.pid, signal.SIGKILL)
    dead.proc.wait(timeout=10)
    run, seen = where(instance, tmp_path, "after-kill")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert seen["parent"] not in (dead.pid, os.getpid())
    assert handed_to(instance, run.run_id).startswith("Run forked from a new run server")
    stale = launcher._server
    newer = launcher_module.code_stamp(launcher.modules) + 10  # the code changed on disk
    monkeypatch.setattr(launcher_module, "code_stamp", lambda modules: newer)
    run, seen = where(instance, tmp_path, "after-edit")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert seen["parent"] != stale.pid
    assert stale.proc.wait(timeout=10) == 0  # the stale server retired


def test_a_run_whose_process_dies_is_marked_failed_and_the_server_goes_on(instance, tmp_path):
    launcher: StandbyRunLauncher = instance.run_launcher
    assert launcher.prestart(wait_s=60)
    server = server_pid(launcher)
    run = launch(instance, launched_jobs.crash_job, {"crash": {"config": {"code": 3}}})
    deadline = time.monotonic() + 60
    while (health := launcher.check_run_worker_health(run)).status.value == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert health.status.value == "FAILED" and "exited with 3" in health.msg
    record = instance.get_run_record_by_id(run.run_id)
    assert record.dagster_run.status == dg.DagsterRunStatus.STARTED  # nobody said it ended
    monitor_started_run(instance, None, record, logging.getLogger("test"))  # the daemon's pass
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    elsewhere = instance.create_run_for_job(
        job_def=launched_jobs.where_job,
        run_config={"ops": {"where": {"config": {"out": str(tmp_path / "never.json")}}}},
    )
    instance.handle_run_event(  # a run another process executes itself (`dataflux ingest`)
        elsewhere.run_id,
        dg.DagsterEvent(event_type_value="PIPELINE_START", job_name=launched_jobs.where_job.name),
    )
    record = instance.get_run_record_by_id(elsewhere.run_id)
    assert record.dagster_run.status == dg.DagsterRunStatus.STARTED
    monitor_started_run(instance, None, record, logging.getLogger("test"))
    assert instance.get_run_by_id(elsewhere.run_id).status == dg.DagsterRunStatus.STARTED
    after, seen = where(instance, tmp_path, "after-crash")
    assert after.status == dg.DagsterRunStatus.SUCCESS
    assert seen["parent"] == server and seen["warmed"]


def test_terminate_cancels_the_run_in_its_process(instance, tmp_path):
    launcher: StandbyRunLauncher = instance.run_launcher
    started = tmp_path / "started"
    run = launch(instance, launched_jobs.wait_job, {"wait": {"config": {"started": str(started)}}})
    deadline = time.monotonic() + 90
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), instance.get_run_by_id(run.run_id).status
    assert started.read_text() == instance.get_run_by_id(run.run_id).tags[PID_TAG]
    assert launcher.check_run_worker_health(run).status.value == "RUNNING"
    t0 = time.monotonic()
    assert launcher.terminate(run.run_id)
    done = finished(instance, run.run_id, timeout=60)
    assert done.status == dg.DagsterRunStatus.CANCELED
    assert time.monotonic() - t0 < 30
    assert not launcher.terminate(run.run_id)  # already over


def test_a_backfill_run_starts_warm_at_low_priority(instance, tmp_path):
    launcher: StandbyRunLauncher = instance.run_launcher
    assert launcher.prestart(wait_s=60)
    server = server_pid(launcher)
    run, seen = where(instance, tmp_path, "backfill", tags={"dagster/backfill": "abc"})
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert handed_to(instance, run.run_id).endswith("at low priority.")
    assert seen["warmed"] and seen["parent"] == server and seen["nice"] == os.nice(0) + 10
    fresh, seen = where(instance, tmp_path, "fresh")
    assert fresh.status == dg.DagsterRunStatus.SUCCESS
    assert seen["parent"] == server and seen["nice"] == os.nice(0)


def test_without_standby_every_run_starts_cold(tmp_path):
    with dg.instance_for_test(overrides={"run_launcher": launcher_config(0)}) as instance:
        launcher: StandbyRunLauncher = instance.run_launcher
        assert not launcher.prestart(wait_s=1) and launcher._server is None
        parents = []
        for name in ("cold-1", "cold-2"):
            run, seen = where(instance, tmp_path, name)
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert handed_to(instance, run.run_id).startswith("Run forked from a new run server")
            assert not seen["warmed"]  # forked before the server loaded anything
            parents.append(seen["parent"])
            server = launcher._running[run.run_id]
            assert server.proc.wait(timeout=30) == 0  # retired: gone once its run was over
            assert not server.warm.is_set()  # and it loaded nothing more meanwhile
        assert parents[0] != parents[1]


def test_a_stuck_server_is_killed_and_the_run_goes_to_a_new_one(instance, tmp_path):
    """A server that does not fork a run in time is killed (so it cannot start the run
    later as well) and the run starts on a new server."""
    launcher: StandbyRunLauncher = instance.run_launcher
    assert launcher.prestart(wait_s=60)
    stuck = launcher._server
    assert stuck is not None
    stuck.start_wait_s = 2.0
    os.kill(stuck.pid, signal.SIGSTOP)
    try:
        run, seen = where(instance, tmp_path, "after-stuck")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stuck.pid, signal.SIGCONT)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert stuck.proc.wait(timeout=10) == -signal.SIGKILL and run.run_id not in stuck.pids
    assert seen["parent"] == server_pid(launcher) != stuck.pid
    assert handed_to(instance, run.run_id).startswith("Run forked from a new run server")
