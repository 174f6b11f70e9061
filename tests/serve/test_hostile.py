"""No request poisons ``nucleoforge serve``: hostile and odd requests get clean 4xx answers and
leave the server answering everyone else (issue 21, server part).

Every server here binds 127.0.0.1; every wait is bounded (a deadline or a timeout).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.cli.runner import invoke
from tests.serve.conftest import start_server

pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")


# ---------------------------------------------------------------------------------------- helpers
def _http(url: str, body: bytes | None = None, content_type: str = "application/json",
          timeout: float = 30) -> tuple[int, bytes]:
    """Status and raw body (JSON or not) of a GET, or a POST when ``body`` is given."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _json(answer: tuple[int, bytes]) -> tuple[int, Any]:
    status, raw = answer
    return status, json.loads(raw)


def _until(check, what: str, seconds: float = 15.0) -> None:
    """Poll ``check()`` until it is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Served:
    url: str
    seq: str  # the tiny genome's chr1
    fasta: Path
    table: Path
    ran: list[str]  # variants the worker scored, in order
    gate: threading.Event  # cleared: the worker waits (at most 30 s) before scoring
    entered: threading.Event  # set when the worker starts a scorer call

    def variant(self, pos: int, alt: str | None = None) -> str:
        ref = self.seq[pos - 1]
        return f"1-{pos}-{ref}-{alt or ('A' if ref != 'A' else 'C')}"

    def get(self, variant: str, **params: Any) -> tuple[int, bytes]:
        return _http(self.url + "/spliceai/?" + urllib.parse.urlencode({"hg": "t", "variant": variant, **params}))

    def batch(self, body: Any, query: str = "hg=t", content_type: str = "application/json") -> tuple[int, bytes]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return _http(f"{self.url}/spliceai/batch?{query}", data, content_type)

    def health(self) -> dict:
        return _json(_http(self.url + "/health"))[1]


@pytest.fixture(scope="module")
def served(tiny_genome, tiny_spliceai, tmp_path_factory):
    """The tiny genome ('t') and a 20-kb genome ('long', for long alleles) with the tiny model and
    a score cache; the worker's scorer calls are recorded and can be held at a gate."""
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.serve.service import GenomeSpec, LookupService

    fa, table, seq = tiny_genome
    d = tmp_path_factory.mktemp("hostile")
    long_seq = "".join(np.random.default_rng(2).choice(list("ACGT"), 20_000))
    (d / "long.fa").write_text(">chr1\n" + long_seq + "\n")
    (d / "long.txt").write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                                "LONG\t1\t+\t100\t19900\t100,9000,\t5000,19900,\n")
    model = SpliceAIModel.from_pretrained(tiny_spliceai(0)).eval()
    service = LookupService([GenomeSpec("t", str(fa), str(table)),
                             GenomeSpec("long", str(d / "long.fa"), str(d / "long.txt"))], model,
                            cache=str(d / "scores.sqlite"))
    ran: list[str] = []
    gate, entered = threading.Event(), threading.Event()
    gate.set()
    score = service.score

    def recorded(setting, jobs):
        entered.set()
        gate.wait(30)
        ran.extend(f"{j.chrom}-{j.pos}-{j.ref}-{j.alt}" for j in jobs)
        return score(setting, jobs)

    service.score = recorded
    srv, stop = start_server(service, max_batch=8, timeout=120)
    yield Served(srv.url, seq, fa, table, ran, gate, entered)
    gate.set()
    stop()


# ------------------------------------------------------------------------- 7. strict types
def test_a_boolean_distance_or_mask_is_refused_and_poisons_nothing(served):
    """Item 7: JSON true is not the integer 1: refused before any scorer is keyed on it; then
    requests at several distances (1 included) are answered."""
    v = served.variant(300)
    for body, message in [
        ({"variants": [v], "distance": True}, 'request body: "distance" must be an integer, got true'),
        ({"variants": [v], "mask": True}, 'request body: "mask" must be 0 or 1, got true'),
        ({"variants": [v], "distance": 1.0}, 'request body: "distance" must be an integer, got 1.0'),
        ({"variants": [v], "hg": 37}, 'request body: "hg" must be a string naming a genome, got 37'),
        ({"variants": [v], "distnace": 5}, "request body: unknown key 'distnace' (expected variants, hg, distance, mask)"),
    ]:
        assert _json(served.batch(body)) == (400, {"error": message, "source": "nucleoforge"})
    assert _json(served.get(v, tracks=2)) == (400, {"error": "tracks=2: expected 0 or 1 (1 = run the model and return "
                                                             "the tracks)", "source": "nucleoforge"})
    for distance in (1, 2, 3, 50):
        status, data = _json(served.get(v, distance=distance))
        assert status == 200 and data["distance"] == distance and len(data["scores"]) == 2  # PLUS and MINUS
    status, data = _json(served.batch({"variants": [v], "distance": 1}))
    assert status == 200 and data[0]["distance"] == 1 and data[0]["scores"]


