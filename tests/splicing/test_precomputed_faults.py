"""``variants --precomputed`` never lets a score file overrule the run (issue 21, items 1 and 2):
the record rules (REF against ``-R``, a gene at POS …) come before any score file, a file of the
other genome build is refused with one line, and a malformed entry is warned about (file and
record) and scored with the model instead of being copied into the output."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from nucleoforge.io.precomputed import PrecomputedScores
from tests.cli.runner import assert_user_error, run_main
from tests.splicing.conftest import VCF_HEADER, synthetic_vcf_lines


def _other(base: str) -> str:
    return "A" if base != "A" else "C"


@pytest.fixture(scope="module")
def setup(tiny_genome, tiny_spliceai, tmp_path_factory):
    """``(fasta, genes, vcf, model, sequence)``: the synthetic records plus one whose REF is not the
    reference's base (``badref``); ``nogene`` (POS 10) lies outside every gene."""
    fa, table, seq = tiny_genome
    d = tmp_path_factory.mktemp("precomputed_faults")
    rows = synthetic_vcf_lines(seq)
    wrong = _other(seq[179])  # not the reference base at 180
    rows.append(f"chr1\t180\tbadref\t{wrong}\t{_other(wrong) if _other(wrong) != seq[179] else 'G'}\t.\tPASS\t.\n")
    rows.sort(key=lambda r: int(r.split("\t")[1]))
    vcf = d / "in.vcf"
    vcf.write_text(VCF_HEADER + "".join(rows))
    return fa, table, vcf, tiny_spliceai(0), seq


def _variants(capsys, setup, out, *extra):
    fa, table, vcf, model, _ = setup
    return run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", fa, "-A", table, "--model", model, "-q", *extra)


def _index(lines: list[str], out: Path) -> Path:
    """bgzip + tabix VCF ``lines``."""
    import pysam

    out.write_text("".join(lines))
    return Path(pysam.tabix_index(str(out), preset="vcf", force=True))


def _score_file(plain: Path, out: Path, entries: dict[str, str], header_extra: str = "") -> Path:
    """The plain output as a score file, the INFO of the records named in ``entries`` (by ID) replaced."""
    lines = []
    for ln in plain.read_text().splitlines(keepends=True):
        if ln.startswith("#"):
            lines.append(ln.replace("#CHROM", header_extra + "#CHROM") if ln.startswith("#CHROM") else ln)
            continue
        cols = ln.rstrip("\n").split("\t")
        if cols[2] in entries:
            cols[7] = f"SpliceAI={entries[cols[2]]}"
        lines.append("\t".join(cols) + "\n")
    return _index(lines, out)


def _body(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]


def _info(path: Path) -> dict[str, str]:
    return {c[2]: c[7] for c in (ln.split("\t") for ln in _body(path))}


# ---------------------------------------------------------------------------- item 1: rules first
def test_score_file_entries_never_bypass_the_ref_and_gene_rules(capsys, setup, tmp_path) -> None:
    """Item 1: a REF that is not the reference's and a record outside every gene stay unscored,
    whatever the score file says; they are not counted as precomputed."""
    plain = tmp_path / "plain.vcf"
    r = _variants(capsys, setup, plain)
    assert r.code == 0, r.err
    info = _info(plain)
    assert info["badref"] == "." and info["nogene"] == "."
    alt = {c[2]: c[4] for c in (ln.split("\t") for ln in _body(plain))}
    planted = {"badref": f"{alt['badref']}|PLUS|0.91|0.00|0.00|0.00|3|0|0|0",
               "nogene": f"{alt['nogene']}|PLUS|0.92|0.00|0.00|0.00|4|0|0|0"}
    scores = _score_file(plain, tmp_path / "scores.vcf", planted)
    out = tmp_path / "out.vcf"
    r = _variants(capsys, setup, out, "--precomputed", scores)
    assert r.code == 0, r.err
    assert _body(out) == _body(plain)  # both records unscored, as without the file
    # 15 records of one ALT: 12 scored, 1 outside genes, 1 REF mismatch, 1 near the chromosome end (v0)
    assert ("15 ALT alleles: 12 scored, 1 outside annotated genes, 2 skipped (REF does not match the reference: 1, "
            "near chromosome end: 1)") in r.err
    by_source = json.loads(Path(f"{out}.provenance.json").read_text())["alleles_by_source"]
    assert by_source == {f"precomputed {scores}": 12}


