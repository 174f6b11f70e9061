"""A real ``nucleoforge serve`` app on 127.0.0.1 (uvicorn in a thread) over the bundled chr22 block."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import CHR22


@dataclass
class Server:
    url: str
    app: Any

    def get(self, path: str) -> tuple[int, Any]:
        return _call(urllib.request.Request(self.url + path))

    def post(self, path: str, body: str | bytes, content_type: str = "application/json") -> tuple[int, Any]:
        data = body.encode() if isinstance(body, str) else body
        return _call(urllib.request.Request(self.url + path, data=data, headers={"Content-Type": content_type}))


def _call(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(service: Any, **kw) -> tuple[Server, Any]:
    """Serve ``create_app(service, **kw)`` on a free 127.0.0.1 port; returns the server and a stop function."""
    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    import uvicorn

    from nucleoforge.serve.app import create_app

    app = create_app(service, **kw)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(30)

    return Server(f"http://127.0.0.1:{port}", app), stop


@pytest.fixture(scope="session")
def chr22_reference(tmp_path_factory):
    from nucleoforge.io.genome import place_subsequence_records

    ref = tmp_path_factory.mktemp("serve_ref") / "chr22.fa"
    place_subsequence_records(CHR22, ref, chrom_prefix="chr")  # 'chr22' in the FASTA, '22' in requests
    return ref


@pytest.fixture(scope="module")
def server(chr22_reference, tmp_path_factory):
    """The real ensemble, genome '37' = the chr22 block + grch37, a score cache, at most 8 per batch."""
    from nucleoforge.serve.service import GenomeSpec, LookupService
    from tests.conftest import spliceai_pretrained

    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    model = spliceai_pretrained("spliceai-10k")
    cache = tmp_path_factory.mktemp("serve_cache") / "scores.sqlite"
    service = LookupService([GenomeSpec("37", str(chr22_reference), "grch37")], model, cache=str(cache))
    srv, stop = start_server(service, max_batch=8, timeout=120)
    yield srv
    stop()


# the tiny genome and model of the splicing tests, for servers that need no real weights
from tests.splicing.conftest import tiny_genome, tiny_spliceai  # noqa: E402,F401
