"""nucleoforge installs like a package (issue 20 §6): a wheel built from this checkout, installed
into a fresh virtual environment outside it, runs its command line, serves its page with the
static files from the installed package, and scores the bundled sample VCF.

Slow (minutes: a fresh environment, torch included). The dependencies are pinned to the versions
of the environment running the test (a constraints file), so the result does not change with the
next release on the package index; torch is the CPU build this environment has (``make`` installs
``torch==2.13.0`` the same way). Every step has a time limit and the server is always stopped.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"
BLOCK = DATA / "GRCh37_chr22_20000001-21000000.fa.gz"
SAMPLE = DATA / "dbsnp_chr22_sample.vcf"
TORCH_SPEC = "torch==2.13.0"
# not part of a source tree: left out of the copy the wheel is built from
_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                 "runs", "out", "*.pyc")


def _run(cmd: list[object], *, timeout: float, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; fail the test with its output tail on a non-zero exit. Returns stdout + stderr."""
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{out[-4000:]}"
    return out


def _package_data() -> set[str]:
    """Every file of the package that is not Python source (read at run time from the install)."""
    root = REPO / "nucleoforge"
    return {p.relative_to(REPO).as_posix() for p in root.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}  # fmt: skip


def _constraints(path: Path) -> Path:
    """``name==version`` of every distribution in this environment but nucleoforge itself."""
    pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower() != "nucleoforge"})  # fmt: skip
    path.write_text("\n".join(pins) + "\n")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 120) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_environment_and_runs(tmp_path):
    """§6: build, install (``[serve]`` extra), then ``--help``, ``reference place``, ``serve`` (page,
    static files, one lookup) and ``variants`` on the sample VCF — all from outside the checkout."""
    # 1. a wheel built from a copy of the checkout; every data file of the package is in it
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=_IGNORE)
    wheels = tmp_path / "wheels"
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheels, src], timeout=900, cwd=tmp_path)
    assert "BuildBackendWarning" not in build, build[-3000:]  # e.g. a deprecated pyproject field
    (wheel,) = wheels.glob("nucleoforge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_package_data() - names)
    assert not missing, f"files of nucleoforge/ that the wheel lacks (pyproject package-data): {missing}"
    assert {"nucleoforge/py.typed", "nucleoforge/serve/static/index.html", "nucleoforge/serve/static/app.js"} <= names

    # 2. a fresh environment outside the checkout: torch first, the wheel with [serve], the spliceai wheel
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=300, cwd=tmp_path)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q"]
    constraints = _constraints(tmp_path / "constraints.txt")
    _run([*pip, TORCH_SPEC, "-c", constraints], timeout=1200, cwd=tmp_path)
    _run([*pip, f"{wheel}[serve]", "-c", constraints], timeout=1200, cwd=tmp_path)
    _run([*pip, "--no-deps", "spliceai==1.3.1"], timeout=600, cwd=tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "NUCLEOFORGE_DEBUG")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               NUCLEOFORGE_CACHE=str(tmp_path / "cache"))  # weights converted afresh from the installed spliceai wheel
    exe = venv / "bin" / "nucleoforge"
    where = _run([venv / "bin" / "python", "-c", "import nucleoforge; print(nucleoforge.__file__)"], timeout=120, cwd=work, env=env)
    assert Path(where.strip()).is_relative_to(venv), where

    # 3. the command line
    helped = _run([exe, "--help"], timeout=120, cwd=work, env=env)
    assert all(cmd in helped for cmd in ("reference", "variants", "serve")), helped
    placed = _run([exe, "reference", "place", BLOCK, "-o", "chr22.fa"], timeout=300, cwd=work, env=env)
    assert placed.splitlines() == ["22: 21,000,000 nt", "wrote 1 record to chr22.fa"]

    # 4. the local server: the page and its static files come from the installed package
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([exe, "serve", "-R", "chr22.fa", "-A", "grch37", "--host", "127.0.0.1", "--port", str(port), "-q"],
                              cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # the first start converts the SpliceAI weights
        while True:
            assert server.poll() is None, f"serve exited {server.returncode}:\n{(tmp_path / 'serve.log').read_text()[-3000:]}"
            try:
                status, body = _get(f"{base}/health", timeout=5)
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve did not answer /health within 600 s"
            time.sleep(1)
        status, page = _get(f"{base}/")
        assert status == 200 and page == (REPO / "nucleoforge" / "serve" / "static" / "index.html").read_bytes()
        for static in ("app.js", "style.css", "vendor/swagger-ui/swagger-ui.css"):
            status, body = _get(f"{base}/static/{static}")
            assert status == 200 and body == (REPO / "nucleoforge" / "serve" / "static" / static).read_bytes(), static
        status, body = _get(f"{base}/spliceai/?hg=37&variant=22-20102090-T-C&distance=50&mask=0", timeout=300)
        assert status == 200, body[:2000]
        (score,) = json.loads(body)["scores"]  # SpliceAI-lookup's fields: the new donor of rs885980
        assert (score["g_name"], score["DS_DG"], score["DP_DG"]) == ("TRMT2A", "0.67", 1), score
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()

    # 5. the bundled sample VCF, scored on the placed reference
    _run([exe, "variants", "-I", SAMPLE, "-O", "sample.spliceai.vcf", "-R", "chr22.fa", "-A", "grch37", "-q"],
         timeout=1800, cwd=work, env=env)
    rows = [line.split("\t") for line in (work / "sample.spliceai.vcf").read_text().splitlines() if not line.startswith("#")]
    assert len(rows) == 40 and all(r[7].startswith("SpliceAI=") for r in rows)
    assert {r[2]: r[7] for r in rows}["rs885980"] == "SpliceAI=C|TRMT2A|0.05|0.00|0.67|0.00|6|31|1|7"
