"""VCF inputs in the forms labs have them (issue 20), on real data.

* every input form gives the same records: plain, gzip (not bgzip), BGZF, BCF, CRLF line ends,
  a UTF-8 byte order mark; stdin plain and gzip through the real command line;
* ``count_vcf_records`` counts the data records of each form (``None`` for stdin);
* ``variants --resume`` continues a run whose input is plain gzip;
* a malformed input fails with one line ``FILE:LINE: what is wrong`` and exit status 2;
* htslib's own ``[W::...]``/``[E::...]`` lines never reach stderr.
"""

from __future__ import annotations

import gzip
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nucleoforge.io.vcf import open_vcf
from nucleoforge.io.vcf_records import count_vcf_records, iter_vcf_records
from tests.cli.runner import EXE, invoke
from tests.conftest import DATA
from tests.splicing.conftest import synthetic_vcf_lines, tiny_genome, tiny_spliceai  # noqa: F401 (fixtures)

SNPS = DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz"


@pytest.fixture(scope="module")
def real_vcf(tmp_path_factory, chr22_block) -> Path:
    """A VCF of the first 60 bundled dbSNP variants on chr22 (SNVs, deletions, insertions)."""
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf

    variants = sorted(itertools.islice(read_hisat2_snps(SNPS, {"22:20000001-21000000": chr22_block}), 60),
                      key=lambda v: v.pos)
    path = tmp_path_factory.mktemp("real_vcf") / "in.vcf"
    with open(path, "w") as fh:
        write_vcf(variants, fh, contigs={"22": 51304566})
    return path


def _forms(plain: Path, folder: Path) -> dict[str, Path]:
    """``plain`` written in every file form ``open_vcf`` reads."""
    import pysam

    data = plain.read_bytes()
    forms = {"plain": plain}
    forms["gzip"] = folder / "in.gzip.vcf.gz"
    forms["gzip"].write_bytes(gzip.compress(data))
    forms["bgzip"] = folder / "in.bgzip.vcf.gz"
    pysam.tabix_compress(str(plain), str(forms["bgzip"]))
    forms["bcf"] = folder / "in.bcf"
    with pysam.VariantFile(str(plain)) as src, pysam.VariantFile(str(forms["bcf"]), "wb", header=src.header) as dst:
        for rec in src:
            dst.write(rec)
    forms["crlf"] = folder / "in.crlf.vcf"
    forms["crlf"].write_bytes(data.replace(b"\n", b"\r\n"))
    forms["bom"] = folder / "in.bom.vcf"
    forms["bom"].write_bytes(b"\xef\xbb\xbf" + data)
    forms["bom-gzip"] = folder / "in.bom.vcf.gz"
    forms["bom-gzip"].write_bytes(gzip.compress(b"\xef\xbb\xbf" + data))
    forms["crlf-gzip"] = folder / "in.crlf.vcf.gz"
    forms["crlf-gzip"].write_bytes(gzip.compress(data.replace(b"\n", b"\r\n")))
    return forms


def _read(path: Path) -> tuple[str, list[str]]:
    vcf = open_vcf(path)
    try:
        return str(vcf.header), [str(rec) for rec in iter_vcf_records(vcf, path)]
    finally:
        vcf.close()


# ------------------------------------------------------------------------------ item 2: every form, same records
def test_every_file_form_reads_the_same_records(real_vcf, tmp_path):
    """Item 2: plain, gzip, BGZF, BCF, CRLF and BOM files give the plain file's header and records."""
    header, records = _read(real_vcf)
    assert len(records) == 60
    assert records[0] == "22\t20000146\trs73387790\tG\tA\t.\t.\t.\n"
    assert sum(len(r.split("\t")[3]) > 1 for r in records) > 0  # deletions among them
    for form, path in _forms(real_vcf, tmp_path).items():
        got_header, got = _read(path)
        assert got == records, form
        assert got_header == header, form


def test_count_vcf_records_counts_every_form(real_vcf, tmp_path):
    """Item 1: the pre-count matches the records for every file form; None for stdin."""
    for form, path in _forms(real_vcf, tmp_path).items():
        assert count_vcf_records(path) == 60, form
    assert count_vcf_records("-") is None
    assert count_vcf_records("/dev/null") is None  # a device, not a regular file
    no_newline = tmp_path / "last.vcf"
    no_newline.write_bytes(real_vcf.read_bytes().rstrip(b"\n") + b"\n\n")  # an empty last line
    assert count_vcf_records(no_newline) == 60
    no_newline.write_bytes(real_vcf.read_bytes().rstrip(b"\n"))  # no newline after the last record
    assert count_vcf_records(no_newline) == 60


