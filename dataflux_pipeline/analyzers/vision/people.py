"""Faces into people, incrementally, in plain Python (no database): the catalog keeps the
`Person` records and hands each new batch of face embeddings to `People.assign`.

A face joins the person whose centroid (the normalized mean of that person's faces) is
most similar by cosine, if at least `threshold`; otherwise it starts a new person. Faces
are taken in the order of their ids, ties go to the lower person id, so the same faces
give the same people whatever order a batch arrived in. Centroids are kept as running
sums, so assigning and merging are exact means, not drifting averages. What people
name, merge or split by hand is the catalog's to record; `merge` is the arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_THRESHOLD = 0.6  # FaceNet cosine; bench/models.py measures purity and recall at it


@dataclass
class Person:
    id: int
    total: np.ndarray  # sum of the unit embeddings of its faces
    count: int
    faces: list[str] = field(default_factory=list)  # face ids assigned in this session

    @property
    def centroid(self) -> np.ndarray:
        return self.total / max(float(np.linalg.norm(self.total)), 1e-9)


class People:
    def __init__(self, people: Iterable[Person] = (), threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold
        self.people: dict[int, Person] = {p.id: p for p in people}

    def _next_id(self) -> int:
        return max(self.people, default=0) + 1

    def best(self, vector: np.ndarray) -> tuple[int | None, float]:
        """The most similar person and the similarity (lowest id on a tie)."""
        best_id, best_sim = None, -2.0
        for pid in sorted(self.people):
            sim = float(self.people[pid].centroid @ vector)
            if sim > best_sim:
                best_id, best_sim = pid, sim
        return best_id, best_sim

    def assign(self, face_ids: Sequence[str], embeddings: np.ndarray) -> dict[str, int]:
        """Person id of every face, creating people as needed."""
        out: dict[str, int] = {}
        for n in sorted(range(len(face_ids)), key=lambda i: face_ids[i]):
            vector = np.asarray(embeddings[n], np.float64)
            vector = vector / max(float(np.linalg.norm(vector)), 1e-9)
            pid, sim = self.best(vector)
            if pid is None or sim < self.threshold:
                pid = self._next_id()
                self.people[pid] = Person(pid, np.zeros_like(vector), 0)
            person = self.people[pid]
            person.total = person.total + vector
            person.count += 1
            person.faces.append(face_ids[n])
            out[face_ids[n]] = pid
        return out

    def merge(self, keep: int, drop: int) -> Person:
        """Fold person `drop` into `keep` (someone said they are the same person)."""
        if keep == drop:
            return self.people[keep]
        kept, dropped = self.people[keep], self.people.pop(drop)
        kept.total = kept.total + dropped.total
        kept.count += dropped.count
        kept.faces += dropped.faces
        return kept


def clustering_scores(truth: Sequence[str], assigned: Sequence[int]) -> dict[str, float]:
    """Purity (share of faces in a cluster whose true identity is the cluster's majority)
    and pairwise recall (share of same-identity pairs put in the same cluster)."""
    clusters: dict[int, list[str]] = {}
    for t, a in zip(truth, assigned, strict=True):
        clusters.setdefault(a, []).append(t)
    majority = sum(max(members.count(x) for x in set(members)) for members in clusters.values())
    same = together = 0
    for i in range(len(truth)):
        for j in range(i + 1, len(truth)):
            if truth[i] == truth[j]:
                same += 1
                together += assigned[i] == assigned[j]
    return {
        "purity": majority / max(1, len(truth)),
        "pairwise_recall": together / same if same else 1.0,
        "clusters": float(len(clusters)),
        "identities": float(len(set(truth))),
    }
