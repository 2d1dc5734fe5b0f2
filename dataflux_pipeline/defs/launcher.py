"""Runs start in a process that is already warm.

Dagster's default launcher starts a new Python for every run, which imports Dagster, this
code location, torch and the vision models before the first step can work: on 2 cores
that was most of the time from a photo landing to it being searchable. This launcher
keeps `standby` run workers (defs/standby.py) started ahead, each with everything
imported and the models loaded, waiting; a launched run goes to one of them, and the next
warms once no run has been in progress or queued for QUIET_S. Each run still has a
process of its own, so a crash or a leak ends with its run, as before. The local instance
uses it (cli/dagster.yaml); production keeps the k8s launcher.

A worker whose code is older than the code on disk (an edit while `dataflux up` runs) is
not used: the run starts cold in a new worker."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

from dataflux_pipeline.defs.standby import WARM

PID_TAG = "dataflux/run_worker_pid"
BACKFILL_TAG = "dagster/backfill"
BULK_NICE = 10
QUIET_S = 5.0  # a run-free pause this long before a worker warms (files in a burst run cold)
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
DEFAULT_MODULES = ["dataflux_pipeline.definitions"]


def code_stamp(modules: list[str]) -> float:
    """The newest modification time of a file in the packages the workers import."""
    newest = 0.0
    for name in modules:
        spec = importlib.util.find_spec(name.split(".")[0])
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in Path(root).rglob("*.py"):
                with contextlib.suppress(OSError):
                    newest = max(newest, path.stat().st_mtime)
    return newest


class Worker:
    """One run worker process: started warm-up first, given one run, then left to it.
    A `nice` worker runs at a lower CPU priority (bulk work: backfills)."""

    def __init__(self, modules: list[str], executable: str, nice: int = 0) -> None:
        self.executable = executable
        self.bulk = nice > 0
        self.stamp = code_stamp(modules)
        self.proc = subprocess.Popen(
            [executable, "-m", "dataflux_pipeline.defs.standby", *modules],
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.warm = threading.Event()  # imports done and models loaded
        threading.Thread(target=self._relay, daemon=True, name="standby-output").start()

    def _relay(self) -> None:
        """Notes how warm the worker is, then passes on what its run prints (a pipe that
        nobody read would stop the run once full)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if not self.warm.is_set() and line.strip() == WARM:
                self.warm.set()
                continue
            sys.stdout.write(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def start(self, args: str) -> None:
        """Hand the worker its run; it starts on it once warm (at once, when it is)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(args + "\n")
        self.proc.stdin.close()

    def discard(self) -> None:
        """An idle worker holds no run: it is stopped outright."""
        self.proc.kill()
        self.proc.wait()


class StandbyRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run in a warm standby worker; see the module docstring."""

    def __init__(
        self,
        standby: int = 1,
        modules: list[str] | None = None,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        self._inst_data = inst_data
        self.standby = max(0, standby)
        self.modules = list(modules or DEFAULT_MODULES)
        self._idle: list[Worker] = []
        self._running: dict[str, Worker] = {}
        self._exits: OrderedDict[str, int] = OrderedDict()  # the latest runs' exit codes
        self._executable = os.path.abspath(sys.executable)
        self._lock = threading.Lock()
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "standby": dg.Field(int, is_required=False, default_value=1),
            "modules": dg.Field([str], is_required=False, default_value=DEFAULT_MODULES),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict):
        return cls(inst_data=inst_data, **config_value)

    # ---- workers ---------------------------------------------------------------------
    def _take(self, executable: str, bulk: bool) -> tuple[Worker, str]:
        """A live idle worker on current code, else a new one; and which it is. Bulk runs
        (a backfill's) leave the standby to the files that land meanwhile and run in a
        new worker at a lower CPU priority, so a new file is not queued behind them for
        the machine either."""
        if bulk:
            return Worker(self.modules, executable, nice=BULK_NICE), "a new low-priority"
        stamp = code_stamp(self.modules)
        with self._lock:
            while self._idle:
                worker = self._idle.pop(0)
                if worker.alive() and worker.stamp >= stamp and worker.executable == executable:
                    return (
                        worker,
                        "a warm standby" if worker.warm.is_set() else "a warming standby",
                    )
                worker.discard()
        return Worker(self.modules, executable), "a new"

    def _refill(self) -> None:
        with self._lock:
            self._idle = [w for w in self._idle if w.alive()]
            missing = self.standby - len(self._idle)
            self._idle += [Worker(self.modules, self._executable) for _ in range(missing)]

    def prestart(self, wait_s: float = 0.0) -> bool:
        """Start the standby workers now rather than at the first run, and wait up to
        `wait_s` for them to be warm; True when every one is."""
        self._refill()
        deadline = time.monotonic() + wait_s
        with self._lock:
            idle = list(self._idle)
        return all(w.warm.wait(max(0.0, deadline - time.monotonic())) for w in idle)

    # ---- RunLauncher -----------------------------------------------------------------
    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None:
            raise dg.DagsterInvariantViolationError(f"run {run.run_id} has no code origin")
        args = ExecuteRunArgs(
            job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref()
        )
        self._executable = executable = os.path.abspath(origin.executable_path or sys.executable)
        worker, which = self._take(executable, BACKFILL_TAG in run.tags)
        try:
            worker.start(serialize_value(args))
        except OSError:  # it died between the look and the hand-over
            worker, which = Worker(self.modules, executable), "a new"
            worker.start(serialize_value(args))
        with self._lock:
            self._running[run.run_id] = worker
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(worker.pid)})
        self._instance.report_engine_event(
            f"Run handed to {which} run worker (pid {worker.pid}).",
            run,
            cls=self.__class__,
        )
        threading.Thread(target=self._refill_after, args=(run.run_id,), daemon=True).start()

    def _refill_after(self, run_id: str) -> None:
        """Warm the next worker once the machine is quiet: warming takes both cores of a
        small machine for seconds, which a run should not have to share."""
        code = self._running[run_id].proc.wait()
        with self._lock:
            del self._running[run_id]
            self._exits[run_id] = code
            while len(self._exits) > 256:
                self._exits.popitem(last=False)
        time.sleep(QUIET_S)
        if self._quiet():
            self._refill()

    def _quiet(self) -> bool:
        """No run in progress or waiting to start, bulk runs aside (they yield the CPU)."""
        with self._lock:
            if any(not w.bulk for w in self._running.values()):
                return False
        active = self._instance.get_runs(dg.RunsFilter(statuses=ACTIVE), limit=50)
        return all(BACKFILL_TAG in run.tags for run in active)

    def _pid(self, run: dg.DagsterRun) -> int | None:
        value = run.tags.get(PID_TAG)
        return int(value) if value and value.isdigit() else None

    def terminate(self, run_id: str) -> bool:
        """SIGINT to the run's worker, which Dagster turns into a cancelled run."""
        run = self._instance.get_run_by_id(run_id)
        pid = self._pid(run) if run else None
        if run is None or run.is_finished or pid is None:
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        worker = self._running.get(run.run_id)
        code = worker.proc.poll() if worker is not None else self._exits.get(run.run_id)
        if worker is not None and code is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        if code is not None:
            status = WorkerStatus.SUCCESS if code == 0 else WorkerStatus.FAILED
            return CheckRunHealthResult(status, f"run worker exited with {code}")
        pid = self._pid(run)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, "no run worker recorded")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"run worker {pid} is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING)

    def dispose(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.discard()