def test_reading_a_stream_in_process(real_vcf, tmp_path):
    """Item 2: a FIFO (a stream that cannot be re-read) of gzip data reads like the file."""
    import threading

    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    data = gzip.compress(real_vcf.read_bytes())

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        got = _read(fifo)
    finally:
        writer.join(timeout=30)
    assert got == _read(real_vcf)
    assert count_vcf_records(fifo) is None


# ------------------------------------------------------------------------------ the command line
def _variants_args(src: object, out: object, genome, model) -> list[object]:
    fa, table, _ = genome
    return ["variants", "-I", src, "-O", out, "-R", fa, "-A", table, "-D", "4", "--model", model,
            "--device", "cpu", "-q"]


@pytest.fixture
def tiny_input(tmp_path, tiny_genome) -> Path:
    """The tiny genome's 14 variants, without ##contig lines and with an undeclared INFO field
    (htslib warns about both on stderr unless silenced)."""
    rows = [r.replace("\t.\tPASS\t.\n", "\t.\tPASS\tDP=7\n") for r in synthetic_vcf_lines(tiny_genome[2])]
    src = tmp_path / "in.vcf"
    src.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(rows))
    return src


def _exe(args: list[object], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUCLEOFORGE_DEBUG"}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-c", "from nucleoforge.cli import main; main()"]
    return subprocess.run([*cmd, *map(str, args)], input=stdin, capture_output=True, env=env, timeout=300)


def _assert_only_summary(stderr: bytes, start: str) -> None:
    """stderr is the run's one summary line: no htslib ``[W::...]``/``[E::...]`` lines around it."""
    lines = stderr.decode().splitlines()
    assert not [ln for ln in lines if ln.startswith(("[W::", "[E::"))], lines
    assert len(lines) == 1 and lines[0].startswith(start), lines


@pytest.mark.slow
def test_variants_reads_stdin_plain_and_gzip_without_htslib_lines(tmp_path, tiny_input, tiny_genome, tiny_spliceai):
    """Items 2 and 4: `-I -` (plain, gzip) and `-I /dev/stdin` (gzip) score as the file does, and
    stderr holds only our summary line (no [W::...] about the undeclared contig and INFO)."""
    model = tiny_spliceai(0)
    ref_out = tmp_path / "file.vcf"
    done = _exe(_variants_args(tiny_input, ref_out, tiny_genome, model))
    assert done.returncode == 0, done.stderr
    expected = ref_out.read_bytes()
    assert expected.count(b"SpliceAI=") >= 8
    summary = "14 records written (0 kept from a previous run)"  # the rest of the line is another issue's
    _assert_only_summary(done.stderr, summary)
    plain = tiny_input.read_bytes()
    for name, src, data in [("stdin-plain", "-", plain), ("stdin-gzip", "-", gzip.compress(plain)),
                            ("dev-stdin-gzip", "/dev/stdin", gzip.compress(plain))]:
        out = tmp_path / f"{name}.vcf"
        done = _exe(_variants_args(src, out, tiny_genome, model), stdin=data)
        assert done.returncode == 0, (name, done.stderr)
        _assert_only_summary(done.stderr, summary)
        assert out.read_bytes() == expected, name


def test_variants_on_a_gzip_input_equals_the_plain_input(tmp_path, tiny_input, tiny_genome, tiny_spliceai):
    """Item 2: `variants` on a plain-gzip input writes what it writes for the plain file."""
    model = tiny_spliceai(0)
    gz = tmp_path / "in.vcf.gz"
    gz.write_bytes(gzip.compress(tiny_input.read_bytes()))
    outs = []
    for src in (tiny_input, gz):
        out = tmp_path / f"out-{src.name}.vcf"
        result = invoke(_variants_args(src, out, tiny_genome, model))
        assert result.exit_code == 0, result.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and outs[0].count(b"SpliceAI=") >= 8


