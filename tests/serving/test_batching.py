"""Natural batching of concurrent queries, and the batched bf16 query encoder."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dataflux_pipeline.serving.batching import Batcher


def test_items_handed_in_while_a_batch_runs_go_into_the_next_one_together():
    seen: list[list[int]] = []
    gate = threading.Event()

    def run(key, items):
        seen.append(list(items))
        if len(seen) == 1:
            gate.wait(5)  # hold the first batch while the others queue up
        return [(key, i * 10) for i in items]

    batcher = Batcher(run, max_batch=4)
    first = batcher.submit("a", 0)
    time.sleep(0.05)
    later = [batcher.submit("a", i) for i in range(1, 7)] + [batcher.submit("b", 99)]
    gate.set()
    assert first.result(5) == ("a", 0)
    assert [f.result(5) for f in later] == [("a", i * 10) for i in range(1, 7)] + [("b", 990)]
    # the first ran alone; six queued "a" items ran as two batches (max 4), "b" alone
    assert seen == [[0], [1, 2, 3, 4], [5, 6], [99]]
    assert (batcher.batches, batcher.items) == (4, 8)


def test_a_failing_batch_fails_its_waiters_and_the_worker_goes_on():
    def run(key, items):
        if key == "bad":
            raise ValueError("model exploded")
        return [x + 1 for x in items]

    batcher = Batcher(run)
    with pytest.raises(ValueError, match="model exploded"):
        batcher("bad", 1)
    assert batcher("good", 1) == 2


def test_a_run_returning_the_wrong_number_of_results_is_an_error():
    batcher = Batcher(lambda key, items: items[:-1])
    with pytest.raises(RuntimeError, match="batch of 1 gave 0 results"):
        batcher("k", 1)


def test_batched_queries_embed_as_the_float32_model_does_one_by_one():
    from dataflux_pipeline.models.text import load_text_embedder
    from dataflux_pipeline.serving.encoder import QueryEncoder
    from dataflux_pipeline.settings import Settings

    embedder = load_text_embedder(Settings().text_model, "cpu")
    encoder = QueryEncoder(embedder, fast=True)
    queries = ["whales", "how long do you bake a loaf of bread", "INV-2024-0917", "saturn"]
    reference = np.concatenate([embedder.encode([q]) for q in queries])
    together = encoder.encode(queries)  # padded to the longest query
    alone = np.concatenate([encoder.encode([q]) for q in queries])
    assert together.shape == (4, embedder.dim)
    assert np.min(np.sum(together * reference, axis=1)) > 0.999
    assert np.min(np.sum(alone * reference, axis=1)) > 0.999
