"""Output safety of the writing commands, through the real CLI on real files.

* an output that is the input (also through a symbolic link) is refused, the input untouched;
* a missing input, or a run that fails half-way, leaves an existing output untouched (inputs
  are validated first, outputs written to a temporary file beside the target and renamed);
* a malformed VCF line: the records before it are written, then one error naming file:line;
* ``variants --resume`` / ``variant-effect --resume`` refuse an output written with another
  input, model or settings (the run manifest says what differs), and an identical resume gives
  the bytes of an uninterrupted run; ``variant-effect`` resumes only when asked.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from tests.cli.runner import assert_user_error, invoke
from tests.conftest import CHR22, refuse_writes, spliceai_pretrained
from tests.splicing.conftest import VCF_HEADER, synthetic_vcf_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spliceai_variants"


def _ok(*args) -> str:
    result = invoke(list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _fails(*args) -> str:
    """Run a command that must fail with a user error: exit status 2 and one ``error: …`` line
    on stderr, which is returned."""
    return assert_user_error(invoke(["-q", *args]))  # -q: no progress bars on stderr, only the error


def _same_file(option: str, out: Path, src: Path) -> str:
    """The error line of an output that is the input."""
    return (f"error: {option} {out} is the same file as the input {src}; writing it would destroy the input: "
            "choose another output file")


def _cannot_resume(out: Path, why: str) -> str:
    """The error line of a ``--resume`` refused because ``out`` was written by another run."""
    return (f"error: cannot resume {out}: it was written by a different run (see {out}.manifest.json): {why}. "
            "Rerun without --resume to start over, or write to another output")


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _info(path: Path) -> dict[str, str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return {c[2]: c[7] for c in (ln.rstrip("\n").split("\t") for ln in fh if not ln.startswith("#"))}


def _variants_args(src, out, genome, model, distance="4", mask="0"):
    fa, table, _ = genome
    return ["variants", "-I", src, "-O", out, "-R", fa, "-A", table, "-D", distance, "-M", mask,
            "--model", model, "--device", "cpu", "-q"]


def _ve_args(model, vcf, ref, out, flank="20"):
    return ["variant-effect", "--model", model, "-I", vcf, "-R", ref, "-O", out, "--flank", flank,
            "--device", "cpu", "--no-progress"]


# ------------------------------------------------------------------------------ output is the input
@pytest.mark.parametrize("link", [False, True], ids=["same-path", "symlink"])
@pytest.mark.parametrize("command", ["variants", "variants-resume", "splice", "fill-mask", "variant-effect"])
def test_output_that_is_the_input_is_refused(command, link, tmp_path, tiny_spliceai, tiny_genome, model_dir, dbsnp_vcf):
    _, _, seq = tiny_genome
    if command.startswith("variants"):
        src = tmp_path / "in.vcf"
        src.write_text(VCF_HEADER + "".join(synthetic_vcf_lines(seq)))
    elif command == "splice":
        src = tmp_path / "a.fa"
        src.write_text(f">a\n{seq[:300]}\n>b\n{seq[300:]}\n")
    elif command == "fill-mask":
        src = tmp_path / "a.fa"
        src.write_text(f">a\n{seq[:40]}<mask>{seq[41:100]}\n")
    else:
        src = tmp_path / "v.vcf"
        shutil.copy(dbsnp_vcf[1], src)
    out = src
    if link:
        out = tmp_path / ("link" + src.suffix)
        out.symlink_to(src)
    before = src.read_bytes()
    if command.startswith("variants"):
        args = _variants_args(src, out, tiny_genome, tiny_spliceai(0)) + (["--resume"] if command == "variants-resume" else [])
    elif command == "splice":
        args = ["splice", "--fasta", src, "-o", out, "--model", tiny_spliceai(0), "--device", "cpu", "-q"]
    elif command == "fill-mask":
        args = ["fill-mask", "--model", model_dir("splicebert"), "-i", src, "-o", out, "--device", "cpu"]
    else:
        args = _ve_args(model_dir("splicebert"), src, dbsnp_vcf[0], out)
    option = "-O/--output" if command.startswith("variants") or command == "variant-effect" else "--output"
    assert _fails(*args) == _same_file(option, out, src)
    assert src.read_bytes() == before
    assert out.is_symlink() == link


def test_bedgraph_output_that_is_the_input_is_refused(tmp_path, tiny_spliceai, tiny_genome):
    seq = tiny_genome[2]
    src = tmp_path / "t.acceptor.bedGraph"  # --bedgraph t writes t.acceptor.bedGraph
    src.write_text(f">a\n{seq[:200]}\n")
    before = src.read_bytes()
    text = _fails("splice", "--fasta", src, "--bedgraph", tmp_path / "t", "--model", tiny_spliceai(0), "-q")
    assert text == _same_file("--bedgraph (acceptor)", src, src)
    assert src.read_bytes() == before


# ------------------------------------------------------------------------------ existing outputs survive failures
def _lm_or_splice_args(command, src, out, model_dir, tiny_spliceai):
    if command == "embed":
        return ["embed", "--model", model_dir("splicebert"), "-i", src, "-o", out, "--device", "cpu", "--no-progress"]
    if command == "splice":
        return ["splice", "--fasta", src, "-o", out, "--model", tiny_spliceai(0), "--device", "cpu", "-q"]
    return ["fill-mask", "--model", model_dir("splicebert"), "-i", src, "-o", out, "--device", "cpu"]


@pytest.mark.parametrize("command", ["embed", "splice", "fill-mask"])
def test_missing_input_leaves_an_existing_output_untouched(command, tmp_path, model_dir, tiny_spliceai):
    out = tmp_path / ("old.npz" if command == "embed" else "old.tsv")
    out.write_bytes(b"precious results\n")
    text = _fails(*_lm_or_splice_args(command, tmp_path / "missing.fa", out, model_dir, tiny_spliceai))
    assert text == f"error: {'--fasta' if command == 'splice' else '--input'} {tmp_path / 'missing.fa'}: no such file"
    assert out.read_bytes() == b"precious results\n"
    assert _listing(tmp_path) == [out.name]


@pytest.mark.parametrize("command", ["embed", "splice", "fill-mask"])
def test_a_run_failing_half_way_leaves_an_existing_output_untouched(command, tmp_path, model_dir, tiny_spliceai, chr22_block):
    seqs = [chr22_block[5_000 + 200 * i: 5_100 + 200 * i] for i in range(3)]
    if command == "fill-mask":
        seqs = [s[:30] + "<mask>" + s[31:] for s in seqs]
    src = tmp_path / "in.fa"
    src.write_text(f">a\n{seqs[0]}\n>b\n{seqs[1]}\n>c\n")  # record c has no sequence
    out = tmp_path / ("old.npz" if command == "embed" else "old.tsv")
    out.write_bytes(b"precious results\n")
    text = _fails(*_lm_or_splice_args(command, src, out, model_dir, tiny_spliceai))
    assert text == f"error: {src}:5: FASTA record 'c' has no sequence"
    assert out.read_bytes() == b"precious results\n"
    assert _listing(tmp_path) == ["in.fa", out.name]  # no temporary file left behind
    # and a good run replaces it (written beside it, then renamed)
    src.write_text(f">a\n{seqs[0]}\n>b\n{seqs[1]}\n")
    _ok(*_lm_or_splice_args(command, src, out, model_dir, tiny_spliceai))
    assert out.read_bytes() != b"precious results\n"
    assert _listing(tmp_path) == ["in.fa", out.name]


# ------------------------------------------------------------------------------ malformed VCF lines
@pytest.fixture(scope="module")
def chr_reference(tmp_path_factory):
    from nucleoforge.io.genome import place_subsequence_records

    ref = tmp_path_factory.mktemp("chrref") / "chr22.fa"
    place_subsequence_records(CHR22, ref, chrom_prefix="chr")  # 'chr22' vs the VCF's '22'
    return ref


def _insert_line(src: Path, dest: Path, bad: str, after: int) -> int:
    """Copy ``src`` with ``bad`` inserted after ``after`` records; returns its 1-based line number."""
    lines = src.read_text().splitlines(True)
    header = [ln for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if not ln.startswith("#")]
    dest.write_text("".join(header + body[:after] + [bad] + body[after:]))
    return len(header) + after + 1


@pytest.mark.parametrize("chunk_size", [2, 256])
def test_variants_malformed_line_writes_the_records_before_it(tmp_path, chr_reference, chunk_size):
    spliceai_pretrained("spliceai-10k")  # skips (fails under CI=true) without the converted weights
    bad = tmp_path / "bad.vcf"
    line = _insert_line(FIXTURES / "input.vcf", bad, "22\tabc\trsX\tC\tT\t.\t.\t.\n", after=5)
    assert line == 9
    out = tmp_path / "out.vcf"
    text = _fails("variants", "-I", bad, "-O", out, "-R", chr_reference, "-A", "grch37", "--chunk-size", chunk_size,
                  "--device", "cpu", "-q")
    assert text == f"error: {bad}:9: POS must be a positive integer, got 'abc': '22\\tabc\\trsX\\tC\\tT\\t.\\t.\\t.'"
    got = _info(out)
    expected = _info(FIXTURES / "expected_M0.vcf")
    first5 = list(_info(FIXTURES / "input.vcf"))[:5]
    assert list(got) == first5
    assert got == {k: expected[k] for k in first5}  # scored like the original CLI
    assert any(v.startswith("SpliceAI=") for v in got.values())


def test_variant_effect_malformed_line_writes_the_rows_before_it(tmp_path, model_dir, dbsnp_vcf):
    ref, vcf = dbsnp_vcf
    full = tmp_path / "full.tsv"
    _ok(*_ve_args(model_dir("splicebert"), vcf, ref, full))
    bad = tmp_path / "bad.vcf"
    line = _insert_line(vcf, bad, "22\t20000100\n", after=6)
    out = tmp_path / "out.tsv"
    text = _fails(*_ve_args(model_dir("splicebert"), bad, ref, out))
    assert text == (f"error: {bad}:{line}: expected at least 8 tab-separated columns (CHROM POS ID REF ALT QUAL FILTER "
                    "INFO), got 2: '22\\t20000100'")
    rows = out.read_text().splitlines(True)
    assert len(rows) == 1 + 6
    assert "".join(rows) == "".join(full.read_text().splitlines(True)[:7])


# ------------------------------------------------------------------------------ variants --resume
@pytest.fixture
def variants_run(tmp_path, tiny_spliceai, tiny_genome):
    """A complete run, then the same output cut like an interrupted run (3 records and a half)."""
    src = tmp_path / "in.vcf"
    src.write_text(VCF_HEADER + "".join(synthetic_vcf_lines(tiny_genome[2])))
    out = tmp_path / "out.vcf"
    _ok(*_variants_args(src, out, tiny_genome, tiny_spliceai(0)))
    full = out.read_bytes()
    lines = full.decode().splitlines(True)
    n_header = sum(ln.startswith("#") for ln in lines)
    assert sum(v.startswith("SpliceAI=") for v in _info(out).values()) >= 8  # not a vacuous run
    partial = "".join(lines[: n_header + 3]) + lines[n_header + 3][:20]
    out.write_text(partial)
    return src, out, full, partial.encode()


def test_variants_resume_with_identical_settings_is_byte_identical(variants_run, tiny_spliceai, tiny_genome):
    src, out, full, _ = variants_run
    assert Path(str(out) + ".manifest.json").is_file()
    text = _ok(*_variants_args(src, out, tiny_genome, tiny_spliceai(0)), "--resume")
    assert "3 kept from a previous run" in text
    assert out.read_bytes() == full


def _edit_record(src: Path, index: int, column: int, value: str) -> None:
    lines = src.read_text().splitlines(True)
    data = [i for i, ln in enumerate(lines) if not ln.startswith("#")]
    cols = lines[data[index]].split("\t")
    cols[column] = value
    lines[data[index]] = "\t".join(cols)
    src.write_text("".join(lines))


def _sha12(path: Path) -> str:
    """The start of a file's sha256, as the manifest's differences quote it."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _changed_input(src: Path, before: str) -> str:
    return (f"input {src}: its content (sha256) differs from the file the run being resumed read ({src}, {before}…, "
            f"now {_sha12(src)}…)")