def test_variants_resume_on_a_gzip_input(tmp_path, tiny_input, tiny_genome, tiny_spliceai):
    """Item 2: `--resume` continues an interrupted run whose input is plain gzip, byte-identically."""
    model = tiny_spliceai(0)
    gz = tmp_path / "in.vcf.gz"
    gz.write_bytes(gzip.compress(tiny_input.read_bytes()))
    out = tmp_path / "out.vcf"
    result = invoke(_variants_args(gz, out, tiny_genome, model))
    assert result.exit_code == 0, result.output
    full = out.read_bytes()
    lines = full.decode().splitlines(True)
    n_header = sum(line.startswith("#") for line in lines)
    out.write_text("".join(lines[: n_header + 5]) + lines[n_header + 5][:15])  # 5 records and a part
    result = invoke(_variants_args(gz, out, tiny_genome, model) + ["--resume"])
    assert result.exit_code == 0, result.output
    _assert_only_summary(result.stderr.encode(), "14 records written (5 kept from a previous run)")
    assert out.read_bytes() == full


# ------------------------------------------------------------------------------ item 3: malformed inputs
_HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=600>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
_ROW = "chr1\t60\tv0\tA\tC\t.\tPASS\t.\n"
_SPACED = ("expected at least 8 tab-separated columns (CHROM POS ID REF ALT QUAL FILTER INFO), got 1: the columns "
           "are separated by spaces, not tabs")
_CHROM = "#CHROM<TAB>POS<TAB>ID<TAB>REF<TAB>ALT<TAB>QUAL<TAB>FILTER<TAB>INFO"

MALFORMED = {
    "empty": (b"", "1: the file is empty; expected a VCF (starting with ##fileformat=VCFv4.2) or a BCF file"),
    "empty-gzip": (gzip.compress(b""), "1: the file is empty; expected a VCF (starting with ##fileformat=VCFv4.2) "
                   "or a BCF file"),
    "no-fileformat": (_HEADER.split("\n", 1)[1] + _ROW, "1: no ##fileformat line: a VCF starts with a line like "
                      "##fileformat=VCFv4.2 (add it as the first line)"),
    "no-chrom": (_HEADER.rsplit("#CHROM", 1)[0] + _ROW, f"3: no #CHROM header line before the first record; expected "
                 f"{_CHROM} after the ## lines"),
    "header-only-no-chrom": ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=600>\n", f"3: no #CHROM header line; "
                             f"expected {_CHROM} after the ## lines"),
    "spaced-header": (_HEADER.replace("\t", " ") + _ROW, f"3: the #CHROM header line is separated by spaces; VCF "
                      f"columns must be separated by tabs: {_CHROM}"),
    "spaced-records": (_HEADER + _ROW.replace("\t", " "), f"4: {_SPACED}: 'chr1 60 v0 A C . PASS .'"),
    "spaced-later-record": (_HEADER + _ROW + _ROW.replace("\t", " "), f"5: {_SPACED}: 'chr1 60 v0 A C . PASS .'"),
    "text": ("gene\tstart\tend\nBRCA1\t1\t2\n", "1: not a VCF file: expected ##fileformat=VCFv4.2 as the first "
             "line, got 'gene\\tstart\\tend'"),
    "binary": (bytes(range(256)) * 4, "1: not a VCF or BCF file (binary data); expected a VCF text file (plain, gzip "
               "or bgzip) or a BCF file"),
    "bam": (gzip.compress(b"BAM\x01\x00\x00\x00\x00"), "1: not a VCF or BCF file (a BAM file); expected a VCF text "
            "file (plain, gzip or bgzip) or a BCF file"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_is_one_line(case, tmp_path, tiny_genome, tiny_spliceai):
    """Item 3: each malformed input gets exactly `error: FILE:LINE: what is wrong`, exit 2, no output."""
    content, expected = MALFORMED[case]
    bad = tmp_path / ("bad.vcf.gz" if case in ("empty-gzip", "bam") else "bad.vcf")
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out.vcf"
    result = invoke(_variants_args(bad, out, tiny_genome, tiny_spliceai(0)))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"error: {bad}:{expected}"]
    if case != "spaced-later-record":  # there the record before the bad line is written first
        assert not out.exists()


def test_truncated_bgzf_input_is_one_line(tmp_path, tiny_input, tiny_genome, tiny_spliceai):
    """Item 3: a BGZF file cut short (no end-of-file block) names the problem, not htslib's words."""
    import pysam

    bgz = tmp_path / "in.vcf.gz"
    pysam.tabix_compress(str(tiny_input), str(bgz))
    bgz.write_bytes(bgz.read_bytes()[:-28])  # drop the 28-byte BGZF end-of-file block
    result = invoke(_variants_args(bgz, tmp_path / "out.vcf", tiny_genome, tiny_spliceai(0)))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {bgz}: the BGZF file has no end-of-file marker: it is truncated "
        "(an interrupted download or bgzip run?)"]
