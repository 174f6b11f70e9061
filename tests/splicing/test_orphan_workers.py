"""``variants --workers N`` leaves no process behind: the workers (and multiprocessing's resource
tracker) exit when the driver is killed, and ``-q`` keeps the tracker's "leaked semaphore"
warning after a killed worker off stderr (issue 21, item 13)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.runner import run_main
from tests.conftest import CHR22, DATA

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")


@pytest.fixture(scope="module")
def spread(tmp_path_factory, chr22_block, tiny_spliceai):
    """chr22 at real coordinates and a VCF of every 100th bundled dbSNP record (36 records, 8 shards of >= 5)."""
    from nucleoforge.io.genome import place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf

    d = tmp_path_factory.mktemp("orphans")
    ref = d / "chr22.fa"
    lengths = place_subsequence_records(CHR22, ref)
    variants = list(read_hisat2_snps(DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz", {"22:20000001-21000000": chr22_block}))
    vcf = d / "in.vcf"
    with open(vcf, "w") as fh:
        write_vcf(sorted(variants[::100], key=lambda v: v.pos), fh, contigs=lengths)
    return ref, vcf, tiny_spliceai(0)


def _children(pid: int) -> dict[int, str]:
    """``{pid: command line}`` of the live (not zombie) processes whose parent is ``pid``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # exited meanwhile
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cli(ref: Path, vcf: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return ["variants", "-I", str(vcf), "-O", str(out), "-R", str(ref), "-A", "grch37", "--model", str(model), "-q",
            "--workers", "2", "--shard-size", "5", *extra]  # fmt: skip


@pytest.mark.slow  # three CLI processes start torch: ~45 s on 2 cores
def test_workers_and_resource_tracker_exit_when_the_driver_is_killed(capsys, spread, tmp_path) -> None:
    """Item 13: SIGKILL of the driver takes its two workers and the resource tracker with it
    within 5 s; the resumed run then gives the single-process output."""
    ref, vcf, model = spread
    single = tmp_path / "single.vcf"
    r = run_main(capsys, "variants", "-I", vcf, "-O", single, "-R", ref, "-A", "grch37", "--model", model, "-q")
    assert r.code == 0, r.err
    out = tmp_path / "out.vcf"
    folder = Path(f"{out}.shards")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    held = "from tests.splicing.shard_faults import main; main('hold', 'shard-00001.vcf')"  # one worker waits there
    cmd = [sys.executable, "-c", held, *_cli(ref, vcf, out, model)]
    driver = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:  # both workers built, one held on shard 1
            children = _children(driver.pid)
            workers = [p for p, c in children.items() if "multiprocessing.spawn" in c]
            if len(workers) == 2 and any(folder.glob("part-*.done")):
                break
            time.sleep(0.2)
        assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
        assert sum("multiprocessing.spawn" in c for c in children.values()) == 2, children
        assert sum("resource_tracker" in c for c in children.values()) == 1, children
        os.kill(driver.pid, signal.SIGKILL)  # the driver only: its workers must notice by themselves
        driver.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(map(_alive, children)):
            time.sleep(0.1)
        assert {p: c for p, c in children.items() if _alive(p)} == {}
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        for pid in children:  # never leave them running, even when the assertion failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        driver.stderr.close()
    assert not out.exists() and not (folder / "part-00001.vcf.done").exists()
    r = run_main(capsys, *_cli(ref, vcf, out, model, "--resume"))
    assert r.code == 0, r.err
    assert out.read_bytes() == single.read_bytes()
    assert not folder.exists()


@pytest.mark.slow  # a fresh CLI process and two worker pools: ~40 s on 2 cores
def test_quiet_run_with_a_killed_worker_prints_no_leaked_semaphore_warning(spread, tmp_path) -> None:
    """Item 13: with ``-q``, a run in which a worker dies prints only its summary line (no
    ``resource_tracker: There appear to be N leaked semaphore objects`` warning)."""
    ref, vcf, model = spread
    out = tmp_path / "out.vcf"
    killed = "from tests.splicing.shard_faults import main; main('kill', 'shard-00002.vcf')"  # that worker dies once
    env = {k: v for k, v in os.environ.items() if k != "NUCLEOFORGE_DEBUG"} | {"HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", killed, *_cli(ref, vcf, out, model)], capture_output=True, text=True,
                          env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "(1 pool restart(s))" in lines[0], done.stderr
    assert "leaked semaphore" not in done.stderr