def _no_manifest(out: Path) -> str:
    return (f"error: cannot resume {out}: there is no run manifest {out}.manifest.json, so nothing says which input, "
            "model and settings its rows came from; rerun without --resume to start over")


@pytest.mark.parametrize("change", [
    "alt",  # a kept record's ALT
    "id",  # a kept record's ID
    "later",  # a record after the resume point
    "-D", "-M", "model",
])
def test_variants_resume_refuses_a_changed_run(variants_run, tiny_spliceai, tiny_genome, change):
    src, out, _, partial = variants_run
    before = _sha12(src)
    records = [line.split("\t") for line in src.read_text().splitlines() if not line.startswith("#")]
    kw = {}
    if change == "alt":
        ref = records[1][3]  # the 2nd record
        _edit_record(src, 1, 4, "G" if ref != "G" else "T")
    elif change == "id":
        _edit_record(src, 0, 2, "rsRenamed")
    elif change == "later":
        _edit_record(src, 10, 2, "rsRenamed")
    elif change == "-D":
        kw["distance"] = "5"
    elif change == "-M":
        kw["mask"] = "1"
    model = tiny_spliceai(1 if change == "model" else 0)
    text = _fails(*_variants_args(src, out, tiny_genome, model, **kw), "--resume")
    if change in ("alt", "id"):
        n = 2 if change == "alt" else 1
        chrom, pos, rid, _, alt = records[n - 1][:5]
        what = f"ALT {alt} in the output, {'G' if records[1][3] != 'G' else 'T'}" if change == "alt" else \
            f"ID {rid} in the output, rsRenamed"
        assert text == (f"error: {out}: record {n} ({chrom} {pos} {rid}) does not match input record {n} of {src}: "
                        f"{what} in the input; --resume needs the same input (rerun without --resume to start over)")
    else:
        assert text == _cannot_resume(out, {
            "later": _changed_input(src, before),
            "-D": "distance: 4 in the run being resumed, 5 now",
            "-M": "mask: False in the run being resumed, True now",
            "model": f"model: the weights (sha256) differ ({tiny_spliceai(0)} in the run being resumed, {model} now)",
        }[change])
    assert out.read_bytes() == partial  # nothing rewritten


