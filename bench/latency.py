"""Drop to searchable: from a file landing in the watched folder (or POST /assets) until
POST /search returns it, with `make up`'s defaults (`dataflux up`: dagster dev with the
daemon, and the service), one file at a time; p50 and p95 per kind, the breakdown read
from the run's own events, and `dataflux analyze` on the same file beside it. Three
scenarios: "idle", each file landing on a machine at rest (the launcher's run server
warm, no run in progress); "burst", each file dropped the moment the last one is searchable; "load",
while a backfill of the whole catalog runs.

    .venv/bin/python bench/latency.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataflux_pipeline.cli.samples import (  # noqa: E402
    Shot,
    click_track,
    scene_image,
    tone,
    write_srt,
    write_video,
    write_wav,
)

KINDS = ("photo", "song", "video", "upload")
# idle: each drop meets a warm run server and no run; burst: each drop right after the last one
# is searchable; load: while a backfill of the whole catalog runs (a new one when the last
# has finished), no waiting for idle
SCENARIOS = ("idle", "burst", "load")
BACKFILL = "dagster/backfill"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make(kind: str, folder: Path, n: int) -> list[Path]:
    """The file (and sidecars) of one drop, named with a token only it has."""
    token = f"zq{kind}{n:02d}x"
    if kind in ("photo", "upload"):
        path = folder / f"{token}.jpg"
        # other pictures for uploads: the same bytes would be a copy, shown by its first name
        seed = 100 + n if kind == "photo" else 600 + n
        scene_image(seed, (1280, 960)).save(path, quality=90)
        return [path]
    if kind == "song":
        y = click_track(96 + n, 180.0) * 0.6 + tone(220 + 10 * n, 180.0, amplitude=0.2)
        return [write_wav(folder / f"{token}.wav", y)]
    path = folder / f"{token}.mp4"
    shots = [Shot(250, (40 * k % 255, 90, 200 - 30 * k % 200)) for k in range(6)]
    write_video(path, shots, size=(1280, 720), seed=n)
    cues = [(2.0 + 10 * k, 6.0 + 10 * k, f"Scene {k} of the ferry crossing") for k in range(6)]
    return [path, write_srt(path.with_suffix(".srt"), cues)]


def found(url: str, token: str) -> bool:
    body = {"query": token, "mode": "text", "min_score": 0, "limit": 3}
    try:
        hits = httpx.post(f"{url}/search", json=body, timeout=10).json()["results"]
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    return any(token in (h["file_name"] or "") for h in hits)


def breakdown(dagster_home: Path, since: float) -> dict:
    """Settle + tick, queue + launch, each step, from the newest ingest run's events."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        runs = [
            r
            for r in instance.get_run_records(dg.RunsFilter(job_name="ingest"), limit=20)
            if r.create_timestamp.timestamp() >= since and BACKFILL not in r.dagster_run.tags
        ]
        if not runs:
            return {}
        record = min(runs, key=lambda r: r.create_timestamp)
        events = instance.all_logs(record.dagster_run.run_id)
    out = {"sensor_s": record.create_timestamp.timestamp() - since}
    steps: dict[str, list[float]] = {}
    start = end = None
    for e in events:
        # by name: the serialized values are the old ones (PIPELINE_START)
        kind = e.dagster_event_type.name if e.dagster_event_type else ""
        if kind == "RUN_START":
            start = e.timestamp
        elif kind in ("RUN_SUCCESS", "RUN_FAILURE"):
            end = e.timestamp
        elif kind in ("STEP_START", "STEP_SUCCESS") and e.step_key:
            steps.setdefault(e.step_key, []).append(e.timestamp)
    if start:
        out["queue_launch_s"] = start - record.create_timestamp.timestamp()
    for key, times in steps.items():
        if len(times) == 2:
            out[f"step_{key}_s"] = times[1] - times[0]
    if start and end:
        out["run_s"] = end - start
        out["run_end"] = end
    return out


