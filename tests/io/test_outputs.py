"""nucleoforge.io.outputs: output-is-input refusal, atomic writes, run manifests; VCF parse errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from nucleoforge.io.outputs import (
    atomic_output,
    atomic_path,
    check_not_input,
    check_paths,
    check_resume,
    file_identity,
    manifest_path,
    model_identity,
    read_manifest,
    run_manifest,
    write_manifest,
)
from nucleoforge.io.vcf import VcfFormatError, open_vcf
from nucleoforge.io.vcf_records import iter_vcf_records

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spliceai_variants"


# ------------------------------------------------------------------------------ output is the input
def test_check_not_input_same_file_symlink_and_hardlink(tmp_path):
    src = tmp_path / "in.vcf"
    src.write_text("data\n")
    with pytest.raises(ValueError, match="same file as the input"):
        check_not_input(src, src, option="-O")
    link = tmp_path / "link.vcf"
    link.symlink_to(src)
    with pytest.raises(ValueError, match=r"-O .*link\.vcf is the same file as the input .*in\.vcf"):
        check_not_input(link, src, option="-O")
    with pytest.raises(ValueError, match="same file as the input"):
        check_not_input(src, link)  # the input given through the link
    hard = tmp_path / "hard.vcf"
    os.link(src, hard)
    with pytest.raises(ValueError, match="same file as the input"):
        check_not_input(hard, src)
    rel = Path(os.path.relpath(src))
    with pytest.raises(ValueError, match="same file as the input"):
        check_not_input(rel, src)
    assert src.read_text() == "data\n"


def test_check_not_input_accepts_other_files_new_files_and_streams(tmp_path):
    src = tmp_path / "in.vcf"
    src.write_text("data\n")
    other = tmp_path / "out.vcf"
    other.write_text("old\n")
    check_not_input(other, src, None, "-")
    check_not_input(tmp_path / "new.vcf", src)
    check_not_input("-", src)
    check_not_input(None, src)
    check_not_input("/dev/stdout", "/dev/stdin")  # streams, even when both are one terminal


def test_check_paths_validates_inputs_and_output_folders(tmp_path):
    src = tmp_path / "in.fa"
    src.write_text(">a\nACGT\n")
    check_paths({"--input": src, "--reference": None}, {"--output": tmp_path / "o.tsv", "--plot": None})
    with pytest.raises(FileNotFoundError, match=r"--input .*missing\.fa: no such file"):
        check_paths({"--input": tmp_path / "missing.fa"}, {"--output": tmp_path / "o.tsv"})
    with pytest.raises(FileNotFoundError, match=r"--output .*nodir.*does not exist"):
        check_paths({"--input": src}, {"--output": tmp_path / "nodir" / "o.tsv"})
    blocker = tmp_path / "a_file"
    blocker.write_text("x\n")
    with pytest.raises(NotADirectoryError, match=r"--output .*a_file/o\.tsv: .*a_file is a file, not a directory"):
        check_paths({"--input": src}, {"--output": blocker / "o.tsv"})
    with pytest.raises(ValueError, match=r"--output .* is a directory"):
        check_paths({"--input": src}, {"--output": tmp_path})
    with pytest.raises(ValueError, match=r"--output .*in\.fa is the same file as the input"):
        check_paths({"--input": src}, {"--output": src})


# ------------------------------------------------------------------------------ atomic writes
def test_atomic_output_replaces_target_only_on_success(tmp_path):
    target = tmp_path / "out.tsv"
    target.write_text("old\n")
    with atomic_output(target) as fh:
        fh.write("new\n")
        temps = [p.name for p in tmp_path.iterdir() if p.name != "out.tsv"]
        assert len(temps) == 1 and temps[0].startswith("out.tsv.tmp")  # beside the target
        assert target.read_text() == "old\n"
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tsv"]

    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output(target) as fh:
            fh.write("partial")
            raise RuntimeError("boom")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tsv"]


def test_atomic_path_permissions_and_links(tmp_path):
    target = tmp_path / "new.npz"
    with atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"xyz")
    assert target.read_bytes() == b"xyz"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    real = tmp_path / "real.tsv"
    real.write_text("old\n")
    link = tmp_path / "link.tsv"
    link.symlink_to(real)
    with atomic_output(link) as fh:
        fh.write("through the link\n")
    assert link.is_symlink() and real.read_text() == "through the link\n"


# ------------------------------------------------------------------------------ manifests
def _manifest(tmp_path, **params):
    src = tmp_path / "in.vcf"
    if not src.exists():
        src.write_text("##fileformat=VCFv4.2\n")
    return run_manifest("variants", inputs={"input": src}, parameters={"distance": 50, "mask": False, **params})


def test_manifest_round_trip_and_identical_resume(tmp_path):
    out = tmp_path / "out.vcf"
    m = _manifest(tmp_path)
    path = write_manifest(out, m)
    assert path == manifest_path(out) == tmp_path / "out.vcf.manifest.json"
    data = json.loads(path.read_text())
    assert data["command"] == "variants" and data["parameters"] == {"distance": 50, "mask": False}
    assert data["inputs"]["input"]["sha256"] == file_identity(tmp_path / "in.vcf")["sha256"]
    assert len(data["inputs"]["input"]["sha256"]) == 64 and "nucleoforge" in data["versions"]
    assert read_manifest(out) == data
    check_resume(out, _manifest(tmp_path))  # identical: accepted


def test_check_resume_names_every_difference(tmp_path):
    out = tmp_path / "out.vcf"
    write_manifest(out, _manifest(tmp_path))
    with pytest.raises(ValueError, match=r"distance: 50 in the run being resumed, 10 now") as err:
        check_resume(out, run_manifest("variants", inputs={"input": tmp_path / "in.vcf"},
                                       parameters={"distance": 10, "mask": True}))
    assert "mask: False in the run being resumed, True now" in str(err.value)
    assert "out.vcf.manifest.json" in str(err.value) and "without --resume" in str(err.value)
    (tmp_path / "in.vcf").write_text("##fileformat=VCFv4.2\n#changed\n")
    with pytest.raises(ValueError, match=r"input .*in\.vcf: its content \(sha256\) differs"):
        check_resume(out, _manifest(tmp_path))
    with pytest.raises(ValueError, match="command: variants in the run being resumed, variant-effect now"):
        check_resume(out, run_manifest("variant-effect", inputs={"input": tmp_path / "in.vcf"}, parameters={}))


def test_check_resume_refuses_without_a_manifest_or_with_a_broken_one(tmp_path):
    out = tmp_path / "out.vcf"
    out.write_text("#CHROM\n")
    with pytest.raises(ValueError, match=r"no run manifest .*out\.vcf\.manifest\.json"):
        check_resume(out, _manifest(tmp_path))
    manifest_path(out).write_text("{not json")
    with pytest.raises(ValueError, match=r"out\.vcf\.manifest\.json.*not a nucleoforge run manifest"):
        check_resume(out, _manifest(tmp_path))


def test_model_identity_follows_the_weights():
    torch.manual_seed(0)
    a = torch.nn.Linear(3, 2)
    b = torch.nn.Linear(3, 2)
    ida, idb = model_identity(a), model_identity(b)
    assert ida["sha256"] != idb["sha256"] and ida["class"] == "Linear"
    b.load_state_dict(a.state_dict())
    assert model_identity(b)["sha256"] == ida["sha256"]
    assert model_identity(a.to(torch.float64))["sha256"] != ida["sha256"]  # dtype changes results


def test_model_change_is_named(tmp_path):
    out = tmp_path / "o.tsv"
    torch.manual_seed(0)
    src = tmp_path / "in.vcf"
    src.write_text("x\n")
    write_manifest(out, run_manifest("variant-effect", inputs={"input": src}, parameters={}, model=torch.nn.Linear(2, 2)))
    with pytest.raises(ValueError, match=r"model: the weights \(sha256\) differ"):
        check_resume(out, run_manifest("variant-effect", inputs={"input": src}, parameters={}, model=torch.nn.Linear(2, 2)))


# ------------------------------------------------------------------------------ VCF parse errors
def _bad_vcf(tmp_path: Path, bad: str, after: int = 5) -> Path:
    lines = (FIXTURES / "input.vcf").read_text().splitlines(True)
    header = [ln for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if not ln.startswith("#")]
    path = tmp_path / "bad.vcf"
    path.write_text("".join(header + body[:after] + [bad] + body[after:]))
    return path


@pytest.mark.parametrize("bad,expected", [
    ("22\tabc\trsX\tC\tT\t.\t.\t.\n", "POS must be a positive integer, got 'abc'"),
    ("22\t20009000\n", "expected at least 8 tab-separated columns (CHROM POS ID REF ALT QUAL FILTER INFO), got 2"),
    ("22 20009000 rsX C T . . .\n", "expected at least 8 tab-separated columns"),
    ("\n", "empty line"),
])
def test_vcf_parse_error_names_file_line_and_what_was_expected(tmp_path, bad, expected):
    path = _bad_vcf(tmp_path, bad)
    vcf = open_vcf(path)
    got = []
    with pytest.raises(VcfFormatError) as err:
        for rec in iter_vcf_records(vcf, path):
            got.append(rec.id)
    assert len(got) == 5  # every record before the bad line
    assert str(err.value).startswith(f"{path}:9: ")  # 3 header lines + 5 records
    assert expected in str(err.value)
    assert isinstance(err.value, ValueError)


def test_vcf_parse_error_in_a_gzip_file(tmp_path):
    import pysam

    plain = _bad_vcf(tmp_path, "22\t20009000\n", after=2)
    gz = tmp_path / "bad.vcf.gz"
    pysam.tabix_compress(str(plain), str(gz))
    with pytest.raises(VcfFormatError, match=rf"^{gz}:6: expected at least 8"):
        list(iter_vcf_records(open_vcf(gz), gz))


# ------------------------------------------------------------------------------ targets that are not regular files
def _read_fifo_in_background(fifo: Path):
    """Start a reader of ``fifo``; returns ``(thread, chunks)``: the bytes it read, once joined."""
    import threading

    chunks: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            chunks.append(fh.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, chunks


def test_atomic_output_and_atomic_path_write_a_fifo_directly(tmp_path):
    """A FIFO (like /dev/stdout on a pipe) cannot be replaced: it is written in place, no temporary file."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    thread, chunks = _read_fifo_in_background(fifo)
    with atomic_output(fifo) as fh:
        fh.write("through the pipe\n")
    thread.join(10)
    assert chunks == [b"through the pipe\n"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.fifo"]
    with atomic_path(fifo) as target:
        assert Path(target) == fifo  # the target itself, not a temporary file beside it
    assert [p.name for p in tmp_path.iterdir()] == ["out.fifo"]


def test_atomic_output_writes_std_streams_directly(tmp_path, capfd):
    """/dev/stdout is written in place even when it is a regular file (a shell redirection)."""
    capfd.readouterr()
    with atomic_output("/dev/stdout") as fh:
        fh.write("to stdout\n")
    assert capfd.readouterr().out == "to stdout\n"


# ------------------------------------------------------------------------------ the resume protocol
def test_check_resumable_refuses_inputs_that_are_not_regular_files(tmp_path):
    from nucleoforge.io.outputs import check_resumable

    src = tmp_path / "in.vcf"
    src.write_text("x\n")
    check_resumable({"-I/--input": src, "-R/--reference": None})
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    for stream in ("-", "/dev/stdin", fifo):
        with pytest.raises(ValueError, match=r"^--resume: -I/--input .* is not a regular file") as err:
            check_resumable({"-R/--reference": src, "-I/--input": stream})
        assert "\n" not in str(err.value) and "without --resume" in str(err.value)


class _Sink:
    def __init__(self, path: Path, append: bool) -> None:
        self.fh = open(path, "a" if append else "w")
        self.write, self.flush, self.close = self.fh.write, self.fh.flush, self.fh.close


def _resumable(out: Path, manifest, *, resume: bool, keys, open_sink=None):
    from nucleoforge.io.outputs import open_resumable

    def read_kept():
        data = out.read_bytes()
        end = data.rfind(b"\n") + 1
        lines = data[:end].decode().splitlines()[1:]
        return [ln.split("\t") for ln in lines], end, None

    return open_resumable(out, manifest, resume=resume, inputs={"-I/--input": None}, source="in.vcf",
                          input_keys=iter(keys), read_kept=read_kept, key_names=("key", "value"),
                          open_sink=open_sink or (lambda append: _Sink(out, append)), header="#key\tvalue\n")


def test_open_resumable_fresh_run_removes_a_stale_manifest_before_opening_the_output(tmp_path):
    out = tmp_path / "out.tsv"
    out.write_text("#key\tvalue\na\t1\n")
    write_manifest(out, _manifest(tmp_path))  # the old run's settings

    def unopenable(append: bool):
        raise PermissionError(13, "Permission denied", str(out))

    with pytest.raises(PermissionError):
        _resumable(out, _manifest(tmp_path, distance=10), resume=False, keys=[], open_sink=unopenable)
    assert not manifest_path(out).exists()  # the old rows are described by no manifest
    assert out.read_text() == "#key\tvalue\na\t1\n"
    with pytest.raises(ValueError, match="no run manifest"):
        _resumable(out, _manifest(tmp_path, distance=10), resume=True, keys=[["a", "1"]])

    # a fresh run that works: header first, then the manifest
    sink, kept = _resumable(out, _manifest(tmp_path, distance=10), resume=False, keys=[])
    sink.write("b\t2\n")
    sink.close()
    assert kept == 0 and out.read_text() == "#key\tvalue\nb\t2\n"
    assert read_manifest(out)["parameters"]["distance"] == 10


def test_open_resumable_checks_kept_rows_then_manifest_then_truncates(tmp_path):
    out = tmp_path / "out.tsv"
    m = _manifest(tmp_path)
    sink, _ = _resumable(out, m, resume=False, keys=[])
    sink.write("a\t1\nb\t2\nc\t")  # interrupted in the 3rd row
    sink.close()
    before = out.read_bytes()
    with pytest.raises(ValueError, match=r"record 2 \(b 2\) does not match input record 2 of in\.vcf: key b in the output, x"):
        _resumable(out, m, resume=True, keys=[["a", "1"], ["x", "2"], ["c", "3"]])
    with pytest.raises(ValueError, match=r"record 2 \(b 2\) has no input record 2 in in\.vcf \(the input has 1\)"):
        _resumable(out, m, resume=True, keys=[["a", "1"]])
    with pytest.raises(ValueError, match="distance: 50 in the run being resumed, 10 now"):
        _resumable(out, _manifest(tmp_path, distance=10), resume=True, keys=[["a", "1"], ["b", "2"]])
    assert out.read_bytes() == before  # a refused resume leaves the output as it was
    keys = iter([["a", "1"], ["b", "2"], ["c", "3"]])
    sink, kept = _resumable(out, m, resume=True, keys=keys)
    assert kept == 2 and next(keys) == ["c", "3"]  # the input is advanced past the kept rows
    sink.write("c\t3\n")
    sink.close()
    assert out.read_text() == "#key\tvalue\na\t1\nb\t2\nc\t3\n"