def test_variants_resume_refuses_an_output_without_manifest(variants_run, tiny_spliceai, tiny_genome):
    src, out, _, partial = variants_run
    os.remove(str(out) + ".manifest.json")
    text = _fails(*_variants_args(src, out, tiny_genome, tiny_spliceai(0)), "--resume")
    assert text == _no_manifest(out)
    assert out.read_bytes() == partial


# ------------------------------------------------------------------------------ variant-effect --resume
@pytest.fixture(scope="module")
def other_lm(model_dir, tmp_path_factory):
    """The tiny SpliceBERT with one weight changed (same shapes, other results)."""
    import torch

    from nucleoforge.pipelines._common import load_masked_lm

    model, tok = load_masked_lm(str(model_dir("splicebert")))
    with torch.no_grad():
        next(model.parameters()).add_(0.5)
    path = tmp_path_factory.mktemp("other_lm")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture
def ve_run(tmp_path, model_dir, dbsnp_vcf):
    ref, vcf = dbsnp_vcf
    src = tmp_path / "in.vcf"
    shutil.copy(vcf, src)
    out = tmp_path / "out.tsv"
    _ok(*_ve_args(model_dir("splicebert"), src, ref, out))
    full = out.read_bytes()
    lines = full.decode().splitlines(True)
    partial = ("".join(lines[:6]) + lines[6][:15]).encode()  # header, 5 rows and a half
    out.write_bytes(partial)
    return src, ref, out, full, partial


