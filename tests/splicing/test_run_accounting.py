"""What ``nucleoforge variants`` reports: the summary line counts every ALT allele of every record,
a run whose chromosomes are none of the reference's is a failure, the progress bar has a total and
moves within a chunk, and a cold and a warm ``--cache`` run write the same bytes."""

from __future__ import annotations

import io
import logging
import re
import time
from pathlib import Path

import numpy as np
import torch

from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome
from nucleoforge.models.spliceai import SpliceAIModel
from nucleoforge.splicing.scoring import VariantScorer
from nucleoforge.splicing.scoring_vcf import score_vcf
from tests.cli.runner import assert_user_error, run_main

HEADER = ('##fileformat=VCFv4.2\n##ALT=<ID=DEL,Description="Deletion">\n'
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")


def _other(base: str) -> str:
    return "A" if base != "A" else "C"


def mixed_records(seq: str) -> list[str]:
    """11 records on the tiny genome (genes PLUS 41-400 and MINUS 251-590 on chr1, 600 nt) with
    15 ALT alleles: 6 scorable, 2 outside genes, 7 skipped for 5 different reasons."""
    rows = [
        ("chr1", 120, "snv", seq[119], _other(seq[119])),  # scored
        ("chr1", 141, "multi", seq[140], ",".join(b for b in "ACGT" if b != seq[140])),  # 3 scored
        ("chr1", 150, "sym", seq[149], "<DEL>"),  # unsupported ALT
        ("chr1", 160, "star", seq[159], "*," + _other(seq[159])),  # unsupported ALT + scored
        ("chr1", 171, "mnv", seq[170:172], "AC" if seq[170:172] != "AC" else "GT"),  # REF and ALT both longer
        ("chr1", 180, "refmm", _other(seq[179]), "G,T"),  # 2 x REF mismatch
        ("chr1", 190, "noalt", seq[189], "."),  # no ALT allele
        ("chr1", 300, "both", seq[299], _other(seq[299])),  # scored (two genes, one allele)
        ("chr1", 10, "nogene", seq[9], _other(seq[9])),  # outside annotated genes
        ("chr1", 585, "end", seq[584], _other(seq[584])),  # near chromosome end (at -D 4)
        ("chrUn", 5, "unplaced", "A", "C"),  # outside genes, and its chromosome is not in the reference
    ]
    return [f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n" for c, p, i, r, a in rows]


SUMMARY = ("11 records written (0 kept from a previous run), 5 scored; 15 ALT alleles: 6 scored, 2 outside annotated "
           "genes, 7 skipped (REF and ALT both longer than one base: 1, REF does not match the reference: 2, near "
           "chromosome end: 1, no ALT allele: 1, unsupported ALT: 2)")


def _variants(capsys, vcf, out, fa, table, model, *extra):
    return run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", fa, "-A", table, "-D", "4", "--model", model, *extra)


# item 3: every ALT allele is accounted for; item 2: a partial chromosome mismatch is one warning
def test_summary_line_counts_every_alt_allele(capsys, caplog, tiny_genome, tiny_spliceai, tmp_path) -> None:
    fa, table, seq = tiny_genome
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER + "".join(mixed_records(seq)))
    with caplog.at_level(logging.WARNING, logger="nucleoforge"):
        r = _variants(capsys, vcf, tmp_path / "out.vcf", fa, table, tiny_spliceai(0), "-q")
    assert r.code == 0, r.err
    assert r.err_lines == [SUMMARY]
    # 6 + 2 + 7 = 15 = the ALT alleles of the input
    n_alts = sum(len(line.split("\t")[4].split(",")) for line in mixed_records(seq))
    assert n_alts == 15
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nucleoforge"):
        r = _variants(capsys, vcf, tmp_path / "out2.vcf", fa, table, tiny_spliceai(0))
    assert r.code == 0 and SUMMARY in r.err_lines
    chrom_warnings = [rec.getMessage() for rec in caplog.records if "chromosomes not in the reference" in rec.getMessage()]
    assert chrom_warnings == [f"records on chromosomes not in the reference {fa} were left unscored: chrUn (1 record)"]


# item 2: nothing scorable because no chromosome name is the reference's: exit 2, one line, output kept
def test_no_chromosome_in_the_reference_exits_2_and_keeps_the_records(capsys, caplog, tiny_genome, tiny_spliceai,
                                                                      tmp_path) -> None:
    fa, table, seq = tiny_genome
    other = tmp_path / "refseq.fa"
    other.write_text(Path(fa).read_text().replace(">chr1", ">NC_000001.11"))
    rows = [ln for ln in mixed_records(seq) if "\tnoalt\t" not in ln and not ln.startswith("chrUn")]  # 9 on chr1
    rows.append("chr2\t50\tx\tA\tG\t.\tPASS\t.\n")
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER + "".join(rows))
    out = tmp_path / "out.vcf"
    with caplog.at_level(logging.WARNING, logger="nucleoforge"):
        r = _variants(capsys, vcf, out, other, table, tiny_spliceai(0), "-q")
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING] == []  # no warning per record
    line = assert_user_error(r)
    assert line == (f"error: {vcf}: no record could be scored: none of its chromosome names (chr1 (9 records), chr2 "
                    f"(1 record)) is in the reference {other}, which has NC_000001.11 (1 sequence); a 'chr' prefix is "
                    f"matched either way, other names must be renamed (the records were written unscored to {out})")
    body = [ln.split("\t") for ln in out.read_text().splitlines() if not ln.startswith("#")]
    assert [c[2] for c in body] == [ln.split("\t")[2] for ln in rows] and all(c[7] == "." for c in body)


