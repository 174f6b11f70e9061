"""50 simultaneous requests against a running server give exactly the sequential answers, in batches.

The worker is held (its scoring call waits on an event) while the 50 requests queue one after
another, then let go: what it takes at once, and so every scorer call, follows from the queue
alone, not from timing.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections import Counter

import pytest

from tests.serve.conftest import start_server

QUERIES = [  # SNVs on both strands, two genes, a deletion, an insertion, errors; raw and masked
    ("22-20102090-T-C", 0), ("22-20102090-T-C", 1), ("22-20050957-C-T", 0), ("22-20783721-C-T", 0),
    ("22-20137433-GT-G", 0), ("22-20119343-T-TCCG", 1), ("22-20378965-T-C", 1), ("22-20759672-G-A", 0),
    ("22-20102090-A-C", 0), ("22-20004430-G-T", 0), ("22-20939400-G-A", 1), ("22-20784102-C-G", 1),
]
MAX_BATCH = 16


@pytest.fixture(scope="module")
def held_server(chr22_reference):
    """The server, and the event that holds its worker: while it is clear, the worker's next
    scoring call waits (``entered`` is set once it does)."""
    from nucleoforge.serve.service import GenomeSpec, LookupService
    from tests.conftest import spliceai_pretrained

    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    service = LookupService([GenomeSpec("37", str(chr22_reference), "grch37")], spliceai_pretrained("spliceai-10k"))
    release, entered = threading.Event(), threading.Event()
    release.set()
    score = service.score

    def held(setting, jobs):
        if not release.is_set():
            entered.set()
            release.wait(300)
        return score(setting, jobs)

    service.score = held  # before create_app: the worker calls this
    srv, stop = start_server(service, max_batch=MAX_BATCH, batch_wait=0.05, timeout=300)
    yield srv, release, entered
    release.set()
    stop()


def _path(variant: str, mask: int) -> str:
    return "/spliceai/?" + urllib.parse.urlencode({"hg": "37", "variant": variant, "mask": mask, "tracks": 1})


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_fifty_simultaneous_requests_get_the_sequential_answers(held_server):
    srv, release, entered = held_server
    worker = srv.app.state.worker
    sequential = {q: srv.get(_path(*q)) for q in QUERIES}
    assert sum(status == 200 for status, _ in sequential.values()) == 10  # and two 400s
    before = srv.get("/health")[1]["worker"]

    order = [QUERIES[(7 * i) % len(QUERIES)] for i in range(50)]
    answers: list = [None] * 51  # the 50, then the request that holds the worker

    def ask(i: int, query: tuple[str, int]) -> None:
        answers[i] = srv.get(_path(*query))

    release.clear()
    blocker = threading.Thread(target=ask, args=(50, QUERIES[0]))
    blocker.start()
    assert entered.wait(60), "the worker never started scoring the first request"
    threads = []
    for i, q in enumerate(order):  # queued one by one, in this order, while the worker is held
        threads.append(threading.Thread(target=ask, args=(i, q)))
        threads[-1].start()
        _wait_for(lambda: worker.queued == i + 1, f"request {i} to be queued")
    assert srv.get("/health")[1]["queued"] == 50
    release.set()
    for t in [blocker, *threads]:
        t.join(300)
    assert answers[50] == sequential[QUERIES[0]]
    for q, got in zip(order, answers):
        assert got == sequential[q], q  # status and the whole JSON, tracks included

    # the worker takes up to MAX_BATCH queued jobs at once and scores each setting (here: mask) of
    # them in one call; before them, the held request alone
    takes = [order[i : i + MAX_BATCH] for i in range(0, len(order), MAX_BATCH)]
    calls = [1] + [n for take in takes for n in Counter(mask for _, mask in take).values()]
    assert calls == [1, 11, 5, 8, 8, 9, 7, 2]  # (mask 0, mask 1) per take of 16, 16, 16 and 2 jobs
    after = srv.get("/health")[1]
    assert after["queued"] == 0
    delta = {k: after["worker"][k] - before[k] for k in ("jobs", "batches", "batched_jobs", "errors", "cancelled")}
    assert delta == {"jobs": 51, "batches": len(calls), "batched_jobs": sum(n for n in calls if n > 1), "errors": 0,
                     "cancelled": 0}
    histogram = Counter({int(k): v for k, v in after["worker"]["histogram"].items()})
    histogram.subtract({int(k): v for k, v in before["histogram"].items()})
    assert +histogram == Counter(calls)
    assert after["worker"]["largest_batch"] == max(calls)
