"""Where one search's time goes: unique hybrid queries, one at a time, through the
service's own Searcher and moment thumbnails in this process, each phase timed by
wrapping the method that does it. Runs on an index kept by bench/search.py.

    .venv/bin/python bench/search.py --n 100000 --build-only --keep --workdir /tmp/sb
    .venv/bin/python bench/search_phases.py --workdir /tmp/sb

Phases nest (a search's legs hold its embedding and vector search; hits hold hydrate),
and the full-text probes run on LanceDB's threads while the query is embedded, so the
rows do not add up to the total."""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WRAPPED = {  # phase -> (object path, method)
    "search (all of it)": ("searcher", "search"),
    "legs: probes, embedding, vector search": ("searcher", "legs"),
    "embedding the query": ("searcher", "embed"),
    "vector search (LanceDB)": ("index", "vector_batch"),
    "term weights of BM25 rows": ("searcher", "term_weights"),
    "tokenizing the query (LanceDB)": ("index", "tokenize"),
    "reader and filter checks": ("searcher", "visible"),
    "hits: page rows, metadata": ("searcher", "hits"),
    "hydrate shown rows (LanceDB take)": ("searcher", "hydrate"),
    "catalog rows": ("catalog", "rows"),
}


def timed(table: dict[str, list[float]], label: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            table[label].append(time.perf_counter() - t0)

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dataflux-bench-search"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warm", type=int, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/search_phases.json")
    args = parser.parse_args()
    os.environ["DATAFLUX_HOME"] = str(args.workdir / "data")

    from bench.search import phrase
    from dataflux_pipeline.serving.moments import Moments
    from dataflux_pipeline.serving.schemas import SearchRequest
    from dataflux_pipeline.serving.search import Searcher
    from dataflux_pipeline.settings import Settings

    searcher = Searcher(Settings())
    moments = Moments(searcher.catalog)
    searcher.query_vectors("warm-up")
    owners = {"searcher": searcher, "index": searcher.index, "catalog": searcher.catalog}
    table: dict[str, list[float]] = defaultdict(list)
    for label, (owner, name) in WRAPPED.items():
        obj = owners[owner]
        setattr(obj, name, timed(table, label, getattr(obj, name)))

    rng = random.Random(11)
    fillers = ["kettle", "orbit", "lantern", "meadow", "harbor", "violet"]
    total, hits, size = [], 0, 0
    for n in range(args.warm + args.queries):
        query = f"{phrase(rng)} {rng.choice(fillers)}"
        t0 = time.perf_counter()
        response = moments.attach(searcher.search(SearchRequest(query=query, limit=10)))
        body = len(response.model_dump_json())
        if n < args.warm:
            table.clear()
            continue
        total.append(time.perf_counter() - t0)
        hits += bool(response.results)
        size += body

    rows = {"total (search, moments, JSON)": total} | dict(table)
    report = {
        "command": "python bench/search_phases.py " + " ".join(sys.argv[1:]),
        "index_rows": {s: searcher.index.info(s)["rows"] for s in searcher.index.spaces()},
        "queries": len(total),
        "queries_with_hits": hits,
        "response_bytes_mean": round(size / len(total)),
        "phases": {
            label: {
                "calls_per_query": round(len(values) / len(total), 2),
                "ms_per_query": round(sum(values) / len(total) * 1000, 2),
                "p50_ms": round(float(np.percentile(values, 50)) * 1000, 2),
                "p95_ms": round(float(np.percentile(values, 95)) * 1000, 2),
            }
            for label, values in rows.items()
        },
    }
    print("| phase | calls a query | ms a query | p50 ms | p95 ms |")
    print("| --- | --- | --- | --- | --- |")
    for label, row in report["phases"].items():
        cells = (row["calls_per_query"], row["ms_per_query"], row["p50_ms"], row["p95_ms"])
        print(f"| {label} | " + " | ".join(str(c) for c in cells) + " |")
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{report['queries']} queries, {hits} with hits; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