# ---------------------------------------------------------------------------- item 1: genome build
@pytest.fixture(scope="module")
def grch37_chr22(tmp_path_factory, tiny_genome):
    """``(fasta, genes, vcf)``: a reference whose chromosome 22 has GRCh37's length (51,304,566 nt,
    N but for the tiny genome's 600 bases at its start) and the tiny genes and records on it."""
    fa, table, seq = tiny_genome
    d = tmp_path_factory.mktemp("grch37_chr22")
    ref = d / "chr22.fa"
    total, width = 51_304_566, 60
    with open(ref, "w") as fh:
        fh.write(">chr22\n")
        body = seq + "N" * (total - len(seq))
        block = 60 * 100_000
        for i in range(0, total, block):
            part = body[i : i + block]
            fh.write("\n".join(part[j : j + width] for j in range(0, len(part), width)) + "\n")
    genes = d / "genes.txt"
    genes.write_text(table.read_text().replace("\t1\t", "\t22\t"))
    vcf = d / "in.vcf"
    rows = [r.replace("chr1\t", "chr22\t", 1) for r in synthetic_vcf_lines(seq)]
    vcf.write_text(VCF_HEADER.replace("ID=chr1,length=600", "ID=chr22,length=51304566") + "".join(rows))
    return ref, genes, vcf


@pytest.mark.parametrize("header, evidence", [
    ("##reference=GRCh38\n", "is GRCh38 (by its ##reference line)"),
    ("##contig=<ID=chr22,length=50818468>\n", "is GRCh38 (by its ##contig lengths)"),
])  # fmt: skip
def test_score_file_of_the_other_build_is_refused(capsys, grch37_chr22, tiny_spliceai, tmp_path, header, evidence) -> None:
    """Item 1: a GRCh38 score file (named, or by its contig lengths) against a GRCh37 reference is one
    line naming the file, the evidence and the reference's chromosome length; nothing is written."""
    ref, genes, vcf = grch37_chr22
    lines = ["##fileformat=VCFv4.2\n", header,
             '##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAI">\n',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n",
             "chr22\t60\tx\tA\tC\t.\t.\tSpliceAI=C|PLUS|0.50|0.00|0.00|0.00|1|0|0|0\n"]  # fmt: skip
    if "##contig" not in header:
        lines.insert(1, "##contig=<ID=chr22>\n")
    scores = _index(lines, tmp_path / "scores38.vcf")
    out = tmp_path / "out.vcf"
    r = run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", ref, "-A", genes, "--model", tiny_spliceai(0), "-q",
                 "--precomputed", scores)  # fmt: skip
    line = assert_user_error(r)
    assert line == (f"error: --precomputed {scores} {evidence} but the reference {ref} is not: chr22 is 51,304,566 nt "
                    "here, 50,818,468 in GRCh38; use a score file of the reference's build")
    assert not out.exists() and not Path(f"{out}.manifest.json").exists()


def test_score_file_contig_longer_than_the_reference_chromosome_is_refused(capsys, setup, tmp_path) -> None:
    """Item 1: a score file whose ##contig length of chr1 is not the reference's (shorter than the
    600-nt chr1) is of another reference: refused by the input VCF's contig rule."""
    fa = setup[0]
    plain = tmp_path / "plain.vcf"
    assert _variants(capsys, setup, plain).code == 0
    lines = [ln.replace("ID=chr1,length=600", "ID=chr1,length=500") for ln in plain.read_text().splitlines(keepends=True)]
    scores = _index(lines, tmp_path / "scores.vcf")
    line = assert_user_error(_variants(capsys, setup, tmp_path / "o.vcf", "--precomputed", scores))
    assert line == (f"error: --precomputed {scores}: its ##contig lengths are not the reference's ({fa}: chr1 is 600 nt "
                    "here, 500 there); use a score file of the reference's build")


