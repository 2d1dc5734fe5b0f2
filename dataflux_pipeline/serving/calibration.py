"""One score scale for every search mode: the probability that a hit is relevant, from
the signals its mode has (the best cosine similarity of its segments, how far that is
below the query's best hit, the best share of the query's terms a text hit holds).
Logistic regressions fitted on the evaluation set by bench/calibrate.py (72 queries,
their top 20 per mode; the fit and its cross-validated effect are in
docs/benchmarks.md), so a fixed `min_score` means the same in every mode."""

from __future__ import annotations

import math
from collections.abc import Sequence

FEATURES: dict[str, tuple[str, ...]] = {
    "hybrid": ("cosine", "coverage", "gap"),
    "vector": ("cosine", "gap"),
    "text": ("coverage",),
}
# intercept first, then one weight per feature (bench/results/calibration.json)
WEIGHTS: dict[str, tuple[float, ...]] = {
    "hybrid": (-3.8092, 12.2567, 6.1824, -11.5493),
    "vector": (-3.1325, 11.7204, -12.8512),
    "text": (-5.779, 12.3852),
}


def probability(weights: Sequence[float], features: Sequence[float]) -> float:
    z = weights[0] + sum(w * x for w, x in zip(weights[1:], features, strict=True))
    return 1 / (1 + math.exp(-z))


def calibrated(mode: str, cosine: float, coverage: float, gap: float) -> float:
    """`gap`: how far below the query's best cosine this hit's is."""
    values = {"cosine": cosine, "coverage": coverage, "gap": gap}
    return probability(WEIGHTS[mode], [values[f] for f in FEATURES[mode]])
