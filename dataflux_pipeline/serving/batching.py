"""Natural batching: work that concurrent requests hand in while a batch is running goes
into the next batch together.

A forward pass of MiniLM over eight short queries costs about what two single ones do,
and one multi-vector LanceDB query shares its planning and I/O across its vectors. A
request arriving at an idle batcher runs at once, alone: nobody waits for a timer, so a
lone query pays nothing and a loaded service gets bigger, cheaper batches."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import Any


class Batcher:
    """`submit(key, item)` -> Future; items with equal keys are run together by
    `run(key, items) -> results` (one result per item, in order) on one worker thread."""

    def __init__(
        self, run: Callable[[Hashable, list[Any]], Sequence[Any]], max_batch: int = 32, name=""
    ) -> None:
        self._run = run
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.batches = self.items = 0  # items / batches: the batch size reached
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, item: Any) -> Future:
        future: Future = Future()
        self._queue.put((key, item, future))
        return future

    def __call__(self, key: Hashable, item: Any) -> Any:
        return self.submit(key, item).result()

    def _take(self) -> list[tuple[Hashable, Any, Future]]:
        taken = [self._queue.get()]
        while len(taken) < self.max_batch * 4:
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return taken

    def _loop(self) -> None:
        while True:
            groups: dict[Hashable, list[tuple[Any, Future]]] = {}
            for key, item, future in self._take():
                groups.setdefault(key, []).append((item, future))
            for key, entries in groups.items():
                for start in range(0, len(entries), self.max_batch):
                    self._one(key, entries[start : start + self.max_batch])

    def _one(self, key: Hashable, entries: list[tuple[Any, Future]]) -> None:
        live = [(item, f) for item, f in entries if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self._run(key, [item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"batch of {len(live)} gave {len(results)} results")
        except BaseException as exc:  # every waiter hears of it; the worker lives on
            for _, future in live:
                future.set_exception(exc)
            return
        self.batches += 1
        self.items += len(live)
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)


class Direct:
    """Batcher's interface without the batching: each item runs alone, on the caller's
    thread (DATAFLUX_QUERY_BATCHING=false, the benchmark's baseline)."""

    def __init__(self, run: Callable[[Hashable, list[Any]], Sequence[Any]], **_: Any) -> None:
        self._run = run

    def submit(self, key: Hashable, item: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(self._run(key, [item])[0])
        except Exception as exc:
            future.set_exception(exc)
        return future

    def __call__(self, key: Hashable, item: Any) -> Any:
        return self.submit(key, item).result()