def standby_idle(up: subprocess.Popen, limit_s: float) -> float:
    """Seconds waited for the launcher's run server to be warm and idle (every
    `defs.standby` process, the server and its forked runs, at rest): the state a file
    meets on a machine where nothing landed for a while. Drops one right after another
    ("burst") do not wait."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        try:
            tree = psutil.Process(up.pid).children(recursive=True)
            standby = [p for p in tree if "dataflux_pipeline.defs.standby" in " ".join(p.cmdline())]
            if standby and all(p.cpu_percent(interval=0.5) < 5 for p in standby):
                break
        except psutil.Error:
            pass
        time.sleep(0.5)
    return round(time.monotonic() - t0, 2)


def analyze_time(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv/bin/dataflux"), "analyze", str(path), "--json"],
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - t0


def drop(kind, files, landing, url, home, dagster_home) -> dict:
    token = files[0].stem
    t0 = time.time()
    if kind == "upload":
        with files[0].open("rb") as f:
            r = httpx.post(f"{url}/assets", files={"file": (files[0].name, f)}, timeout=60)
        r.raise_for_status()
    else:
        for f in reversed(files):  # sidecars first: the main file lands whole, last
            os.replace(f, landing / f.name)
    while not found(url, token):
        if time.time() - t0 > 300:
            raise TimeoutError(f"{token} not searchable after 300 s")
        time.sleep(0.2)
    total = time.time() - t0
    parts = breakdown(dagster_home, t0)
    if "run_end" in parts:
        parts["index_refresh_s"] = t0 + total - parts.pop("run_end")
    return {"kind": kind, "seconds": round(total, 2), **{k: round(v, 2) for k, v in parts.items()}}


def backfill_runs(dagster_home: Path) -> int:
    """Backfill runs queued or in progress."""
    import dagster as dg

    from dataflux_pipeline.defs.sensors.launch import ACTIVE

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(statuses=ACTIVE), limit=200)
    return sum(BACKFILL in run.tags for run in runs)


def under_backfill(dagster_home: Path, limit_s: float = 60.0) -> float:
    """Seconds spent making sure a backfill of the whole catalog is running (a new one
    when the last has finished), so that the drop lands during one."""
    t0 = time.monotonic()
    if not backfill_runs(dagster_home):
        backfill(dagster_home)
        while not backfill_runs(dagster_home) and time.monotonic() - t0 < limit_s:
            time.sleep(0.5)
    return round(time.monotonic() - t0, 2)


def backfill(dagster_home: Path) -> None:
    env = os.environ | {"DAGSTER_HOME": str(dagster_home)}
    subprocess.run(
        [
            str(ROOT / ".venv/bin/dagster"),
            "job",
            "backfill",
            "-w",
            str(ROOT / "workspace.yaml"),
            "-j",
            "ingest",
            "--all",
            "all",
            "--noprompt",
        ],
        env=env,
        capture_output=True,
        check=False,
        cwd=ROOT,
    )


def summary(rows: list[dict], analyze: dict[str, float]) -> list[dict]:
    out = []
    for scenario in sorted({r["scenario"] for r in rows}):
        for kind in KINDS:
            times = sorted(
                r["seconds"] for r in rows if r["kind"] == kind and r["scenario"] == scenario
            )
            if not times:
                continue
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            out.append(
                {
                    "scenario": scenario,
                    "kind": kind,
                    "drops": len(times),
                    "p50_s": round(statistics.median(times), 2),
                    "p95_s": round(p95, 2),
                    "analyze_s": round(analyze.get(kind, 0.0), 2),
                    "ratio_to_analyze": round(statistics.median(times) / analyze[kind], 2)
                    if analyze.get(kind)
                    else None,
                }
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument(
        "--settle-s", type=float, default=60.0, help="most seconds to wait for an idle run server"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latency.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dataflux-latency-"))
    home, dagster_home = work / "data", work / "dagster"
    staged = work / "staged"
    staged.mkdir()
    plans = {}
    for scenario in args.scenarios:
        for kind in KINDS:
            for n in range(args.repeats):
                folder = staged / f"{scenario}-{kind}-{n}"
                folder.mkdir(parents=True)
                plans[scenario, kind, n] = make(kind, folder, n + 30 * SCENARIOS.index(scenario))
    first = args.scenarios[0]
    runs = range(min(2, args.repeats))
    analyze = {k: min(analyze_time(plans[first, k, n][0]) for n in runs) for k in KINDS}
    api, ui = free_port(), free_port()
    env = os.environ | {
        "DATAFLUX_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "DATAFLUX_API_PORT": str(api),
        "DATAFLUX_API_URL": f"http://127.0.0.1:{api}",
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/dataflux"), "up", "--ui-port", str(ui)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{api}"
    rows = []
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        landing = home / "landing"
        warm = make("photo", staged, 99)
        drop("photo", warm, landing, url, home, dagster_home)  # first run pays the imports
        for scenario in args.scenarios:
            for n in range(args.repeats):
                for kind in KINDS:
                    if scenario == "load":
                        waited = under_backfill(dagster_home)
                    elif scenario == "idle":
                        waited = standby_idle(proc, args.settle_s)
                    else:
                        waited = 0.0
                    row = drop(kind, plans[(scenario, kind, n)], landing, url, home, dagster_home)
                    row["backfill_runs_after"] = (
                        backfill_runs(dagster_home) if scenario == "load" else None
                    )
                    rows.append({"scenario": scenario, "waited_s": waited, **row})
                    print(json.dumps(rows[-1]), flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    table = summary(rows, analyze)
    print("| scenario | kind | drops | p50 s | p95 s | `dataflux analyze` s | p50 / analyze |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in table:
        print(
            f"| {r['scenario']} | {r['kind']} | {r['drops']} | {r['p50_s']} | {r['p95_s']} | "
            f"{r['analyze_s']} | {r['ratio_to_analyze']} |"
        )
    Path(args.out).write_text(json.dumps({"summary": table, "drops": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
