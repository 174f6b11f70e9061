"""The one thread that runs the model for ``nucleoforge serve``, batching concurrent requests.

Request handlers never touch a model or a scorer: they put a :class:`Job` on the worker's queue
and wait for its future. The worker takes every job waiting (up to ``max_batch``, after at most
``batch_wait`` seconds for more to arrive), groups them by setting (genome, distance, mask,
with or without per-position tracks) and scores each group with one scorer call, so the
reference windows and ALT cones of concurrent requests share model calls. Scorers (one per
setting) live only in this thread; results depend on the variant and the setting alone.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Job", "ScoringWorker", "WorkerStats"]


@dataclass(frozen=True)
class Job:
    """One variant to score under one setting; ``tracks``: also the per-position predictions."""

    genome: str
    chrom: str
    pos: int
    ref: str
    alt: str
    distance: int
    mask: bool
    tracks: bool = False

    @property
    def setting(self) -> tuple[str, int, bool, bool]:
        return (self.genome, self.distance, self.mask, self.tracks)


@dataclass
class WorkerStats:
    """Counters shown at ``/health``: how many jobs, in how many scorer calls."""

    jobs: int = 0
    batches: int = 0  # scorer calls (one per setting present in a batch)
    largest_batch: int = 0  # jobs in the largest scorer call
    batched_jobs: int = 0  # jobs scored in a call together with at least one other
    errors: int = 0
    busy_seconds: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)  # jobs per scorer call -> calls


class ScoringWorker:
    """Run ``score(setting, jobs) -> results`` for batches of jobs on one thread.

    ``score`` is called only from the worker thread; it returns one result per job, in order
    (an exception fails every job of that call with it). ``on_close`` runs on the worker thread
    when it stops (what the scorers opened there, e.g. SQLite connections, must close there).
    """

    def __init__(self, score: Callable[[tuple, list[Job]], list[Any]], *, max_batch: int = 64,
                 batch_wait: float = 0.01, on_close: Callable[[], None] | None = None) -> None:
        self._score, self._on_close = score, on_close
        self.max_batch, self.batch_wait = max(1, max_batch), batch_wait
        self.stats = WorkerStats()
        self._queue: queue.Queue[tuple[Job, Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="nucleoforge-scoring", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Future:
        future: Future = Future()
        self._queue.put((job, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        try:
            self._serve()
        finally:
            if self._on_close is not None:
                self._on_close()

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            deadline = time.monotonic() + self.batch_wait
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list[tuple[Job, Future]]) -> None:
        groups: OrderedDict[tuple, list[tuple[Job, Future]]] = OrderedDict()
        for job, future in batch:
            if future.set_running_or_notify_cancel():  # a request that timed out and cancelled is dropped
                groups.setdefault(job.setting, []).append((job, future))
        for setting, items in groups.items():
            t0 = time.perf_counter()
            try:
                results = self._score(setting, [job for job, _ in items])
            except Exception as exc:  # the request sees the error; the worker keeps serving
                self.stats.errors += len(items)
                for _, future in items:
                    future.set_exception(exc)
                continue
            finally:
                s = self.stats
                s.busy_seconds += time.perf_counter() - t0
                s.jobs += len(items)
                s.batches += 1
                s.largest_batch = max(s.largest_batch, len(items))
                s.batched_jobs += len(items) if len(items) > 1 else 0
                s.histogram[len(items)] = s.histogram.get(len(items), 0) + 1
            for (_, future), result in zip(items, results):
                future.set_result(result)
