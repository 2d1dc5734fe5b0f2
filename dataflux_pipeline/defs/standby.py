"""A run server started ahead of its runs (defs/launcher.py starts it): it imports Dagster
and the code location, loads the models the steps use, then forks one child per run it is
handed; each child executes its run as `dagster api execute_run` would. A child starts in
milliseconds with everything loaded (the pages are shared until written), so files that
land together all start warm, and each run still has a process of its own.

    python -m dataflux_pipeline.defs.standby MODULE [MODULE ...]

stdin, one line per run: `NICE RUN_ID ARGS` (ARGS: serialized ExecuteRunArgs, one line).
stdout carries only `warm`, `started RUN_ID PID` and `exited RUN_ID CODE`; whatever the
server and its runs print goes to stderr. A run that arrives while models are loading
starts before the next load; models not loaded by then load where a step asks for them.
When stdin closes the server takes no more runs and exits once its runs have.

Torch runs single-threaded in the server: a parallel region entered before fork leaves a
child's OpenMP pool waiting for threads that do not exist (measured: the child's first
forward pass hangs). Each child gets the process's thread count back."""

from __future__ import annotations

import importlib
import logging
import os
import select
import sys
import traceback
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)
WARM = "warm"  # sent once everything is imported and every model loaded
POLL_S = 0.5  # how often finished runs are looked for while nothing arrives


def model_loads(module) -> Iterator[Callable[[], object]]:
    """What the code location's resources load in a step, cheapest and most used first;
    each loader is cached per process, so the step finds the same objects."""
    resources = getattr(getattr(module, "defs", None), "resources", None) or {}
    models, analyzers = resources.get("models"), resources.get("analyzers")
    if models is not None:
        yield models.text  # every run embeds
    if analyzers is not None:
        from dataflux_pipeline.analyzers.vision import ENRICHERS

        yield analyzers.registry
        settings = analyzers.settings()
        for cls, knob in ENRICHERS:
            if getattr(settings, knob):
                yield cls(settings).model
    if models is not None:
        yield models.clip
    yield lambda: importlib.import_module("lancedb")  # the index step's import, ~0.5 s


def loads(modules: list[str]) -> Iterator[Callable[[], object]]:
    yield lambda: importlib.import_module("dagster._cli.api")
    for name in modules:
        module = importlib.import_module(name)
        yield from model_loads(module)


class Server:
    def __init__(self, control: int) -> None:
        self.control = control
        self.children: dict[int, str] = {}  # pid -> run id
        self.pending = b""
        self.open = True
        self.threads = 0

    def send(self, message: str) -> None:
        os.write(self.control, (message + "\n").encode())  # no lock a fork could inherit

    def single_threaded(self) -> None:
        import torch

        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def lines(self, wait_s: float) -> list[str]:
        """Whole lines that arrived on stdin within `wait_s`."""
        if not select.select([0] if self.open else [], [], [], wait_s)[0]:
            return []
        chunk = os.read(0, 1 << 20)
        if not chunk:
            self.open = False
        self.pending += chunk
        *whole, self.pending = self.pending.split(b"\n")
        return [line.decode() for line in whole if line.strip()]

    def fork(self, line: str) -> None:
        nice, run_id, args = line.split(" ", 2)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self.child(int(nice), args)
        self.children[pid] = run_id
        self.send(f"started {run_id} {pid}")

    def child(self, nice: int, args: str) -> None:
        code = 1
        try:
            os.close(self.control)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            if nice:
                os.nice(nice)
            import torch

            torch.set_num_threads(self.threads)
            from dagster._cli.api import execute_run_command

            execute_run_command.callback(args, None)  # the click command's own body
            code = 0
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def reap(self) -> None:
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            run_id = self.children.pop(pid, None)
            if run_id is not None:
                self.send(f"exited {run_id} {os.waitstatus_to_exitcode(status)}")

    def serve(self, modules: list[str]) -> None:
        self.single_threaded()
        todo = loads(modules)
        warming = True
        while self.open or self.children:
            for line in self.lines(0.0 if warming else POLL_S):
                self.fork(line)
            self.reap()
            if warming and not self.open:  # retired: no run will use what is left to load
                warming = False
            if not warming:
                continue
            try:
                load = next(todo, None)
            except Exception as exc:  # a broken code location: each run reports it
                log.warning("run server: import failed: %s", exc)
                load = None
            if load is None:
                warming = False
                self.send(WARM)
                continue
            try:
                load()
            except Exception as exc:  # the step loads it again and reports what fails
                log.warning("run server: %s not loaded: %s", load, exc)


def main(argv: list[str]) -> int:
    control = os.dup(1)
    os.dup2(2, 1)  # stray prints (libraries, runs) go to stderr, not into the protocol
    try:
        Server(control).serve(argv)
    except KeyboardInterrupt:  # Ctrl-C at `dataflux up`: the runs hear it themselves
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