def test_a_failing_scorer_is_rebuilt_and_fails_only_its_own_jobs(served, monkeypatch):
    """Item 7: a scorer that fails is dropped (the next request of its setting gets a new one),
    and a job that fails a shared scorer call fails alone, not its batch neighbours."""
    from nucleoforge.splicing.scoring import VariantScorer

    built = []
    init = VariantScorer.__init__

    def broken_first(self, *args, **kw):  # the first scorer of distance 7 is broken for good
        init(self, *args, **kw)
        built.append(self.distance)
        if self.distance == 7 and built.count(7) == 1:
            self.score_with_tracks = lambda chunk: (_ for _ in ()).throw(RuntimeError("broken scorer"))

    original = VariantScorer.score_with_tracks

    def fails_at_310(self, chunk):  # every scorer of distance 9 fails on position 310
        if self.distance == 9 and any(v.pos == 310 for v in chunk):
            raise RuntimeError("bad window at 310")
        return original(self, chunk)

    monkeypatch.setattr(VariantScorer, "__init__", broken_first)
    monkeypatch.setattr(VariantScorer, "score_with_tracks", fails_at_310)
    v = served.variant(230)
    assert _json(served.get(v, distance=7)) == (500, {
        "error": "internal error while scoring (RuntimeError: broken scorer); the server carries on and a repeated "
                 "request is scored afresh", "source": "nucleoforge"})
    status, data = _json(served.get(v, distance=7))
    assert status == 200 and data["distance"] == 7 and [r["g_name"] for r in data["scores"]] == ["PLUS"]
    assert built.count(7) == 2

    before = served.health()["worker"]["errors"]
    status, data = _json(served.batch({"variants": [served.variant(300), served.variant(310)], "distance": 9}))
    assert status == 200
    assert data[0]["distance"] == 9 and len(data[0]["scores"]) == 2  # PLUS and MINUS overlap 300
    assert data[1] == {"variant": served.variant(310), "source": "nucleoforge",
                       "error": "internal error while scoring (RuntimeError: bad window at 310); the server carries on "
                                "and a repeated request is scored afresh"}
    assert served.health()["worker"]["errors"] - before == 1


# ---------------------------------------------------------------------- 8. bounded bodies
def test_deep_json_and_oversized_bodies_are_refused_before_parsing(served):
    """Item 8: 100,000 levels of JSON nesting are a 400, a body over the limit a 413 (by its
    Content-Length, before it is read)."""
    assert _json(served.batch(b"[" * 100_000 + b"]" * 100_000)) == (400, {
        "error": 'request body: JSON nested deeper than 8 levels (expected a list of variant strings or {"variants": '
                 '[...]})', "source": "nucleoforge"})
    host, port = urllib.parse.urlsplit(served.url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /spliceai/batch?hg=t HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 3000000\r\n\r\n[")  # the rest is never sent: the answer comes first
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body) == {"error": "request body of 3,000,000 bytes: this server takes at most 2,097,152; split "
                                         "the request", "source": "nucleoforge"}


# ------------------------------------------------------------------- 9. the cache at start-up
def _serve_args(served: Served, *more: object, port: int = 0) -> list[object]:
    return ["serve", "-R", served.fasta, "-A", served.table, "--model", "/nonexistent/model", "--port", port, *more]


def test_an_unusable_cache_is_one_error_line_before_the_model_loads(served, tmp_path):
    """Item 9: a VCF, a missing folder and a folder as --cache: one error line, exit 2, and the
    model (a missing folder here) is never reached."""
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    missing = tmp_path / "nowhere" / "scores.sqlite"
    for cache, line in [
        (vcf, f"error: --cache {vcf}: cannot be used as an SQLite cache (file is not a database)"),
        (missing, f"error: --cache {missing}: the folder {missing.parent} does not exist"),
        (tmp_path, f"error: --cache {tmp_path}: is a folder, expected a cache file (created if missing)"),
    ]:
        result = invoke(_serve_args(served, "--cache", cache, "-q"))
        assert (result.exit_code, result.stderr.splitlines()) == (2, [line])


def _make_unwritable(paths: list[Path]) -> Any:
    """Make ``paths`` unwritable for this process (chmod; for root, which chmod does not stop,
    the immutable attribute); returns the undo function, or skips where neither works."""
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
        undo = lambda: subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)  # noqa: E731
        if done.returncode != 0:
            undo()
            pytest.skip(f"running as root and chattr +i failed: {done.stderr.decode().strip()}")
    else:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        undo = lambda: [p.chmod(m) for p, m in modes.items()]  # noqa: E731
    if any(os.access(p, os.W_OK) for p in paths):
        undo()
        pytest.skip("cannot make a folder unwritable here")
    return undo


