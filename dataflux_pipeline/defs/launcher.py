"""Runs start in a process that is already warm.

Dagster's default launcher starts a new Python for every run, which imports Dagster, this
code location, torch and the vision models before the first step can work: on 2 cores
that was most of the time from a photo landing to it being searchable. This launcher
keeps a run server (defs/standby.py) that imported everything and loaded the models once,
and starts each run as a fork of it: every run starts warm, also when files land together
or a backfill runs (its runs at a lower CPU priority), and each run still has a process
of its own, so a crash or a leak ends with its run, as before. The local instance uses
it (cli/dagster.yaml); production keeps the k8s launcher.

A server whose code is older than the code on disk (an edit while `dataflux up` runs) is
retired: the run goes to a new server, which forks it before it has warmed up."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
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
MAX_TRACKED = 1024  # runs whose exit codes the launcher keeps
# a server that has not forked a run by then is stuck (a fork waits for one model load at
# most); under run monitoring's start timeout (180 s), so the retry is not too late
START_WAIT_S = 120.0
DEFAULT_MODULES = ["dataflux_pipeline.definitions"]


def code_stamp(modules: list[str]) -> float:
    """The newest modification time of a file in the packages the run server imports."""
    newest = 0.0
    for name in modules:
        spec = importlib.util.find_spec(name.split(".")[0])
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in Path(root).rglob("*.py"):
                with contextlib.suppress(OSError):
                    newest = max(newest, path.stat().st_mtime)
    return newest


class RunServer:
    """A `defs.standby` process: warms up once, then forks a child for each run it is
    handed. Its control messages (stdout) are read on a thread of their own."""

    def __init__(self, modules: list[str], executable: str) -> None:
        self.executable = executable
        self.stamp = code_stamp(modules)
        self.proc = subprocess.Popen(
            [executable, "-m", "dataflux_pipeline.defs.standby", *modules],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.warm = threading.Event()  # imports done and models loaded
        self.pids: dict[str, int] = {}  # run id -> the pid of its process
        self.exits: dict[str, int] = {}  # run id -> exit code, once it exited
        self.gone = False  # its output ended: it exited, or is exiting
        self.start_wait_s = START_WAIT_S
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True, name="run-server").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                what, *rest = line.split() or [""]
                with self._changed:
                    if what == WARM:
                        self.warm.set()
                    elif what == "started":
                        self.pids[rest[0]] = int(rest[1])
                    elif what == "exited":
                        self.exits[rest[0]] = int(rest[1])
                    self._changed.notify_all()
        finally:
            with self._changed:  # the server is gone: so are the messages it owed
                self.gone = True
                self._changed.notify_all()
            self.proc.stdout.close()
            self.proc.wait()  # reaped: a retired server leaves no zombie behind

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return not self.gone and self.proc.poll() is None

    def start(self, run_id: str, args: str, nice: int = 0) -> int:
        """Hand the server a run; the pid of the run's process once it has forked it (at
        once when warm, after the model being loaded when not). OSError if the server
        died or retired first, or is stuck: a stuck one is killed, so that the run handed
        to another server cannot also start here."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(f"{nice} {run_id} {args}\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:  # ValueError: retired meanwhile (stdin closed)
            raise OSError(f"run server {self.pid} takes no more runs") from exc
        with self._changed:
            if not self._changed.wait_for(
                lambda: run_id in self.pids or self.gone, self.start_wait_s
            ):
                self.proc.kill()
                self._changed.wait_for(lambda: self.gone, timeout=30.0)  # its last words read
        if run_id not in self.pids:
            raise OSError(f"run server {self.pid} ended before starting run {run_id}")
        return self.pids[run_id]

    def exit_code(self, run_id: str, wait_s: float = 0.0) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: run_id in self.exits or self.gone, wait_s)
            return self.exits.get(run_id)

    def retire(self) -> None:
        """No more runs: the server exits once those it started have."""
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()


class StandbyRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run as a fork of a warm run server; see the module docstring."""

    def __init__(
        self,
        standby: int = 1,
        modules: list[str] | None = None,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        self._inst_data = inst_data
        self.standby = max(0, standby)
        self.modules = list(modules or DEFAULT_MODULES)
        self._server: RunServer | None = None
        self._running: dict[str, RunServer] = {}  # run id -> the server that forked it
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

    # ---- the run server --------------------------------------------------------------
    def _take(self, executable: str) -> tuple[RunServer, str]:
        """The warm server when it is alive and on current code, else a new one (the old
        one retires once its runs are over); and which it is. With `standby: 0` every run
        gets a new server, retired once it has started the run: a cold start."""
        stamp = code_stamp(self.modules)
        with self._lock:
            server = self._server
            if (
                server is not None
                and server.alive()
                and server.stamp >= stamp
                and server.executable == executable
            ):
                return server, "the warm" if server.warm.is_set() else "the warming"
            if server is not None:
                server.retire()
            server = RunServer(self.modules, executable)
            self._server = server if self.standby else None
            return server, "a new"

    def prestart(self, wait_s: float = 0.0) -> bool:
        """Start the run server now rather than at the first run, and wait up to `wait_s`
        for it to be warm; True when it is."""
        if not self.standby:
            return False
        server, _ = self._take(self._executable)
        return server.warm.wait(wait_s)

    # ---- RunLauncher -----------------------------------------------------------------
    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None:
            raise dg.DagsterInvariantViolationError(f"run {run.run_id} has no code origin")
        ref = self._instance.get_ref()
        args = serialize_value(
            ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=ref)
        )
        self._executable = executable = os.path.abspath(origin.executable_path or sys.executable)
        nice = BULK_NICE if BACKFILL_TAG in run.tags else 0
        server, which = self._take(executable)
        try:
            pid = server.start(run.run_id, args, nice)
        except OSError:  # it died between the look and the fork
            server, which = self._take(executable)
            pid = server.start(run.run_id, args, nice)
        if not self.standby:
            server.retire()
        with self._lock:
            self._running[run.run_id] = server
            while len(self._running) > MAX_TRACKED:  # older runs: found by their pid
                self._running.pop(next(iter(self._running)))
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(pid)})
        priority = " at low priority" if nice else ""
        self._instance.report_engine_event(
            f"Run forked from {which} run server (pid {pid}){priority}.",
            run,
            cls=self.__class__,
        )

    def _pid(self, run: dg.DagsterRun) -> int | None:
        value = run.tags.get(PID_TAG)
        return int(value) if value and value.isdigit() else None

    def terminate(self, run_id: str) -> bool:
        """SIGINT to the run's process, which Dagster turns into a cancelled run."""
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
        server = self._running.get(run.run_id)
        pid = server.pids.get(run.run_id) if server is not None else self._pid(run)
        code = server.exit_code(run.run_id) if server is not None else None
        if code is None and server is not None and pid is not None and not _exists(pid):
            code = server.exit_code(run.run_id, wait_s=2.0)  # reaped, message on its way
        if code is not None:
            status = WorkerStatus.SUCCESS if code == 0 else WorkerStatus.FAILED
            return CheckRunHealthResult(status, f"run process exited with {code}")
        if pid is None:  # not launched here: `dataflux ingest` runs its runs in its process
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not started by this launcher")
        if not _exists(pid):
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"run process {pid} is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING)

    def dispose(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.retire()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, and someone else's
        pass
    return True
