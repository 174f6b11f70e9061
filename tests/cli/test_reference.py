"""``nucleoforge reference place`` on the bundled chr22 block, and the bundled sample VCF scored
on the placed reference (issue 20 §4, "first VCF in five minutes")."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from nucleoforge.io.fasta import read_fasta
from tests.cli.runner import invoke

DATA = Path(__file__).parents[2] / "examples" / "data"
BLOCK = DATA / "GRCh37_chr22_20000001-21000000.fa.gz"
SAMPLE = DATA / "dbsnp_chr22_sample.vcf"


@pytest.fixture(scope="module")
def block() -> str:
    """The bundled 1 Mb of chr22 (20,000,001–21,000,000)."""
    return next(read_fasta(BLOCK)).sequence


def _write(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    return path


def test_place_puts_the_bundled_block_at_its_chromosome_coordinates(tmp_path, block):
    """§4: the excerpt record becomes record ``22`` with N before 20,000,001; the summary names it."""
    out = tmp_path / "chr22.fa"
    res = invoke(["reference", "place", BLOCK, "-o", out])
    assert res.exit_code == 0, res.output
    assert res.stdout == f"22: 21,000,000 nt\nwrote 1 record to {out}\n"
    assert res.stderr == ""
    (rec,) = list(read_fasta(out))
    assert (rec.name, len(rec.sequence)) == ("22", 21_000_000)
    assert rec.sequence[:20_000_000] == "N" * 20_000_000
    assert rec.sequence[20_000_000:] == block
    with open(out) as fh:  # 60 bases a line, like the input
        assert [len(next(fh).rstrip("\n")) for _ in range(3)] == [3, 60, 60]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chr22.fa"]  # no temporary file left


def test_place_joins_excerpts_in_order_renames_with_a_prefix_and_is_quiet(tmp_path, block):
    """Two excerpts of 22 (given out of order) and one of another chromosome; ``--chrom-prefix``; ``-q``."""
    src = _write(tmp_path / "pieces.fa", [
        ("22:20000021-20000030", block[20:30]),
        ("22:20000001-20000010", block[:10]),
        ("X:3-5", block[100:103]),
    ])  # fmt: skip
    out = tmp_path / "placed.fa"
    res = invoke(["reference", "place", src, "-o", out, "--chrom-prefix", "chr", "--width", "7", "-q"])
    assert (res.exit_code, res.stdout, res.stderr) == (0, "", "")
    recs = {r.name: r.sequence for r in read_fasta(out)}
    assert recs == {"chr22": "N" * 20_000_000 + block[:10] + "N" * 10 + block[20:30], "chrX": "NN" + block[100:103]}
    assert out.read_text().splitlines()[1] == "NNNNNNN"


def test_place_refuses_a_record_that_is_not_an_excerpt(tmp_path, block):
    """A whole-chromosome record name is a user error naming file:line and the record."""
    src = _write(tmp_path / "mixed.fa", [("22:20000001-20000010", block[:10]), ("chr22", block[:10])])
    res = invoke(["reference", "place", src, "-o", tmp_path / "out.fa"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {src}:3: record name 'chr22' is not chrom:start-end"]
    assert not (tmp_path / "out.fa").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mixed.fa"]


def test_place_refuses_an_existing_output_unless_overwrite(tmp_path, block):
    """An existing output is kept (exact message); ``--overwrite`` (or ``--force``) replaces it; a failed
    run with ``--overwrite`` leaves it as it was."""
    out = tmp_path / "chr22.fa"
    out.write_text(">old\nACGT\n")
    src = _write(tmp_path / "piece.fa", [("22:20000001-20000010", block[:10])])
    res = invoke(["reference", "place", src, "-o", out])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: --output {out}: file exists; pass --overwrite to replace it, or choose another file"]
    assert out.read_text() == ">old\nACGT\n"

    bad = _write(tmp_path / "bad.fa", [("22:20000001-20000010", block[:9])])  # one base short
    res = invoke(["reference", "place", bad, "-o", out, "--overwrite"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {bad}:1: 22:20000001-20000010 holds 9 bases, not end - start + 1"]
    assert out.read_text() == ">old\nACGT\n"  # written atomically: untouched by the failed run

    res = invoke(["reference", "place", src, "-o", out, "--force"])
    assert res.exit_code == 0 and res.stdout.splitlines()[0] == "22: 20,000,010 nt"
    assert [(r.name, len(r.sequence)) for r in read_fasta(out)] == [("22", 20_000_010)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fa", "chr22.fa", "piece.fa"]


def test_place_refuses_the_input_as_output_and_a_missing_input(tmp_path, block):
    """Output == input (also with --overwrite, also through a link), a missing FASTA and ``-o -``: one error line each."""
    src = _write(tmp_path / "piece.fa", [("22:20000001-20000010", block[:10])])
    link = tmp_path / "link.fa"
    os.symlink(src, link)
    for out in (src, link):
        res = invoke(["reference", "place", src, "-o", out, "--overwrite"])
        assert res.exit_code == 2
        assert res.stderr.splitlines() == [f"error: --output {out} is the same file as the input {src}; "
                                           "writing it would destroy the input: choose another output file"]
    assert src.read_text() == f">22:20000001-20000010\n{block[:10]}\n"
    res = invoke(["reference", "place", tmp_path / "none.fa", "-o", tmp_path / "out.fa"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: FASTA {tmp_path / 'none.fa'}: no such file"]
    res = invoke(["reference", "place", src, "-o", "-"])
    assert res.exit_code == 2 and not Path("-").exists()
    assert res.stderr.splitlines() == [
        "error: --output -: give a file name (the placed FASTA is written beside it and renamed when complete)"]


def test_sample_vcf_is_a_small_real_vcf_in_annotated_genes():
    """§4: the bundled sample: VCF 4.2 header lines, 40 dbSNP records (30 SNVs, 5 deletions, 5 insertions) on 22."""
    lines = SAMPLE.read_text().splitlines()
    assert lines[:3] == ["##fileformat=VCFv4.2", "##contig=<ID=22,length=51304566>", "##reference=GRCh37"]
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    assert len(rows) == 40 and {r[0] for r in rows} == {"22"} and all(r[2].startswith("rs") for r in rows)
    kinds = [("snv" if len(r[3]) == len(r[4]) == 1 else "del" if len(r[3]) > len(r[4]) else "ins") for r in rows]
    assert (kinds.count("snv"), kinds.count("del"), kinds.count("ins")) == (30, 5, 5)
    assert [int(r[1]) for r in rows] == sorted(int(r[1]) for r in rows)
    # REF matches the bundled block (positions 20,000,001 … are bases 0 … of the record)
    with gzip.open(BLOCK, "rt") as fh:
        seq = "".join(line.strip() for line in fh if not line.startswith(">"))
    assert all(seq[int(r[1]) - 20_000_001:][: len(r[3])] == r[3] for r in rows)
    assert ["22", "20102090", "rs885980", "T", "C"] in [r[:5] for r in rows]


@pytest.mark.slow
def test_sample_vcf_scores_on_the_placed_reference(tmp_path):
    """§4 walk-through: place the block, score the sample with -A grch37: every record scored, and
    rs885980's entry is the one Illumina's spliceai gives (tests/fixtures/spliceai_variants)."""
    ref = tmp_path / "chr22.fa"
    assert invoke(["reference", "place", BLOCK, "-o", ref, "-q"]).exit_code == 0
    out = tmp_path / "sample.spliceai.vcf"
    res = invoke(["variants", "-I", SAMPLE, "-O", out, "-R", ref, "-A", "grch37", "-q"])
    assert res.exit_code == 0, res.output
    rows = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith("#")]
    assert len(rows) == 40 and all(r[7].startswith("SpliceAI=") for r in rows)
    info = {r[2]: r[7] for r in rows}
    assert info["rs885980"] == "SpliceAI=C|TRMT2A|0.05|0.00|0.67|0.00|6|31|1|7"
    assert len({r[7].split("|")[1] for r in rows}) == 18  # every record in an annotated gene, 18 genes