def test_a_read_only_cache_is_used_for_lookups(served, tiny_genome, tiny_spliceai, tmp_path):
    """Item 9: a cache in a folder this process cannot write is opened read-only: one warning
    line at start-up, cached variants are answered from it, new scores are not stored."""
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.serve.service import GenomeSpec, LookupService

    fa, table, seq = tiny_genome
    folder = tmp_path / "shared"
    folder.mkdir()
    cache = folder / "scores.sqlite"
    model = SpliceAIModel.from_pretrained(tiny_spliceai(0)).eval()
    spec = GenomeSpec("t", str(fa), str(table))
    srv, stop = start_server(LookupService([spec], model, cache=str(cache)))
    try:
        first = _json(_http(srv.url + "/spliceai/?hg=t&variant=" + served.variant(160)))[1]
        cached = _json(_http(srv.url + "/spliceai/?hg=t&variant=" + served.variant(160)))[1]  # a read-only connection
    finally:
        stop()  # closes the cache, readers first: the writer, closing last, folds and removes -wal/-shm
    assert (first["source"], cached["source"]) == ("nucleoforge:model", "nucleoforge:cache")
    assert sorted(os.listdir(folder)) == ["scores.sqlite"]

    undo = _make_unwritable([folder, cache])
    try:
        result = invoke(_serve_args(served, "--cache", cache))
        lines = result.stderr.splitlines()
        assert result.exit_code == 2 and len(lines) == 2 and lines[1].startswith("error: ")  # the missing model
        assert lines[0] == f"warning: --cache {cache} is not writable: it is read for lookups and new scores are not stored"

        service = LookupService([spec], model, cache=str(cache))
        assert service.cache_readonly is True
        srv, stop = start_server(service)
        try:
            again = _json(_http(srv.url + "/spliceai/?hg=t&variant=" + served.variant(160)))
            new = _json(_http(srv.url + "/spliceai/?hg=t&variant=" + served.variant(201)))
            assert srv.get("/health")[1]["cache_readonly"] is True
        finally:
            stop()
        assert again[0] == 200 and again[1]["source"] == "nucleoforge:cache" and [r["ENTRY"] for r in again[1]["scores"]] == [r["ENTRY"] for r in first["scores"]]
        assert new[0] == 200 and new[1]["source"] == "nucleoforge:model"
        from nucleoforge.io.score_cache import ScoreCache, check_cache_path

        assert check_cache_path(cache) is False
        with ScoreCache(cache, service.cache_setting("t", 50, False), readonly=True) as reader:
            assert len(reader) == 1  # the new score was not stored
    finally:
        undo()


