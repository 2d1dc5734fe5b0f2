"""Random sequences of what happens to a media folder and the catalog, for a fixed time,
each step checked against a plain model (tests/catalog/machine.py): reports sequences,
steps, and divergences found (must be 0). CI runs a few sequences; this runs many.

    .venv/bin/python bench/lifecycle.py --minutes 20
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from tests.catalog import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=12, help="most steps per sequence")
    parser.add_argument("--per-call", type=int, default=4, help="sequences per Hypothesis run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "lifecycle.json"))
    args = parser.parse_args()
    deadline = time.monotonic() + args.minutes * 60
    rules: Counter[str] = Counter()
    stats = {"sequences": 0, "steps": 0, "divergences": 0, "failures": []}

    class Counted(machine.CatalogMachine):
        def _settle(self) -> None:
            super()._settle()
            stats["steps"] += 1
            rules[inspect.stack()[1].function] += 1

    class Sequence(Counted):
        def __init__(self) -> None:
            super().__init__()
            stats["sequences"] += 1

    started = time.monotonic()
    # Several sequences per call: Hypothesis makes the first example of a call its
    # simplest (the same all-first-choices sequence every time), the rest at random.
    while time.monotonic() < deadline:
        try:
            run_state_machine_as_test(
                Sequence,
                settings=settings(
                    max_examples=args.per_call,
                    stateful_step_count=args.steps,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.generate],  # shrinking replays against outside state
                    database=None,
                ),
            )
        except Exception:
            stats["divergences"] += 1
            stats["failures"].append(traceback.format_exc()[-20000:])
            print(stats["failures"][-1], file=sys.stderr)
    stats["minutes"] = round((time.monotonic() - started) / 60, 1)
    stats["rules"] = dict(rules)
    print("| sequences | steps | divergences | minutes |")
    print("| --- | --- | --- | --- |")
    print(
        f"| {stats['sequences']} | {stats['steps']} | {stats['divergences']} | {stats['minutes']} |"
    )
    print("rules run:", ", ".join(f"{k} {v}" for k, v in sorted(rules.items())))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(stats, indent=1))
    return 1 if stats["divergences"] else 0


if __name__ == "__main__":
    sys.exit(main())
