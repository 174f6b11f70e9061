"""The one thread that runs the model for ``nucleoforge serve``, batching concurrent requests.

Request handlers never touch a model or a scorer: they put a :class:`Job` on the worker's queue
and wait for its future. The worker takes every job waiting (up to ``max_batch``, after at most
``batch_wait`` seconds for more to arrive), groups them by setting (genome, distance, mask,
with or without per-position tracks, model) and scores each group with one scorer call, so the
reference windows and ALT cones of concurrent requests share model calls. Scorers (one per
setting) live only in this thread; results depend on the variant and the setting alone.

A job whose future was cancelled before the worker took it (its client went away or timed out)
is dropped unscored. When a scorer call fails, each of its jobs is tried again alone, so one
bad job cannot fail the jobs of other requests that happened to share its batch.
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
    model: str = "spliceai"  # which served model scores it: "spliceai" or "pangolin"

    @property
    def setting(self) -> tuple[str, int, bool, bool, str]:
        return (self.genome, self.distance, self.mask, self.tracks, self.model)


@dataclass
class WorkerStats:
    """Counters shown at ``/health``: how many jobs, in how many scorer calls."""

    jobs: int = 0
    batches: int = 0  # scorer calls (one per setting present in a batch)
    largest_batch: int = 0  # jobs in the largest scorer call
    batched_jobs: int = 0  # jobs scored in a call together with at least one other
    errors: int = 0  # jobs that failed with an exception (each is tried alone before it counts)
    cancelled: int = 0  # jobs dropped before they ran: their client closed the connection or timed out
    busy_seconds: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)  # jobs per scorer call -> calls


class ScoringWorker:
    """Run ``score(setting, jobs) -> results`` for batches of jobs on one thread.

    ``score`` is called only from the worker thread; it returns one result per job, in order
    (when it raises, every job of that call is scored again alone: only the jobs that fail alone
    get the exception). ``on_close`` runs on the worker thread
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

    @property
    def queued(self) -> int:
        """Jobs waiting for the worker (cancelled ones included until it drops them)."""
        return self._queue.qsize()

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
            if future.set_running_or_notify_cancel():  # a cancelled job (its client left or timed out) is dropped
                groups.setdefault(job.setting, []).append((job, future))
        for setting, items in groups.items():
            t0 = time.perf_counter()
            try:
                results: list[Any] = self._score(setting, [job for job, _ in items])
            except Exception as exc:
                results = [_Failed(exc)] if len(items) == 1 else [self._alone(setting, job) for job, _ in items]
            finally:
                s = self.stats
                s.busy_seconds += time.perf_counter() - t0
                s.jobs += len(items)
                s.batches += 1
                s.largest_batch = max(s.largest_batch, len(items))
                s.batched_jobs += len(items) if len(items) > 1 else 0
                s.histogram[len(items)] = s.histogram.get(len(items), 0) + 1
            for (_, future), result in zip(items, results):
                if isinstance(result, _Failed):  # the request sees the error; the worker keeps serving
                    self.stats.errors += 1
                    future.set_exception(result.error)
                else:
                    future.set_result(result)

    def _alone(self, setting: tuple, job: Job) -> Any:
        try:
            return self._score(setting, [job])[0]
        except Exception as exc:
            return _Failed(exc)


@dataclass(frozen=True)
class _Failed:
    """The exception a job's scorer call raised (set on its future)."""

    error: BaseException
