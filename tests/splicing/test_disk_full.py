"""An output that cannot be written (issue 21, item 15): ``variants -O /dev/full`` and a file that
hits a size limit (``RLIMIT_FSIZE``: ``EFBIG``, as a full disk gives ``ENOSPC``) end with one line
naming the output and exit status 2; a device is never removed, an output whose header could not
be written (no manifest) is removed, and one cut off after its manifest resumes to the same bytes."""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.runner import EXE, assert_user_error, run_main
from tests.splicing.conftest import VCF_HEADER

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")


@pytest.fixture(scope="module")
def setup(tiny_genome, tiny_spliceai, tmp_path_factory):
    """``(fasta, genes, vcf, model)``: 32 SNVs, 31 inside the plus-strand gene."""
    fa, table, seq = tiny_genome
    d = tmp_path_factory.mktemp("disk_full")
    rows = [f"chr1\t{p}\tv{p}\t{seq[p - 1]}\t{'A' if seq[p - 1] != 'A' else 'C'}\t.\tPASS\t.\n" for p in range(60, 380, 10)]
    vcf = d / "many.vcf"
    vcf.write_text(VCF_HEADER + "".join(rows))
    return fa, table, vcf, tiny_spliceai(0)


def _args(setup, out, *extra) -> list[object]:
    fa, table, vcf, model = setup
    return ["variants", "-I", vcf, "-O", out, "-R", fa, "-A", table, "--model", model, "-q", "--chunk-size", "4", *extra]


@pytest.mark.parametrize("extra", [(), ("--format", "tsv")], ids=["vcf", "tsv"])
def test_dev_full_is_one_line_and_stays_a_device(capsys, setup, extra) -> None:
    r = run_main(capsys, *_args(setup, "/dev/full", *extra))
    line = assert_user_error(r, "/dev/full")
    assert line == "error: /dev/full: cannot write the output: No space left on device [ENOSPC]; no records were written"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not os.path.exists("/dev/full.manifest.json") and not os.path.exists("/dev/full.checkpoints")


def _limited(limit: int, args: list[object]) -> subprocess.CompletedProcess:
    """``nucleoforge ARGS`` in a process whose files may not grow past ``limit`` bytes (a write
    past it fails with EFBIG instead of raising SIGXFSZ)."""

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-c", "from nucleoforge.cli import main; main()"]
    env = {k: v for k, v in os.environ.items() if k != "NUCLEOFORGE_DEBUG"} | {"HF_HUB_OFFLINE": "1"}
    return subprocess.run([*cmd, *map(str, args)], preexec_fn=limit_files, capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip


@pytest.mark.parametrize("name", ["out.vcf", "out.tsv"])
def test_an_output_without_its_header_is_removed(setup, tmp_path, name) -> None:
    """The header does not fit: no manifest, nothing to resume, the file this run created is removed."""
    out = tmp_path / name
    done = _limited(20, _args(setup, out))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: {out}: cannot write the output: File too large [EFBIG]; {out} was removed"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["out.vcf", "out.tsv"])
def test_an_output_cut_after_its_manifest_resumes_to_the_same_bytes(capsys, setup, tmp_path, name) -> None:
    """The header and manifest fit, the records do not: one line saying so; --resume (with room) then
    writes the same file as a run that was never stopped."""
    whole = tmp_path / f"whole{Path(name).suffix}"
    assert run_main(capsys, *_args(setup, whole)).code == 0
    assert whole.stat().st_size > 1500
    out = tmp_path / name
    done = _limited(1500, _args(setup, out))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: {out}: cannot write the output: File too large [EFBIG]; its complete "
                                        "records are kept: rerun with --resume once there is room"]
    assert Path(f"{out}.manifest.json").is_file() and out.stat().st_size <= 1500
    r = run_main(capsys, *_args(setup, out, "--resume"))
    assert r.code == 0, r.err
    assert out.read_bytes() == whole.read_bytes()


def test_an_existing_regular_output_is_not_removed(setup, tmp_path) -> None:
    """Only files the run created are removed: an output that was there before is kept (emptied by
    the fresh run, as any overwrite)."""
    out = tmp_path / "out.vcf"
    out.write_text("old\n")
    done = _limited(20, _args(setup, out))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: {out}: cannot write the output: File too large [EFBIG]; "
                                        "no records were written"]
    assert out.is_file() and not Path(f"{out}.manifest.json").exists()



def test_a_sharded_run_needs_a_regular_output_file(capsys, setup) -> None:
    """--workers keeps its shards beside -O: a device is refused before anything is scored (and nothing is made in /dev)."""
    r = run_main(capsys, *_args(setup, "/dev/full", "--workers", "2", "--shard-size", "8"))
    assert assert_user_error(r, "/dev/full") == ("error: --workers needs a regular output file (-O): /dev/full is not one "
                                                 "(its shards are kept beside it, in /dev/full.shards)")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and not os.path.exists("/dev/full.shards")

