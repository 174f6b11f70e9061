"""50 simultaneous requests against a running server give exactly the sequential answers, in batches."""

from __future__ import annotations

import threading
import urllib.parse

import pytest

from tests.serve.conftest import start_server

QUERIES = [  # SNVs on both strands, two genes, a deletion, an insertion, errors; raw and masked
    ("22-20102090-T-C", 0), ("22-20102090-T-C", 1), ("22-20050957-C-T", 0), ("22-20783721-C-T", 0),
    ("22-20137433-GT-G", 0), ("22-20119343-T-TCCG", 1), ("22-20378965-T-C", 1), ("22-20759672-G-A", 0),
    ("22-20102090-A-C", 0), ("22-20004430-G-T", 0), ("22-20939400-G-A", 1), ("22-20784102-C-G", 1),
]


@pytest.fixture(scope="module")
def fresh_server(chr22_reference):
    from nucleoforge.serve.service import GenomeSpec, LookupService
    from tests.conftest import spliceai_pretrained

    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    service = LookupService([GenomeSpec("37", str(chr22_reference), "grch37")], spliceai_pretrained("spliceai-10k"))
    srv, stop = start_server(service, max_batch=16, batch_wait=0.05, timeout=300)
    yield srv
    stop()


def _path(variant: str, mask: int) -> str:
    return "/spliceai/?" + urllib.parse.urlencode({"hg": "37", "variant": variant, "mask": mask, "tracks": 1})


def test_fifty_simultaneous_requests_get_the_sequential_answers(fresh_server):
    srv = fresh_server
    sequential = {q: srv.get(_path(*q)) for q in QUERIES}
    assert sum(status == 200 for status, _ in sequential.values()) == 10  # and two 400s
    before = srv.get("/health")[1]["worker"]

    order = [QUERIES[(7 * i) % len(QUERIES)] for i in range(50)]
    answers: list = [None] * 50
    start = threading.Barrier(50)

    def ask(i: int) -> None:
        start.wait()
        answers[i] = srv.get(_path(*order[i]))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for q, got in zip(order, answers):
        assert got == sequential[q], q  # status and the whole JSON, tracks included

    after = srv.get("/health")[1]["worker"]
    jobs, batches = after["jobs"] - before["jobs"], after["batches"] - before["batches"]
    assert jobs == 50
    assert batches < 25 and after["largest_batch"] > 1  # batching is visible in the counters
    assert after["batched_jobs"] - before["batched_jobs"] >= 26