def test_variant_effect_resume_with_identical_settings_is_byte_identical(ve_run, model_dir):
    src, ref, out, full, _ = ve_run
    text = _ok(*_ve_args(model_dir("splicebert"), src, ref, out), "--resume")
    assert "scored 7 variants" in text and "5 resumed" in text
    assert out.read_bytes() == full


def test_variant_effect_does_not_resume_by_default(ve_run, model_dir):
    src, ref, out, full, _ = ve_run
    text = _ok(*_ve_args(model_dir("splicebert"), src, ref, out))
    assert "scored 12 variants" in text and "resumed" not in text
    assert out.read_bytes() == full


@pytest.mark.parametrize("change", ["--flank", "--window", "model", "input"])
def test_variant_effect_resume_refuses_changed_settings(ve_run, model_dir, other_lm, change):
    src, ref, out, _, partial = ve_run
    before = _sha12(src)
    model = other_lm if change == "model" else model_dir("splicebert")
    args = _ve_args(model, src, ref, out, flank="10" if change == "--flank" else "20")
    if change == "--window":
        args += ["--window", "64"]
    if change == "input":
        _edit_record(src, 11, 2, "rsRenamed")
    text = _fails(*args, "--resume")
    assert text == _cannot_resume(out, {
        "--flank": "flank: 20 in the run being resumed, 10 now",
        "--window": "window: 128 in the run being resumed, 64 now",
        "model": f"model: the weights (sha256) differ ({model_dir('splicebert')} in the run being resumed, {other_lm} now)",
        "input": _changed_input(src, before),
    }[change])
    assert out.read_bytes() == partial