# ------------------------------------------------ 10. cache hits without the worker; cancelling
def test_cached_lookups_never_wait_for_the_worker_and_abandoned_jobs_are_dropped(served):
    """Item 10: with the worker held in a scorer call, a cached GET is answered; a batch whose
    client closes the connection while its jobs wait is cancelled: the worker never runs them."""
    cached, slow, after = served.variant(421), served.variant(450), served.variant(500)
    abandoned = [served.variant(p) for p in (350, 520, 530)]
    assert _json(served.get(cached))[1]["source"] == "nucleoforge:model"
    start = len(served.ran)
    served.gate.clear()
    served.entered.clear()
    answers: list = []
    holder = threading.Thread(target=lambda: answers.append(_json(served.get(slow))))
    holder.start()
    try:
        assert served.entered.wait(15), "the worker did not start the held request"
        t0 = time.monotonic()
        status, data = _json(_http(served.url + "/spliceai/?hg=t&variant=" + cached, timeout=10))
        assert (status, data["source"]) == (200, "nucleoforge:cache") and time.monotonic() - t0 < 5

        before = served.health()["worker"]["cancelled"]
        host, port = urllib.parse.urlsplit(served.url).netloc.split(":")
        body = json.dumps(abandoned).encode()
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(b"POST /spliceai/batch?hg=t HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            _until(lambda: served.health()["queued"] == 3, "the batch's 3 jobs to be queued")
        _until(lambda: served.health()["worker"]["cancelled"] - before == 3, "the 3 abandoned jobs to be cancelled")
    finally:
        served.gate.set()
        holder.join(60)
    assert answers and answers[0][0] == 200
    assert _json(served.get(after))[0] == 200  # queued after the abandoned jobs: they have been dropped by now
    assert served.ran[start:] == [slow, after]
    assert served.health()["queued"] == 0


def test_a_cache_filled_by_variants_answers_without_the_worker(tiny_genome, tiny_spliceai, tmp_path):
    """Item 10: the entries `nucleoforge variants --cache` stored are found by the server's
    read-only lookups (same cache setting): answered from the cache, the worker runs no job."""
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.serve.service import GenomeSpec, LookupService
    from tests.splicing.conftest import VCF_HEADER, synthetic_vcf_lines

    fa, table, seq = tiny_genome
    lines = synthetic_vcf_lines(seq)
    (tmp_path / "in.vcf").write_text(VCF_HEADER + "".join(lines))
    cache = tmp_path / "scores.sqlite"
    result = invoke(["variants", "-I", tmp_path / "in.vcf", "-O", tmp_path / "out.vcf", "-R", fa, "-A", table,
                     "--model", tiny_spliceai(0), "--cache", cache, "-q"])
    assert result.exit_code == 0, result.output
    written = {}
    for line in (tmp_path / "out.vcf").read_text().splitlines():
        c = line.split("\t")
        if not line.startswith("#") and "SpliceAI=" in c[7]:
            written[f"{c[0].removeprefix('chr')}-{c[1]}-{c[3]}-{c[4]}"] = c[7].split("SpliceAI=")[1].split(";")[0].split(",")
    assert len(written) >= 8
    model = SpliceAIModel.from_pretrained(tiny_spliceai(0)).eval()
    srv, stop = start_server(LookupService([GenomeSpec("t", str(fa), str(table))], model, cache=str(cache)))
    try:
        for variant, entries in written.items():
            status, data = _json(_http(srv.url + "/spliceai/?hg=t&variant=" + variant))
            assert (status, data["source"], [r["ENTRY"] for r in data["scores"]]) == (200, "nucleoforge:cache", entries)
        assert srv.get("/health")[1]["worker"]["jobs"] == 0
    finally:
        stop()


# ---------------------------------------------------------------- 11. errors quote a prefix
def test_errors_quote_a_short_prefix_of_their_input(served):
    """Item 11: a 100,000-character variant and an 8,000-nt REF that does not match come back
    as 60 characters and '…', in answers of a few hundred bytes."""
    huge = "A" * 100_000
    status, raw = served.batch([huge])
    assert status == 200 and len(raw) < 400
    assert json.loads(raw) == [{"variant": "A" * 60 + "…", "source": "nucleoforge",
                                "error": f"variant of 100,000 characters ('{'A' * 60}…') is longer than any variant "
                                         "this server scores (REF up to 9,998 nt, ALT up to 1,000 nt)"}]
    status, raw = _http(served.url + "/spliceai/?" + urllib.parse.urlencode(
        {"hg": "long", "variant": f"1-6000-{'A' * 8000}-A"}))
    assert status == 400 and len(raw) < 400
    error = json.loads(raw)["error"]
    assert error.startswith(f"REF {'A' * 60}… does not match the reference of genome long at 1:6000: the reference has ")
    assert error.endswith("…") and len(error) == len(f"REF {'A' * 60}… does not match the reference of genome long at "
                                                      "1:6000: the reference has ") + 61
    status, raw = _http(served.url + "/spliceai/?hg=t&variant=1-120-C-A&distance=" + "x" * 5000)
    assert status == 400 and json.loads(raw)["error"] == ("distance: Input should be a valid integer, unable to parse "
                                                          f"string as an integer (got '{'x' * 60}…')")


# ---------------------------------------------------------------- odd alleles, allele limit
def test_odd_alleles_follow_the_original_and_long_ones_are_refused(served):
    """REF == ALT and ALT N are scored as the original `spliceai` scores them (REF == ALT: the
    same sequence twice, all deltas 0.00); an ALT over 1,000 nt is a short 400."""
    ref = served.seq[299]
    status, same = _json(served.get(f"1-300-{ref}-{ref}"))
    assert status == 200 and len(same["scores"]) == 2
    assert {row[f"DS_{k}"] for row in same["scores"] for k in ("AG", "AL", "DG", "DL")} == {"0.00"}
    status, n = _json(served.get(f"1-300-{ref}-N"))
    assert status == 200 and [r["ENTRY"].split("|")[:2] for r in n["scores"]] == [["N", "PLUS"], ["N", "MINUS"]]

    insertion = f"1-120-{served.seq[119]}-{served.seq[119]}{'A' * 60_000}"
    status, raw = served.batch([insertion])
    assert status == 200 and len(raw) < 400
    assert json.loads(raw)[0]["error"] == (f"variant of 60,009 characters ('{insertion[:60]}…') is longer than any "
                                           "variant this server scores (REF up to 9,998 nt, ALT up to 1,000 nt)")
    status, data = _json(served.get(f"1-120-{served.seq[119]}-{'C' * 1001}"))
    assert status == 400 and data["error"].endswith(": ALT of 1,001 nt is longer than this server's limit of 1,000 nt")


# ------------------------------------------------------------------------- 12. where it binds
def test_a_non_loopback_host_needs_allow_remote_and_the_bind_precedes_the_model(served):
    """Item 12: --host beyond loopback is refused without --allow-remote, and a port in use is
    one error line, both before the model loads (a missing model folder is never reached).
    Nothing binds beyond 127.0.0.1 here."""
    for host in ("0.0.0.0", "192.0.2.1"):
        result = invoke(_serve_args(served, "--host", host))
        assert (result.exit_code, result.stderr.splitlines()) == (2, [
            f"error: --host {host}: not a loopback address (127.0.0.1, ::1, localhost) and this server has no "
            "authentication: add --allow-remote to serve beyond this machine"])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(_serve_args(served, port=port))
    assert (result.exit_code, result.stderr.splitlines()) == (2, [
        f"error: --host 127.0.0.1 --port {port}: cannot listen there (Address already in use)"])


# ---------------------------------------------------------- three more hostile requests
@pytest.mark.parametrize("kind, status, message", [
    # Python refuses to convert a number of over 4,300 digits: was an uncaught ValueError (HTTP 500)
    ("json number of 5,000 digits", 400, "request body: the number 11111111111111111111… has more than 18 digits"),
    # likewise in a variant's position
    ("position of 5,000 digits", 400, f"variant '1-{'1' * 58}…': position 11111111111111111111… is beyond any chromosome"),
    ("body that is not UTF-8", 400, "request body is not UTF-8: byte 0xff at offset 8"),
    ("form upload", 415, "Content-Type 'multipart/form-data': expected application/json (a JSON list or object of "
                         "variants) or text/plain (a VCF)"),
    ("10,000 query parameters", 400, "query string with 10,002 parameters: this server reads at most 32"),
    ("query string of 20,000 bytes", 414, "query string of 20,013 bytes: this server reads at most 16,384 (send many "
                                          "variants as a POST /spliceai/batch body)"),
])
def test_hostile_requests_are_clean_4xx(served, kind, status, message):
    v = served.variant(300)
    answer = {
        "json number of 5,000 digits": lambda: served.batch(b'{"variants": [], "distance": ' + b"1" * 5000 + b"}"),
        "position of 5,000 digits": lambda: served.get("1-" + "1" * 5000 + "-A-C"),
        "body that is not UTF-8": lambda: served.batch(b'["1-120-\xff-A"]'),
        "form upload": lambda: served.batch(json.dumps([v]).encode(), content_type="multipart/form-data; boundary=x"),
        "10,000 query parameters": lambda: _http(f"{served.url}/spliceai/?hg=t&variant={v}" + "&a" * 10_000),
        "query string of 20,000 bytes": lambda: _http(f"{served.url}/spliceai/?hg=t&variant={'A' * 20_000}"),
    }[kind]()
    assert _json(answer) == (status, {"error": message, "source": "nucleoforge"})
    assert _json(served.get(v))[0] == 200  # and the server answers the next request


def test_a_lone_surrogate_in_a_batch_is_an_error_answer_not_a_crash(served):
    """A JSON string escape of a lone surrogate cannot be encoded as UTF-8: the answer echoes it
    escaped (was: HTTP 500 while encoding the response)."""
    status, data = _json(served.batch(b'["\\ud800", "' + served.variant(300).encode() + b'"]'))
    assert status == 200 and data[0]["variant"] == "\\ud800" and data[0]["error"].startswith("cannot parse variant '\\ud800'")
    assert data[1]["scores"]


def test_one_run_of_every_hostile_request_then_good_requests_at_every_distance(served):
    """The issue's end-to-end check, in one bounded run on one server: every hostile request above,
    then the same good variant at several distances and masks, by GET and in a batch: all 200."""
    v = served.variant(300)
    hostile = [
        lambda: served.batch({"variants": [v], "distance": True}),
        lambda: served.batch({"variants": [v], "mask": True}),
        lambda: served.batch(b"[" * 100_000 + b"]" * 100_000),
        lambda: served.batch(b'{"variants": [], "distance": ' + b"1" * 5000 + b"}"),
        lambda: served.batch(b'["1-120-\xff-A"]'),
        lambda: served.batch(b'["\\ud800"]'),
        lambda: served.get("1:-300 A>C"),
        lambda: served.get("1-" + "1" * 5000 + "-A-C"),
        lambda: served.get("A" * 100_000),
        lambda: _http(f"{served.url}/spliceai/?hg=t&variant={v}" + "&a" * 10_000),
        lambda: served.batch(json.dumps([v]).encode(), content_type="multipart/form-data; boundary=x"),
    ]
    for send in hostile:
        status, _ = send()
        assert status in (200, 400, 413, 414, 415), status  # a batch of bad items answers 200 with error entries
    for distance in (1, 2, 5, 50):
        for mask in (0, 1):
            status, data = _json(served.get(v, distance=distance, mask=mask))
            assert status == 200 and data["distance"] == distance and data["scores"], (distance, mask)
    status, data = _json(served.batch({"variants": [v, served.variant(310)], "distance": 1}))
    assert status == 200 and all(item["scores"] for item in data)


def test_a_variant_failing_several_rules_is_told_the_first_in_the_users_order(served):
    """The server words the structured reasons of the shared record rules, first the chromosome's
    end, then REF, the gene, the window and REF's length (the scorer counts them in Illumina's order)."""
    seq = served.seq
    wrong = "".join("A" if b != "A" else "C" for b in seq[4:6])

    def error(variant: str, **params: Any) -> str:
        status, data = _json(served.get(variant, **params))
        assert status == 400, data
        return data["error"]

    assert error(f"1-598-{seq[597:600]}A-{seq[597]}") == "position 1:598 is beyond the end of chr1 (length 600)"
    # also outside every gene and too close to the start: REF comes first
    assert error(f"1-5-{wrong}-A") == f"REF {wrong} does not match the reference of genome t at 1:5: the reference has {seq[4:6]}"
    assert error(served.variant(10)).startswith("no gene of the annotation ")  # and the window passes the start
    assert error(served.variant(590)).startswith("1:590 is too close to the end of chr1: the ")
    assert error(f"1-300-{seq[299:303]}-{seq[299]}", distance=1) == "REF of 4 nt is longer than 2 x distance (2): raise distance"
