"""``variants -O out.tsv``: one row per record x ALT x gene with the numbers of the INFO field, one
row per ALT left unscored with the scorer's reason, resumable byte-identically, the same with
``--workers`` and on stdout (``--format tsv``)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome, place_subsequence_records
from nucleoforge.io.variant_table import table_columns
from nucleoforge.models.spliceai import SpliceAIModel
from nucleoforge.splicing.scoring import VariantInput, VariantScorer
from nucleoforge.splicing.scoring_vcf import score_vcf
from tests.cli.runner import run_main
from tests.conftest import CHR22, spliceai_pretrained
from tests.splicing.test_run_accounting import HEADER, mixed_records
from tests.splicing.test_transcripts import write_gtf

FIXTURES = Path(__file__).parents[1] / "fixtures" / "spliceai_variants"
COLUMNS = ["CHROM", "POS", "ID", "REF", "ALT", "SYMBOL", "DS_AG", "DS_AL", "DS_DG", "DS_DL", "DP_AG", "DP_AL", "DP_DG",
           "DP_DL", "DS_MAX", "NOTE"]


def _read(path: Path) -> list[list[str]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [line.rstrip("\n").split("\t") for line in fh]


def _info(path: Path, key: str = "SpliceAI") -> list[tuple[list[str], list[str]]]:
    """Per VCF record: its first five columns and its ``key`` entries."""
    out = []
    for line in Path(path).read_text().splitlines():
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        fields = dict(f.split("=", 1) for f in cols[7].split(";") if "=" in f)
        out.append((cols[:5], fields[key].split(",") if key in fields else []))
    return out


def _rows_from_info(records: list[tuple[list[str], list[str]]], n_label: int = 1) -> list[list[str]]:
    """The table rows the INFO entries say, for the records that have entries (in order)."""
    rows = []
    for (chrom, pos, vid, ref, _), entries in records:
        for e in entries:
            f = e.split("|")
            ds = f[-8:-4]
            if "." in ds:
                continue
            rows.append([chrom, pos, vid, ref, f[0], *f[1:-8], *ds, *f[-4:], f"{max(map(float, ds)) + 0.0:.2f}", ""])
    return rows


# ------------------------------------------------------------------------------------------------ golden
GOLDEN = {"rs885980", "rs885980_mnv", "rs73389745", "rs368639630", "rs545014283", "rs2286480_refmismatch",
          "rs141779732", "rs117918233_star", "rs35216297_multiallelic"}


# item 1: the table's numbers are the INFO field's, on the records the original CLI scored (~70 s on 2 cores)
@pytest.mark.slow
def test_table_has_the_numbers_of_the_info_field_on_golden_records(tmp_path) -> None:
    model = spliceai_pretrained("spliceai-10k")  # skips (fails under CI=true) without the converted weights
    ref = tmp_path / "chr22.fa"
    place_subsequence_records(CHR22, ref, chrom_prefix="chr")
    genome, genes = Genome(ref), GeneTable.load("grch37")
    src = tmp_path / "golden.vcf"
    src.write_text("".join(ln for ln in (FIXTURES / "input.vcf").read_text().splitlines(True)
                           if ln.startswith("#") or ln.split("\t")[2] in GOLDEN))
    memo: dict[bytes, np.ndarray] = {}
    base = VariantScorer(model, genome, genes).family.predict

    def predict(x: np.ndarray) -> np.ndarray:  # the second run reads the first's predictions
        key = hashlib.sha1(np.ascontiguousarray(x).tobytes()).digest()
        if key not in memo:
            memo[key] = base(x)
        return memo[key]

    score_vcf(VariantScorer(model, genome, genes, predict=predict), str(src), str(tmp_path / "out.vcf"), progress=False)
    score_vcf(VariantScorer(model, genome, genes, predict=predict), str(src), str(tmp_path / "out.tsv"), progress=False)
    records = _info(tmp_path / "out.vcf")
    expected = {k: v for k, v in (ln.split("\t")[2:8:5] for ln in (FIXTURES / "expected_M0.vcf").read_text().splitlines()
                                  if not ln.startswith("#")) if k in GOLDEN}  # fmt: skip
    assert {c[2]: ("SpliceAI=" + ",".join(e) if e else ".") for c, e in records} == expected  # the golden strings
    rows = _read(tmp_path / "out.tsv")
    assert rows[0] == COLUMNS
    scored = [r for r in rows[1:] if not r[-1]]
    assert scored == _rows_from_info(records)  # every value of every scored entry, in order
    assert len(scored) == 9  # 4 one-gene SNVs/indels, the '*' record's A, the multi-allelic record's 2 ALTs x 2 genes
    notes = {(r[2], r[4], r[5]): r[-1] for r in rows[1:] if r[-1]}
    assert notes == {
        ("rs2286480_refmismatch", "C", ""): "SKIPPED: REF does not match the reference",
        ("rs141779732", "T", ""): "SKIPPED: outside annotated genes",
        ("rs117918233_star", "*", ""): "SKIPPED: unsupported ALT",
        ("rs885980_mnv", "CT", "TRMT2A"): "SKIPPED: REF and ALT both longer than one base",
    }
    assert all(r[6:15] == [""] * 9 for r in rows[1:] if r[-1])  # no score, no DS_MAX


# ------------------------------------------------------------------------------------------------ tiny model
@pytest.fixture(scope="module")
def setup(tiny_genome, tiny_spliceai, tmp_path_factory):
    """The mixed records (every skip reason) plus a split multi-allelic site (same CHROM POS ID REF,
    one ALT per record: rows a resume cannot tell from one record's by their columns)."""
    fa, table, seq = tiny_genome
    d = tmp_path_factory.mktemp("table")
    rows = mixed_records(seq)
    split = [f"chr1\t221\tsplit\t{seq[220]}\t{b}\t.\tPASS\t.\n" for b in "ACGT" if b != seq[220]]
    vcf = d / "in.vcf"
    vcf.write_text(HEADER + "".join(rows[:5] + split + rows[5:]))
    return fa, table, vcf, tiny_spliceai(0)


def _run(capsys, setup, out, *extra):
    fa, table, vcf, model = setup
    r = run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", fa, "-A", table, "-D", "4", "--model", model, "-q", *extra)
    assert r.code == 0, r.err
    return r


# item 1: the skip reason of every ALT comes from the scorer
def test_scorer_gives_the_reason_of_every_alt(tiny_genome, tiny_spliceai) -> None:
    fa, table, seq = tiny_genome
    model = SpliceAIModel.from_pretrained(tiny_spliceai(0)).eval()
    scorer = VariantScorer(model, Genome(fa), GeneTable.load(str(table)), distance=4)
    variants = [VariantInput(c[0], int(c[1]), c[3], None if c[4] == "." else c[4].split(","))
                for c in (ln.split("\t") for ln in mixed_records(seq))]
    got = [[(a.alt, len(a.entries), a.reason) for a in alleles] for alleles in scorer.score_alleles(variants)]
    assert got == [
        [(variants[0].alts[0], 1, None)],
        [(alt, 1, None) for alt in variants[1].alts],
        [("<DEL>", 0, "unsupported ALT")],
        [("*", 0, "unsupported ALT"), (variants[3].alts[1], 1, None)],
        [(variants[4].alts[0], 1, "REF and ALT both longer than one base")],
        [("G", 0, "REF does not match the reference"), ("T", 0, "REF does not match the reference")],
        [(".", 0, "no ALT allele")],
        [(variants[7].alts[0], 2, None)],  # two genes
        [(variants[8].alts[0], 0, "no gene")],
        [(variants[9].alts[0], 0, "near chromosome end")],
        [("C", 0, "no gene")],
    ]
    # the entries are the ones score_chunk gives (and the VCF carries)
    assert [[e for a in al for e in a.entries] or None for al in scorer.score_alleles(variants)] == scorer.score_chunk(variants)


# item 1: .tsv by name, --format tsv on stdout, the same rows as the VCF's entries
def test_table_by_name_and_on_stdout(capsys, setup, tmp_path) -> None:
    _run(capsys, setup, tmp_path / "out.vcf")
    _run(capsys, setup, tmp_path / "out.tsv")
    on_stdout = _run(capsys, setup, "-", "--format", "tsv").out
    assert on_stdout == (tmp_path / "out.tsv").read_text()
    rows = _read(tmp_path / "out.tsv")
    assert rows[0] == COLUMNS
    assert [r for r in rows[1:] if not r[-1]] == _rows_from_info(_info(tmp_path / "out.vcf"))
    skipped = [(r[2], r[4], r[-1]) for r in rows[1:] if r[-1]]
    assert skipped == [("sym", "<DEL>", "SKIPPED: unsupported ALT"), ("star", "*", "SKIPPED: unsupported ALT"),
                       ("mnv", rows[[r[2] for r in rows].index("mnv")][4], "SKIPPED: REF and ALT both longer than one base"),
                       ("refmm", "G", "SKIPPED: REF does not match the reference"),
                       ("refmm", "T", "SKIPPED: REF does not match the reference"),
                       ("noalt", ".", "SKIPPED: no ALT allele"), ("nogene", rows[-3][4], "SKIPPED: outside annotated genes"),
                       ("end", rows[-2][4], "SKIPPED: near chromosome end"), ("unplaced", "C", "SKIPPED: outside annotated genes")]
    assert len([r for r in rows if r[2] == "split"]) == 3
    # a table is another output than the VCF of the same run: its manifest says so
    import json

    assert json.loads(Path(f"{tmp_path / 'out.tsv'}.manifest.json").read_text())["parameters"]["format"] == "tsv"


# item 1: --transcripts adds the TRANSCRIPT column, rows per transcript (the SpliceAI_TX entries)
def test_table_with_transcripts(capsys, setup, tmp_path) -> None:
    fa, _, vcf, model = setup
    gtf = write_gtf(tmp_path / "all.gtf", ["T1", "T2", "M1"])
    setup_gtf = (fa, gtf, vcf, model)
    _run(capsys, setup_gtf, tmp_path / "tx.vcf", "--transcripts", "all")
    _run(capsys, setup_gtf, tmp_path / "tx.tsv", "--transcripts", "all")
    rows = _read(tmp_path / "tx.tsv")
    assert rows[0] == table_columns(transcripts=True) == COLUMNS[:6] + ["TRANSCRIPT"] + COLUMNS[6:]
    assert [r for r in rows[1:] if not r[-1]] == _rows_from_info(_info(tmp_path / "tx.vcf", "SpliceAI_TX"))
    assert {r[6] for r in rows[1:] if not r[-1]} == {"T1", "T2", "M1"}


# item 1: an interrupted table resumes to the bytes of an uninterrupted run (plain and BGZF)
@pytest.mark.parametrize("suffix", [".tsv", ".tsv.gz"])
def test_table_resume_is_byte_identical(capsys, setup, tmp_path, suffix) -> None:
    full = tmp_path / f"full{suffix}"
    _run(capsys, setup, full, "--chunk-size", "3")
    text = "".join("\t".join(r) + "\n" for r in _read(full))
    checkpoints = Path(f"{full}.checkpoints").read_text().splitlines(True)
    assert [int(c.split("\t")[0]) for c in checkpoints] == [0, 3, 6, 9, 12, 14]
    # killed while writing the 4th chunk: the rows of 9 records, half of the next chunk's, 3 checkpoints and a half
    at = int(checkpoints[3].split("\t")[1])
    part = tmp_path / f"part{suffix}"
    cut = text[: at + (int(checkpoints[4].split("\t")[1]) - at) // 2].encode()
    part.write_bytes(gzip.compress(cut)[:-8] if suffix.endswith(".gz") else cut)
    Path(f"{part}.checkpoints").write_text("".join(checkpoints[:4]) + checkpoints[4][:3])
    shutil.copy(f"{full}.manifest.json", f"{part}.manifest.json")
    r = _run(capsys, setup, part, "--chunk-size", "3", "--resume")
    assert r.err.startswith("14 records written (9 kept from a previous run)")
    assert "ALT alleles in the 5 records scored now" in r.err
    resumed = gzip.open(part, "rt").read() if suffix.endswith(".gz") else part.read_text()
    assert resumed == text
    assert Path(f"{part}.checkpoints").read_text() == "".join(checkpoints)


# item 1: --workers 2 writes the table of one process
@pytest.mark.slow
def test_workers_give_the_same_table(capsys, setup, tmp_path) -> None:
    _run(capsys, setup, tmp_path / "one.tsv")
    _run(capsys, setup, tmp_path / "two.tsv", "--workers", "2", "--shard-size", "1")
    assert (tmp_path / "two.tsv").read_bytes() == (tmp_path / "one.tsv").read_bytes()
