"""Incremental face clustering: faces join the nearest person above the threshold, new
people start below it, the result does not depend on arrival order within a batch, later
batches extend the same people, and a merge adds exactly."""

from __future__ import annotations

import numpy as np

from dataflux_pipeline.analyzers.vision.people import People, Person, clustering_scores


def faces(rng, centre: np.ndarray, n: int, spread: float = 0.15) -> np.ndarray:
    vectors = centre + rng.normal(0, spread / np.sqrt(len(centre)), (n, len(centre)))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def identities(seed: int = 0, people: int = 4, dim: int = 64):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, dim))
    return rng, centres / np.linalg.norm(centres, axis=1, keepdims=True)


def test_faces_of_the_same_person_cluster_together() -> None:
    rng, centres = identities()
    vectors = np.concatenate([faces(rng, c, 5) for c in centres])
    truth = [f"p{i // 5}" for i in range(len(vectors))]
    ids = [f"face{i:03d}" for i in range(len(vectors))]
    people = People(threshold=0.6)
    assigned = people.assign(ids, vectors)
    scores = clustering_scores(truth, [assigned[i] for i in ids])
    assert scores["purity"] == 1.0 and scores["pairwise_recall"] == 1.0
    assert len(people.people) == 4 and sorted(p.count for p in people.people.values()) == [5] * 4


def test_same_faces_same_people_whatever_the_order() -> None:
    rng, centres = identities(1)
    vectors = np.concatenate([faces(rng, c, 4, spread=0.6) for c in centres])
    ids = [f"face{i:03d}" for i in range(len(vectors))]
    order = np.random.default_rng(7).permutation(len(ids))
    first = People(threshold=0.5).assign(ids, vectors)
    shuffled = People(threshold=0.5).assign([ids[i] for i in order], vectors[order])
    assert first == shuffled


def test_later_batches_extend_known_people_and_merge_is_exact() -> None:
    rng, centres = identities(2, people=2)
    people = People(threshold=0.6)
    old = people.assign(["a1", "a2"], faces(rng, centres[0], 2))
    new = people.assign(["b1", "b2"], faces(rng, centres[0], 2))
    assert set(old.values()) == set(new.values()) == {1}
    other = people.assign(["c1"], faces(rng, centres[1], 1))["c1"]
    assert other == 2
    stored = [Person(p.id, p.total.copy(), p.count) for p in people.people.values()]
    again = People(stored, threshold=0.6)  # as the catalog would reload them
    assert again.assign(["d1"], faces(rng, centres[1], 1))["d1"] == 2
    total = again.people[1].total + again.people[2].total
    merged = again.merge(1, 2)
    assert merged.count == 6 and np.allclose(merged.total, total) and list(again.people) == [1]
    assert abs(float(np.linalg.norm(merged.centroid)) - 1) < 1e-9


def test_scores_count_impure_clusters_and_split_people() -> None:
    scores = clustering_scores(["a", "a", "b", "b"], [1, 1, 1, 2])
    assert scores["purity"] == 0.75
    assert scores["pairwise_recall"] == 0.5  # a-a together, b-b split
