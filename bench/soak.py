"""Soak: concurrent clients search while files stream into the landing folder and get
ingested. Reports latency and errors, and audits the catalog afterwards: every file
landed once, no row twice (Parquet or LanceDB).

    python bench/soak.py                       # 120 s, 4 clients, a file every 2 s
    python bench/soak.py --seconds 30 --clients 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "soak.json"
TOPICS = ["lighthouse", "glacier", "violin", "harvest", "comet", "bakery", "regatta", "canyon"]


def produce(landing: Path, staging: Path, stop: threading.Event, every_s: float, made: list):
    """One new file per tick, written beside the landing folder and renamed into it."""
    from dataflux_pipeline.cli.samples import click_track, write_image, write_wav

    rng = np.random.default_rng(7)
    n = 0
    while not stop.is_set():
        topic = TOPICS[n % len(TOPICS)]
        kind = n % 4
        if kind == 3:
            path = write_image(staging / f"{topic}_{n}.jpg", tuple(rng.integers(0, 255, 3)), seed=n)
        elif kind == 2:
            path = write_wav(staging / f"{topic}_{n}.wav", click_track(60 + n, 6.0))
        else:
            path = staging / f"{topic}_{n}.txt"
            path.write_text(f"Report {n} about the {topic}: entry number {n} in the soak log.")
        os.replace(path, landing / path.name)
        made.append(path.name)
        n += 1
        stop.wait(every_s)


def ingest_loop(env: dict, stop: threading.Event, log: list) -> None:
    cmd = [sys.executable, "-m", "dataflux_pipeline.cli.main", "ingest", "--wait", "5"]
    while not stop.is_set():
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        log.append(proc.returncode)


def client(url: str, stop: threading.Event, latencies: list, errors: list) -> None:
    rng = np.random.default_rng(threading.get_ident() % 1000)
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            query = f"soak log about the {TOPICS[rng.integers(len(TOPICS))]}"
            t0 = time.perf_counter()
            try:
                resp = http.post(f"{url}/search", json={"query": query, "limit": 5})
                if resp.status_code != 200:
                    errors.append(f"{resp.status_code}: {resp.text[:100]}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            latencies.append((time.perf_counter() - t0) * 1000)


def audit(home: Path, made: list[str]) -> dict:
    from dataflux_pipeline.storage.index import IndexReader
    from dataflux_pipeline.storage.tables import TableStore

    tables = TableStore(home / "tables")
    assets = tables.read("assets")
    names = [Path(u).name for lst in assets["uris"].to_list() for u in lst]
    segments = tables.read("segments")
    index = IndexReader(home / "lancedb")
    index_dupes = 0
    for space in index.spaces():
        ids = index.table(space).to_arrow()["segment_id"].to_pylist()
        index_dupes += len(ids) - len(set(ids))
    return {
        "files_expected": len(made),
        "files_ingested": len(set(names) & set(made)),
        "files_lost": len(set(made) - set(names)),
        "assets_not_indexed": int((assets["status"] != "indexed").sum()),
        "rows_duplicated": (len(names) - len(set(names)))
        + (segments.height - segments["segment_id"].n_unique())
        + index_dupes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between new files")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dataflux-soak-"))
    (home / "landing").mkdir(parents=True)
    (home / ".staging").mkdir()
    env = os.environ | {
        "DATAFLUX_HOME": str(home),
        "DATAFLUX_SETTLE_SECONDS": "1",
        "DAGSTER_HOME": str(home / "dagster"),
    }
    (home / "dagster").mkdir()
    port = 18000 + os.getpid() % 1000
    url = f"http://127.0.0.1:{port}"
    service = subprocess.Popen(
        [sys.executable, "-m", "dataflux_pipeline.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from dataflux_pipeline.cli.demo import wait_healthy

    wait_healthy(url, service)
    stop_files, stop_all = threading.Event(), threading.Event()
    made: list[str] = []
    latencies: list[float] = []
    errors: list[str] = []
    runs: list[int] = []
    threads = [
        threading.Thread(
            target=produce, args=(home / "landing", home / ".staging", stop_files, args.every, made)
        ),
        threading.Thread(target=ingest_loop, args=(env, stop_all, runs)),
        *[
            threading.Thread(target=client, args=(url, stop_all, latencies, errors))
            for _ in range(args.clients)
        ],
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop_files.set()
    drain = [sys.executable, "-m", "dataflux_pipeline.cli.main", "ingest", "--wait", "10"]
    stop_all.set()
    for t in threads:
        t.join()
    subprocess.run(drain, env=env, capture_output=True)
    elapsed = time.monotonic() - t0
    service.terminate()
    service.wait(timeout=30)
    lat = np.array(latencies)
    result = {
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if lat.size else None,
        "ingest_runs": len(runs),
        "ingest_failures": sum(1 for r in runs if r != 0),
        **audit(home, made),
    }
    print(f"\n{'metric':<22}value")
    for key, value in result.items():
        if key != "error_samples":
            print(f"{key:<22}{value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