def test_score_vcf_lm_is_the_library_behind_variant_effect(tmp_path, model_dir, dbsnp_vcf):
    import torch

    from nucleoforge.io.genome import Genome
    from nucleoforge.pipelines._common import load_masked_lm
    from nucleoforge.pipelines.variant_effect import VariantEffectPipeline
    from nucleoforge.splicing.lm_variants import score_vcf_lm

    ref, vcf = dbsnp_vcf
    cli_out = tmp_path / "cli.tsv"
    _ok(*_ve_args(model_dir("splicebert"), vcf, ref, cli_out))
    model, tok = load_masked_lm(str(model_dir("splicebert")))
    pipe = VariantEffectPipeline(model=model, tokenizer=tok, device=torch.device("cpu"))
    lib_out = tmp_path / "lib.tsv"
    summary = score_vcf_lm(pipe, Genome(ref), vcf, lib_out, flank=20, progress=False)
    assert (summary.scored, summary.resumed, summary.rows) == (12, 0, 12)
    assert lib_out.read_bytes() == cli_out.read_bytes()
    assert Path(str(lib_out) + ".manifest.json").is_file()


# ------------------------------------------------------------------------------ review fixes: resume protocol
def test_variant_effect_fresh_run_that_cannot_open_its_output_leaves_no_manifest(ve_run, model_dir, monkeypatch):
    """The new manifest is written only once the output is open and has its header: otherwise a
    later --resume with the new settings would accept the old run's rows."""
    src, ref, out, _, partial = ve_run
    refuse_writes(monkeypatch, out)
    assert _fails(*_ve_args(model_dir("splicebert"), src, ref, out, flank="10")) == f"error: {out}: Permission denied"
    monkeypatch.undo()
    assert out.read_bytes() == partial
    assert not Path(f"{out}.manifest.json").exists()
    text = _fails(*_ve_args(model_dir("splicebert"), src, ref, out, flank="10"), "--resume")
    assert text == _no_manifest(out)
    assert out.read_bytes() == partial


class _Feeding:
    """Write ``data`` into the FIFO ``path`` from a thread (an input piped in)."""

    def __init__(self, path: Path, data: bytes) -> None:
        import threading

        self.path = path
        if not path.exists():
            os.mkfifo(path)

        def feed() -> None:
            try:
                with open(path, "wb") as fh:
                    fh.write(data)
            except BrokenPipeError:
                pass

        self.thread = threading.Thread(target=feed, daemon=True)

    def __enter__(self) -> Path:
        self.thread.start()
        return self.path

    def __exit__(self, *exc) -> None:
        if self.thread.is_alive():  # nobody read it: let the writer's open return, then fail
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            self.thread.join(0.5)
            os.close(fd)
        self.thread.join(10)


def test_variants_resume_refuses_an_input_that_is_not_a_regular_file(capsys, tmp_path, tiny_spliceai, tiny_genome):
    """A pipe cannot be hashed: resuming from one would accept any input with the same first records."""
    from tests.cli.runner import run_main

    src = tmp_path / "in.vcf"
    src.write_text(VCF_HEADER + "".join(synthetic_vcf_lines(tiny_genome[2])))
    out = tmp_path / "out.vcf"
    with _Feeding(tmp_path / "in.fifo", src.read_bytes()) as fifo:
        assert run_main(capsys, *_variants_args(fifo, out, tiny_genome, tiny_spliceai(0))).code == 0
    lines = out.read_text().splitlines(True)
    partial = "".join(lines[: sum(ln.startswith("#") for ln in lines) + 3])
    out.write_text(partial)
    _edit_record(src, 10, 2, "rsRenamed")  # another input: only a checksum could tell
    with _Feeding(tmp_path / "in.fifo", src.read_bytes()) as fifo:
        assert_user_error(run_main(capsys, *_variants_args(fifo, out, tiny_genome, tiny_spliceai(0)), "--resume"),
                          "--resume", "-I/--input", "not a regular file")
    assert out.read_text() == partial


