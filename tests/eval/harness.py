"""The evaluation corpus through the real pipeline, once per test session, and the metrics.

`catalog()` stages corpus/ into a landing folder (documents as they are; each subtitle file
beside a short generated WAV, each caption beside a generated JPEG), ingests it with
`cli.ingest.ingest` on a temporary Dagster instance (sources sensor, the batch's run, then
the catalog sensor and catalog_sync) and runs the index maintenance job, so the eval and
the service tests search what the pipeline really builds. The home it builds holds
everything: the live catalog (`dataflux.db`), the Parquet tables, the store and the index.
Run `python -m tests.eval.harness` to print the evaluation table."""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
QUERIES = Path(__file__).parent / "queries.json"
MODES = ("text", "vector", "hybrid")
K = 10


def queries() -> list[dict]:
    return json.loads(QUERIES.read_text())["queries"]


def stage_corpus(landing: Path) -> list[Path]:
    """The corpus as a landing folder; primaries for sidecars are generated (no binaries in
    git), with distinct tones and colours so their descriptor vectors differ."""
    from dataflux_pipeline.cli.samples import tone, write_image, write_wav

    landing.mkdir(parents=True, exist_ok=True)
    written = []
    for n, src in enumerate(sorted(CORPUS.iterdir())):
        written.append(Path(shutil.copyfile(src, landing / src.name)))
        if src.suffix == ".srt":
            wav = landing / f"{src.stem}.wav"
            written.append(write_wav(wav, tone(220.0 * 2 ** (n / 12), 2.0)))
        elif src.suffix == ".json":
            colour = ((n * 53) % 256, (n * 97) % 256, (n * 31) % 256)
            size = (320, 240) if n % 2 else (256, 192)
            written.append(write_image(landing / f"{src.stem}.jpg", colour, size, seed=n))
    return written


@cache
def catalog():
    """(settings, instance, partition) of the ingested corpus; built once per process."""
    import dagster as dg

    from dataflux_pipeline.cli.ingest import QUIET, ingest
    from dataflux_pipeline.definitions import defs
    from dataflux_pipeline.defs.resources import resources_for
    from dataflux_pipeline.settings import Settings

    root = Path(tempfile.mkdtemp(prefix="dataflux-eval-"))
    atexit.register(shutil.rmtree, root, True)
    stack = contextlib.ExitStack()
    atexit.register(stack.close)
    settings = Settings(home=root / "data", settle_seconds=0.0)
    stage_corpus(settings.landing)
    (root / "dagster").mkdir()
    instance = stack.enter_context(dg.instance_for_test(temp_dir=str(root / "dagster")))
    report = ingest(settings, instance)
    assert report.failed_runs == [] and len(report.partitions) == 1, report
    maintenance = defs.resolve_job_def("index_maintenance").execute_in_process(
        instance=instance, resources=resources_for(settings), run_config=QUIET
    )
    assert maintenance.success
    return settings, instance, report.partitions[0]


DATABASE = "dataflux.db"


def copy_catalog(target: Path):
    """A private copy of the built home (tests that add or delete files must not change
    the eval). The live catalog is copied with SQLite's backup API, not as files: its
    WAL may hold committed pages the main file does not have yet."""
    import sqlite3

    from dataflux_pipeline.settings import Settings

    settings, _, _ = catalog()
    home = target / "data"
    shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns(f"{DATABASE}*"))
    source = sqlite3.connect(settings.home / DATABASE)
    copy = sqlite3.connect(home / DATABASE)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return Settings(home=home, settle_seconds=0.0)


def live_assets(settings):
    """The live catalog's contents (one row per asset, as the service sees them)."""
    import polars as pl
    from sqlalchemy import select

    from dataflux_pipeline.catalog import Catalog
    from dataflux_pipeline.catalog.models import Asset

    columns = ["asset_id", "file_name", "source_id", "path", "media_type", "mime_type"]
    columns += ["status", "size_bytes", "duration_s", "width", "height", "analysis_partition"]
    with Catalog.open(settings.database).reading() as s:
        assets = list(s.scalars(select(Asset).where(Asset.live).order_by(Asset.asset_id)))
    return pl.DataFrame({c: [getattr(a, c) for a in assets] for c in columns})


def asset_ids(settings) -> dict[str, str]:
    """File stem -> asset id, of the live catalog."""
    assets = live_assets(settings)
    return {Path(n).stem: a for n, a in zip(assets["file_name"], assets["asset_id"], strict=True)}


@contextlib.contextmanager
def serve(settings) -> Iterator[str]:
    """The real app on a real socket (uvicorn in a thread)."""
    import uvicorn

    from dataflux_pipeline.cli.demo import free_port
    from dataflux_pipeline.serving.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings), port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def ndcg(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    dcg = sum((2 ** grades.get(s, 0) - 1) / math.log2(i + 2) for i, s in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    relevant = {s for s, g in grades.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant)


def evaluate(url: str) -> dict[str, dict[str, float]]:
    """nDCG@10 and recall@10 per mode (and per query type) over HTTP."""
    import httpx

    scores: dict[str, dict[str, list[float]]] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for q in queries():
            for mode in MODES:
                body = {"query": q["query"], "mode": mode, "limit": K, "include_segments": False}
                resp = client.post("/search", json=body)
                resp.raise_for_status()
                ranked = [Path(r["file_name"]).stem for r in resp.json()["results"]]
                for group in (mode, f"{mode}/{q['type']}"):
                    bucket = scores.setdefault(group, {"ndcg": [], "recall": []})
                    bucket["ndcg"].append(ndcg(ranked, q["relevant"]))
                    bucket["recall"].append(recall(ranked, q["relevant"]))
    return {
        group: {m: round(sum(v) / len(v), 4) for m, v in metrics.items()} | {"n": len(v)}
        for group, metrics in scores.items()
        for v in [metrics["ndcg"]]
    }


def table(results: dict[str, dict[str, float]]) -> str:
    types = sorted({g.split("/")[1] for g in results if "/" in g})
    head = "| mode | nDCG@10 | recall@10 | " + " | ".join(f"nDCG@10 {t}" for t in types) + " |"
    lines = [head, "|" + " --- |" * (3 + len(types))]
    for mode in MODES:
        r = results[mode]
        per_type = " | ".join(f"{results[f'{mode}/{t}']['ndcg']:.3f}" for t in types)
        lines.append(f"| {mode} | {r['ndcg']:.3f} | {r['recall']:.3f} | {per_type} |")
    counts = ", ".join(f"{t}: {results[f'hybrid/{t}']['n']}" for t in types)
    return "\n".join([*lines, "", f"{results['hybrid']['n']} queries ({counts})"])


if __name__ == "__main__":
    built = catalog()
    with serve(built[0]) as service_url:
        print(table(evaluate(service_url)))