# ---------------------------------------------------------------------------- item 2: malformed entries
def test_malformed_entries_are_warned_and_scored_instead(capsys, caplog, setup, tmp_path) -> None:
    """Item 2: non-numbers, a bare allele, 12 fields and a position beyond -D are not copied: one
    warning each (file and record), the record is scored by the model, as without the file."""
    plain = tmp_path / "plain.vcf"
    assert _variants(capsys, setup, plain).code == 0
    rows = {c[2]: c for c in (ln.split("\t") for ln in _body(plain))}
    alt = {k: c[4] for k, c in rows.items()}
    bad = {
        "v5": f"{alt['v5']}|PLUS|abc|NaN|-7|9.99",
        "v1": alt["v1"],
        "v2": f"{alt['v2']}|PLUS|0.10|0.00|0.00|0.00|1|2|3|4|5|6",
        "v3": f"{alt['v3']}|PLUS|0.10|0.00|0.00|0.00|1|2|300|4",
        "v4": f"{alt['v4']}|PLUS|1.50|0.00|0.00|0.00|1|2|3|4",
    }
    scores = _score_file(plain, tmp_path / "scores.vcf", bad)
    out = tmp_path / "out.vcf"
    with caplog.at_level(logging.WARNING, logger="nucleoforge.spliceai"):
        r = _variants(capsys, setup, out, "--precomputed", scores)
    assert r.code == 0, r.err
    assert _body(out) == _body(plain)  # computed, not copied
    warned = [rec.getMessage() for rec in caplog.records if "--precomputed" in rec.getMessage()]

    def where(rid: str) -> str:
        c = rows[rid]
        return f"--precomputed {scores}: record {c[0]}:{c[1]} {c[3]}>{c[4]}: entry {bad[rid]!r}: "

    assert warned == [
        where("v1") + "1 field, expected 10 (ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL); scoring it instead",
        where("v2") + "12 fields, expected 10 (ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL); scoring it instead",
        where("v3") + "DP_DG 300 is not an integer within -50..50 (-D 50); scoring it instead",
        where("v4") + "DS_AG 1.50 is not a delta score 0.00..1.00; scoring it instead",
        where("v5") + "6 fields, expected 10 (ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL); scoring it instead",
    ]
    by_source = json.loads(Path(f"{out}.provenance.json").read_text())["alleles_by_source"]
    assert by_source == {f"precomputed {scores}": 7, "model": 5}


def test_lookup_checks_entries_against_the_run_distance(setup, tmp_path) -> None:
    """Item 2 at the API: ``lookup(distance=...)`` leaves a malformed key out and counts it."""
    seq = setup[4]
    alt = _other(seq[59])
    lines = [VCF_HEADER.replace("#CHROM", '##INFO=<ID=SpliceAI,Number=.,Type=String,Description="x">\n#CHROM'),
             f"chr1\t60\ta\t{seq[59]}\t{alt}\t.\t.\tSpliceAI={alt}|PLUS|0.10|0.00|0.00|0.00|-20|0|0|0\n"]
    path = _index(lines, tmp_path / "s.vcf")
    key = ("chr1", 60, seq[59], alt)
    scores = PrecomputedScores(path)
    try:
        assert scores.lookup([key]) == {key: [f"{alt}|PLUS|0.10|0.00|0.00|0.00|-20|0|0|0"]}  # unchecked
        assert scores.lookup([key], distance=50) == {key: [f"{alt}|PLUS|0.10|0.00|0.00|0.00|-20|0|0|0"]}
        assert scores.lookup([key], distance=10) == {} and scores.rejected == 1  # -20 is beyond -D 10
    finally:
        scores.close()
