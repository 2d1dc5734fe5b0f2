"""A run worker started ahead of its run (defs/launcher.py starts it): it imports Dagster
and the code location, then loads the models the steps use one by one, and executes the
run it is handed on stdin as `dagster api execute_run` would, in this same process.

    python -m dataflux_pipeline.defs.standby MODULE [MODULE ...]

A run that arrives while the models are still loading starts after the one in progress
(models not loaded yet load where a step asks for them, as in a cold process). Anything
that goes wrong while warming is logged and left to the run."""

from __future__ import annotations

import importlib
import logging
import select
import sys
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)
WARM = "warm"  # printed once everything is imported and every model loaded


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


def run_waiting() -> bool:
    return bool(select.select([sys.stdin], [], [], 0)[0])


def warm(modules: list[str]) -> None:
    import dagster._cli.api  # noqa: F401

    for module in [importlib.import_module(name) for name in modules]:
        for load in model_loads(module):
            if run_waiting():
                return
            try:
                load()
            except Exception as exc:  # the step loads it again and reports what fails
                log.warning("standby run worker: %s not loaded: %s", load, exc)
    print(WARM, flush=True)


def main(argv: list[str]) -> int:
    warm(argv)
    line = sys.stdin.readline()
    if not line.strip():  # the launcher went away before giving this worker a run
        return 0
    from dagster._cli.api import execute_run_command

    execute_run_command.callback(line.strip(), None)  # the click command's own body
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
