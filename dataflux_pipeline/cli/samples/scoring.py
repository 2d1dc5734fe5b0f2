"""How far a model's transcript is from the truth: the error rates that speech and OCR
tests and benchmarks hold models to."""

from __future__ import annotations

import re
from collections.abc import Sequence


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance: insertions, deletions and substitutions, one each."""
    previous = list(range(len(hypothesis) + 1))
    for i, a in enumerate(reference, 1):
        current = [i]
        for j, b in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; "smoke stack" and "smokestack" stay two and
    one, as a word error rate should count them."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref = words(reference)
    return edit_distance(ref, words(hypothesis)) / max(1, len(ref))


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance over the reference's length, whitespace runs taken as one space."""
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    return edit_distance(ref, hyp) / max(1, len(ref))
