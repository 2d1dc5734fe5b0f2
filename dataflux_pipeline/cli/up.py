"""`dataflux up` (what `make up` runs): the Dagster UI with its daemon, and the search
service, as one foreground command.

Ctrl+C, SIGTERM or SIGHUP stop both and every process they started. Each child runs in
its own session with default signal handling (a shell that backgrounds a command starts
it with SIGINT ignored, and `dagster dev` would inherit that and ignore SIGTERM too), and
shutdown reaches every descendant, since Dagster's code servers outlive their parent if
only it is signalled."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from dataflux_pipeline.cli.instance import prepare_dagster_home
from dataflux_pipeline.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 15.0


class Stop(Exception):
    pass


def _default_signals() -> None:
    for sig in (*STOP_SIGNALS, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=_default_signals)


def _tree(procs: list[subprocess.Popen]) -> list[psutil.Process]:
    found = []
    for proc in procs:
        try:
            parent = psutil.Process(proc.pid)
            found += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def stop_all(procs: list[subprocess.Popen], grace_s: float = GRACE_S) -> None:
    """SIGTERM to every process in the trees, then SIGKILL to whatever is left."""
    tree = _tree(procs)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=5)
    for proc in procs:
        proc.poll()


def up(settings: Settings, workspace: Path, ui_port: int) -> int:
    home = prepare_dagster_home(settings)
    env = os.environ | {"DAGSTER_HOME": str(home), "DATAFLUX_HOME": str(settings.home)}
    bin_dir = Path(sys.executable).parent
    settings.landing.mkdir(parents=True, exist_ok=True)

    def on_signal(signum, _frame):
        raise Stop(signal.Signals(signum).name)

    for sig in STOP_SIGNALS:  # set even where the parent shell left them ignored
        signal.signal(sig, on_signal)
    procs: list[subprocess.Popen] = []
    code = 0
    try:
        procs.append(
            _start([str(bin_dir / "dagster"), "dev", "-w", str(workspace), "-p", str(ui_port)], env)
        )
        procs.append(_start([sys.executable, "-m", "dataflux_pipeline.cli.main", "serve"], env))
        print(
            f"Dagster UI: http://127.0.0.1:{ui_port}   search API: {settings.api_url}   "
            f"landing folder: {settings.landing}   (Ctrl+C stops both)",
            flush=True,
        )
        while True:
            for proc in procs:
                if proc.poll() is not None:
                    print(f"{proc.args[0]} exited with {proc.returncode}; stopping", flush=True)
                    code = proc.returncode or 1
                    raise Stop("child exited")
            time.sleep(0.5)
    except Stop:
        pass
    finally:
        for sig in STOP_SIGNALS:  # a second Ctrl+C must not interrupt the shutdown
            signal.signal(sig, signal.SIG_IGN)
        print("stopping Dagster and the search service…", flush=True)
        stop_all(procs)
    return code