# item 4: the bar's total is the record count, and it moves within a chunk (after model calls)
def test_progress_bar_has_the_record_count_and_moves_within_a_chunk(tiny_genome, tiny_spliceai, tmp_path) -> None:
    fa, table, seq = tiny_genome
    vcf = tmp_path / "in.vcf"
    lines = [f"chr1\t{p}\tv{p}\t{seq[p - 1]}\t{_other(seq[p - 1])}\t.\tPASS\t.\n" for p in range(50, 400, 10)]
    vcf.write_text(HEADER + "".join(lines))
    model = SpliceAIModel.from_pretrained(tiny_spliceai(0)).eval()
    scorer = VariantScorer(model, Genome(fa), GeneTable.load(str(table)), distance=4, batch_size=1, max_ref_span=30)
    shown = io.StringIO()
    score_vcf(scorer, str(vcf), str(tmp_path / "out.vcf"), chunk_size=len(lines), progress=True,
              progress_options={"file": shown, "mininterval": 0, "ascii": True})  # fmt: skip
    frames = re.findall(r"(\d+)/(\d+) \[", shown.getvalue())
    assert {int(total) for _, total in frames} == {35} == {len(lines)}
    counts = [int(n) for n, _ in frames]
    assert counts[-1] == 35 and counts == sorted(counts)
    assert len({n for n in counts if 0 < n < 35}) >= 10  # one chunk of 35 records, many steps inside it


# item 4: the bar is redrawn while one model call runs (at least once a second)
def test_progress_bar_is_redrawn_during_a_long_model_call(tiny_genome, tiny_spliceai, tmp_path) -> None:
    fa, table, seq = tiny_genome
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER + f"chr1\t120\tv\t{seq[119]}\t{_other(seq[119])}\t.\tPASS\t.\n")
    model = SpliceAIModel.from_pretrained(tiny_spliceai(0)).eval()
    shown = io.StringIO()
    drawn: list[int] = []

    def slow(x: np.ndarray) -> np.ndarray:
        before = len(shown.getvalue())
        time.sleep(1.6)
        drawn.append(len(shown.getvalue()) - before)
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(x))).probabilities.numpy()

    scorer = VariantScorer(model, Genome(fa), GeneTable.load(str(table)), distance=4, predict=slow)
    score_vcf(scorer, str(vcf), str(tmp_path / "out.vcf"), progress=True, progress_options={"file": shown, "ascii": True})
    assert drawn and all(n > 0 for n in drawn)  # written to while the scoring thread slept in the model call


# item 5: the documented comparison: a run that fills the cache and one that reads it, `cmp`-equal
def test_a_model_run_and_a_cache_run_give_the_same_file(capsys, tiny_genome, tiny_spliceai, tmp_path) -> None:
    fa, table, seq = tiny_genome
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER + "".join(mixed_records(seq)))
    cache = tmp_path / "s.sqlite"
    first = _variants(capsys, vcf, tmp_path / "run1.vcf", fa, table, tiny_spliceai(0), "--cache", cache, "-q")
    second = _variants(capsys, vcf, tmp_path / "run2.vcf", fa, table, tiny_spliceai(0), "--cache", cache, "-q")
    assert first.code == second.code == 0, first.err + second.err
    # 9 ALTs pass the record rules and are looked up (rules first); the 8 of scored records stored
    assert f"cache {cache}: 0 of 9 alleles found, 8 added; alleles by source: {{\"model\": 7}}" in first.err
    assert f"cache {cache}: 8 of 9 alleles found, 0 added; alleles by source: {{\"cache\": 7}}" in second.err
    assert (tmp_path / "run1.vcf").read_bytes() == (tmp_path / "run2.vcf").read_bytes()  # cmp run1.vcf run2.vcf
    import json

    by_source = [json.loads((tmp_path / f"run{k}.vcf.provenance.json").read_text())["alleles_by_source"] for k in (1, 2)]
    assert by_source == [{"model": 7}, {"cache": 7}]  # where the scores came from: in the summary and beside the file
