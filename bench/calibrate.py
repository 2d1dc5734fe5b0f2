"""Fit the search score's calibration on the evaluation set and measure the cut-off.

For every query and mode the top 20 assets are taken without a cut-off, each with the
signals its mode has (best cosine similarity, best share of query terms), and labelled
relevant when the judgments grade it. A logistic regression per mode turns the signals
into P(relevant): one scale whatever the mode. Reported, per mode and per min_score: the
share of returned hits that are relevant (precision), nDCG@10, and the same under
leave-one-query-out cross-validation (fitted without the query it is scored on).

    .venv/bin/python bench/calibrate.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataflux_pipeline.serving.calibration import FEATURES, probability  # noqa: E402
from dataflux_pipeline.serving.fusion import fuse  # noqa: E402
from dataflux_pipeline.serving.schemas import SearchRequest  # noqa: E402
from dataflux_pipeline.serving.search import Searcher  # noqa: E402
from tests.eval import harness  # noqa: E402

K = 20
THRESHOLDS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5)


def collect(searcher: Searcher, stems: dict[str, str]) -> dict[str, list[dict]]:
    """mode -> per query: the ranked groups' signals and grades."""
    out = {mode: [] for mode in harness.MODES}
    for q in harness.queries():
        for mode in harness.MODES:
            req = SearchRequest(query=q["query"], mode=mode, limit=K)
            where, _ = searcher.where(None, None)
            groups = fuse(searcher.legs(req, where, 2 * K), searcher.settings.rrf_k)[:K]
            best = max((g.cosine for g in groups), default=0.0)
            for g in groups:
                g.gap = best - g.cosine
            out[mode].append(
                {
                    "query": q["query"],
                    "type": q["type"],
                    "grades": q["relevant"],
                    "hits": [
                        {
                            "stem": stems.get(g.asset_id, g.asset_id),
                            "x": [getattr(g, f) for f in FEATURES[mode]],
                            "rrf": g.score,
                        }
                        for g in groups
                    ],
                }
            )
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """Logistic regression by Newton's method (intercept first)."""
    x = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hess = x.T @ (x * (p * (1 - p))[:, None]) + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hess, grad)
    return w


def ndcg(ranked: list[str], grades: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** grades.get(s, 0) - 1) / math.log2(i + 2) for i, s in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def evaluate(queries: list[dict], weights_for, threshold: float, order: str) -> dict:
    returned = relevant = 0
    scores = []
    for i, q in enumerate(queries):
        w = weights_for(i)
        hits = [(h, probability(w, h["x"])) for h in q["hits"]]
        if order == "calibrated":
            hits.sort(key=lambda hp: -hp[1])
        kept = [h for h, p in hits if p >= threshold]
        returned += min(len(kept), 10)
        relevant += sum(1 for h in kept[:10] if q["grades"].get(h["stem"], 0) > 0)
        scores.append(ndcg([h["stem"] for h in kept], q["grades"]))
    return {
        "precision": round(relevant / returned, 4) if returned else 0.0,
        "ndcg10": round(float(np.mean(scores)), 4),
        "hits_per_query": round(returned / len(queries), 2),
    }


def main() -> int:
    settings, _, _ = harness.catalog()
    searcher = Searcher(settings)
    stems = {v: k for k, v in harness.asset_ids(settings).items()}
    data = collect(searcher, stems)
    results = {}
    for mode, queries in data.items():
        x = np.array([h["x"] for q in queries for h in q["hits"]], float)
        y = np.array([q["grades"].get(h["stem"], 0) > 0 for q in queries for h in q["hits"]], float)
        w = fit(x, y)
        loo = []
        for i in range(len(queries)):
            rest = [h for j, q in enumerate(queries) if j != i for h in q["hits"]]
            labels = [
                q["grades"].get(h["stem"], 0) > 0
                for j, q in enumerate(queries)
                if j != i
                for h in q["hits"]
            ]
            loo.append(fit(np.array([h["x"] for h in rest], float), np.array(labels, float)))
        rows = []
        for order in ("fused", "calibrated"):
            for t in THRESHOLDS:
                fitted = evaluate(queries, lambda _i, w=w: w, t, order)
                held_out = evaluate(queries, lambda i, loo=loo: loo[i], t, order)
                rows.append({"order": order, "min_score": t, **fitted, "cross_validated": held_out})
        results[mode] = {
            "weights": [round(v, 4) for v in w],
            "features": FEATURES[mode],
            "rows": rows,
        }
        print(
            f"\n## {mode}: P(relevant) = sigmoid({w[0]:.3f} + "
            + " + ".join(f"{c:.3f}*{f}" for c, f in zip(w[1:], FEATURES[mode], strict=True))
            + ")"
        )
        print(
            "| order | min_score | precision | nDCG@10 | hits/query | CV precision | CV nDCG@10 |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            cv = r["cross_validated"]
            print(
                f"| {r['order']} | {r['min_score']} | {r['precision']} | {r['ndcg10']} | "
                f"{r['hits_per_query']} | {cv['precision']} | {cv['ndcg10']} |"
            )
    out = ROOT / "bench" / "results" / "calibration.json"
    out.write_text(json.dumps({"queries": len(harness.queries()), "modes": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
