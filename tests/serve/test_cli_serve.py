"""`nucleoforge serve` as a user starts it: a process bound to 127.0.0.1, answering, stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.cli.runner import assert_user_error, run_main
from tests.serve.conftest import _free_port


def test_serve_command_answers_on_localhost(chr22_reference):
    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    from tests.conftest import spliceai_pretrained

    spliceai_pretrained("spliceai-10k")  # converted into the cache (skips, or fails under CI=true, without the wheel)
    port = _free_port()
    cmd = [sys.executable, "-c", "from nucleoforge.cli import main; main()", "serve", "-R", str(chr22_reference),
           "-A", "grch37", "--hg", "37", "--port", str(port)]
    proc = subprocess.Popen(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, health = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    health = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.3)
        assert health is not None, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no answer"
        assert list(health["genomes"]) == ["37"]
        url = f"http://127.0.0.1:{port}/spliceai/?hg=37&variant=22-20102090-T-C&distance=50&mask=0"
        with urllib.request.urlopen(url, timeout=120) as r:
            data = json.loads(r.read())
        assert data["scores"][0]["ENTRY"] == "C|TRMT2A|0.05|0.00|0.67|0.00|6|31|1|7"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        err = proc.stderr.read().decode()
        proc.stderr.close()
    assert f"serving hg37 on http://127.0.0.1:{port}/" in err


@pytest.mark.parametrize("args, message", [
    (["-R", "missing.fa", "-A", "grch37"], "missing.fa"),
    (["-A", "grch37"], "-R/--reference and -A/--annotation go together"),
    ([], "give -R/--reference FASTA -A/--annotation ANNOTATION, or --genome NAME=FASTA,ANNOTATION"),
    (["--genome", "38"], "--genome '38': expected NAME=FASTA,ANNOTATION"),
])
def test_serve_option_errors_are_one_line(capsys, args, message):
    assert_user_error(run_main(capsys, "serve", *args), message)