def test_variant_effect_resume_refuses_an_input_that_is_not_a_regular_file(capsys, ve_run, model_dir):
    from tests.cli.runner import run_main

    src, ref, out, _, partial = ve_run
    with _Feeding(src.with_suffix(".fifo"), src.read_bytes()) as fifo:
        assert_user_error(run_main(capsys, *_ve_args(model_dir("splicebert"), fifo, ref, out), "--resume"),
                          "--resume", "-I/--input", "not a regular file")
    assert out.read_bytes() == partial


# ------------------------------------------------------------------------------ review fixes: outputs that are not files
def test_splice_writes_to_dev_stdout(tmp_path, tiny_spliceai, tiny_genome):
    """``-o /dev/stdout`` (a pipe here) is written in place, byte-identical to a file output."""
    from tests.cli.runner import run_exe

    src = tmp_path / "a.fa"
    src.write_text(f">a\n{tiny_genome[2][:300]}\n")
    out = tmp_path / "a.tsv"
    _ok("splice", "--fasta", src, "-o", out, "--model", tiny_spliceai(0), "--device", "cpu", "-q")
    res = run_exe("splice", "--fasta", src, "-o", "/dev/stdout", "--model", tiny_spliceai(0), "--device", "cpu", "-q")
    assert res.code == 0, res.err
    assert res.out == out.read_text() and res.out.count("\n") == 301
    assert _listing(tmp_path) == ["a.fa", "a.tsv"]


def test_splice_writes_to_a_fifo(tmp_path, tiny_spliceai, tiny_genome):
    import threading

    src = tmp_path / "a.fa"
    src.write_text(f">a\n{tiny_genome[2][:200]}\n")
    out = tmp_path / "a.tsv"
    _ok("splice", "--fasta", src, "-o", out, "--model", tiny_spliceai(0), "--device", "cpu", "-q")
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        _ok("splice", "--fasta", src, "-o", fifo, "--model", tiny_spliceai(0), "--device", "cpu", "-q")
    finally:
        if reader.is_alive():  # the command failed before opening it: release the reader
            with open(fifo, "wb"):
                pass
        reader.join(10)
    assert got == [out.read_bytes()]
    assert _listing(tmp_path) == ["a.fa", "a.tsv", "out.fifo"]


# ------------------------------------------------------------------------------ review fixes: paths checked before the model loads
@pytest.mark.parametrize("command", ["variants", "variant-effect", "evaluate-splice"])
def test_output_that_is_an_input_is_refused_before_the_model_loads(command, tmp_path, tiny_genome, dbsnp_vcf):
    fa = tmp_path / "g.fa"
    shutil.copy(tiny_genome[0], fa)
    src = tmp_path / "in.vcf"
    src.write_text(VCF_HEADER + "".join(synthetic_vcf_lines(tiny_genome[2])))
    missing_model = tmp_path / "no_model"
    if command == "variants":
        args = _variants_args(src, src, (fa, tiny_genome[1], None), missing_model)
        victim = src
    elif command == "variant-effect":
        args = _ve_args(missing_model, src, fa, fa)
        victim = fa
    else:
        args = ["evaluate-splice", "-R", fa, "-A", tiny_genome[1], "-g", "PLUS", "-o", fa, "--model", missing_model, "-q"]
        victim = fa
    before = victim.read_bytes()
    assert _fails(*args) == _same_file("--output" if command == "evaluate-splice" else "-O/--output", victim, victim)
    assert victim.read_bytes() == before


def test_evaluate_splice_output_is_written_atomically(tmp_path, tiny_spliceai, tiny_genome):
    from nucleoforge.splicing.evaluation import SpliceEvaluation

    fa, table, _ = tiny_genome
    out = tmp_path / "genes.tsv"
    out.write_text("precious\n")

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        SpliceEvaluation(genes=[{"gene": "A", "n": 1}, {"gene": "B", "n": Unprintable()}]).write_tsv(out)
    assert out.read_text() == "precious\n" and _listing(tmp_path) == ["genes.tsv"]
    _ok("evaluate-splice", "-R", fa, "-A", table, "-g", "PLUS", "-o", out, "--model", tiny_spliceai(0), "--device", "cpu", "-q")
    rows = out.read_text().splitlines()
    assert rows[0].split("\t")[0] == "gene" and rows[1].startswith("PLUS\t")
    assert _listing(tmp_path) == ["genes.tsv"]
