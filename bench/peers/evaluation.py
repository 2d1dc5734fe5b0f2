"""Relevance on the evaluation set (tests/eval) for DataFlux and every peer, scored the same
way: the corpus goes through the real pipeline once (tests.eval.harness.catalog), DataFlux
is asked over HTTP as the harness does, and each peer indexes the very rows DataFlux's
text space holds (segment text and MiniLM vectors; LanceDB's hybrid query runs on that
table itself), is asked for 20 segments per query with the same query vectors, and its
first 10 distinct assets are scored with tests.eval.harness.ndcg and .recall."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.peers.engines import COLUMNS, LanceHybrid, TantivyHnsw

MODES = ("hybrid", "vector", "text")


def ranked_stems(rows: list[dict], k: int) -> list[str]:
    stems: list[str] = []
    for r in rows:
        stem = Path(r["file_name"] or r["asset_id"]).stem
        if stem not in stems:
            stems.append(stem)
    return stems[:k]


def score(engine, queries: list[dict], vectors: np.ndarray) -> dict:
    from tests.eval import harness

    out = {}
    for mode in MODES:
        ndcg, recall = [], []
        for q, v in zip(queries, vectors, strict=True):
            ranked = ranked_stems(engine.search(q["query"], v, 2 * harness.K, mode), harness.K)
            ndcg.append(harness.ndcg(ranked, q["relevant"]))
            recall.append(harness.recall(ranked, q["relevant"]))
        out[mode] = {
            "ndcg": round(float(np.mean(ndcg)), 4),
            "recall": round(float(np.mean(recall)), 4),
            "n": len(ndcg),
        }
    return out


def evaluate(ef_search: int) -> dict:
    """nDCG@10 and recall@10 per mode: `dataflux` and each peer under `peers`."""
    from dataflux_pipeline.serving.encoder import query_encoder
    from tests.eval import harness

    settings, _, _ = harness.catalog()
    with harness.serve(settings) as url:
        found = harness.evaluate(url)
    dataflux = {m: found[m] for m in MODES}
    queries = harness.queries()
    encoder = query_encoder(settings.text_model, "cpu", settings.query_encoder_bf16)
    vectors = encoder.encode([q["query"] for q in queries])
    lance = LanceHybrid(settings.lancedb)
    peers = {lance.name: score(lance, queries, vectors)}
    table = lance.table.search().select([*COLUMNS, "vector"]).limit(None).to_arrow()
    with tempfile.TemporaryDirectory(prefix="dataflux-eval-peer-") as tmp:
        TantivyHnsw.build(Path(tmp), table)
        peers[TantivyHnsw.name] = score(TantivyHnsw(Path(tmp), ef_search), queries, vectors)
    return {"queries": len(queries), "segments": table.num_rows, "dataflux": dataflux} | {
        "peers": peers
    }


if __name__ == "__main__":
    import json

    print(json.dumps(evaluate(64), indent=1))  # python -m bench.peers.evaluation
