"""Promoter-vs-non-promoter windows on the bundled GRCh37 chr22 block and the SpliceAI grch37 table."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from nucleoforge.alphabet import reverse_complement
from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome, place_subsequence_records
from nucleoforge.regions.promoters import promoter_windows, tss_sites, write_promoter_table

BLOCK = Path(__file__).resolve().parents[2] / "examples" / "data" / "GRCh37_chr22_20000001-21000000.fa.gz"


@pytest.fixture(scope="module")
def chr22(tmp_path_factory) -> Genome:
    path = tmp_path_factory.mktemp("chr22") / "chr22.fa"
    place_subsequence_records(BLOCK, path)
    return Genome(path)


@pytest.fixture(scope="module")
def table() -> GeneTable:
    return GeneTable.load("grch37")


@pytest.fixture(scope="module")
def windows(chr22, table):
    return promoter_windows(chr22, table)


def test_promoters_are_the_block_tss_cores(chr22, table, windows):
    pos = [w for w in windows if w.label == 1]
    # the 19 grch37 transcripts whose TSS lies in chr22:20,000,001-21,000,000 (ARVCF … MED15)
    assert len(pos) == 19
    assert [w.name for w in pos][:3] == ["ARVCF", "TANGO2", "DGCR8"] and pos[-1].name == "MED15"
    sites = {name: (p, s) for c, p, s, name in tss_sites(table) if c == "22"}
    for w in pos:
        tss, strand = sites[w.name]
        assert w.strand == strand and len(w.sequence) == 70
        forward = chr22.fetch("22", w.start, w.start + 70)
        assert w.sequence == (forward if strand == "+" else reverse_complement(forward))
        # −34 … +35: the TSS is base 35 of the window, read on the transcript's strand
        base = chr22.fetch("22", tss, tss + 1)
        assert w.sequence[34] == (base if strand == "+" else reverse_complement(base))
    tango2 = next(w for w in pos if w.name == "TANGO2")  # plus strand, TX_START 20008630 (0-based)
    assert tango2.start == 20008630 - 34


def test_negatives_are_gc_matched_far_from_tss_and_off_exons(table, windows):
    neg = [w for w in windows if w.label == 0]
    assert len(neg) == 190 and {w.kind for w in neg} == {"intronic", "intergenic"}
    gc_pos = np.mean([w.gc for w in windows if w.label == 1])
    gc_neg = np.mean([w.gc for w in neg])
    assert abs(gc_pos - gc_neg) < 0.005, (gc_pos, gc_neg)
    # per group: the ten matched windows sit near their promoter's GC
    for g in range(19):
        p = next(w for w in windows if w.label == 1 and w.group == g)
        assert max(abs(w.gc - p.gc) for w in neg if w.group == g) < 0.05
    tss = np.array([p for c, p, _, _ in tss_sites(table) if c == "22"])
    genes = [g for g in table if g.chrom == "22"]
    assert len({(w.chrom, w.start) for w in neg}) == 190
    for w in neg:
        assert set(w.sequence) <= set("ACGT")
        assert np.abs(tss - w.start).min() > 2000 and np.abs(tss - (w.start + 69)).min() > 2000
        for g in genes:
            assert all(w.start + 70 <= s or w.start >= e for s, e in zip(g.exon_starts, g.exon_ends))
        inside = any(g.tx_start <= w.start and w.start + 70 <= g.tx_end for g in genes)
        assert w.kind == ("intronic" if inside else "intergenic")


def test_seeded_and_written_as_a_finetune_table(chr22, table, windows, tmp_path):
    again = promoter_windows(chr22, table)
    assert again == windows
    other = promoter_windows(chr22, table, seed=1)
    assert [w for w in other if w.label == 1] == [w for w in windows if w.label == 1]
    assert [w for w in other if w.label == 0] != [w for w in windows if w.label == 0]
    summary = write_promoter_table(windows, tmp_path / "p.tsv")
    assert summary["windows"] == 209 and summary["kinds"]["promoter"] == 19
    from nucleoforge.tokenization import NucleotideTokenizer
    from nucleoforge.training.labelled import read_labelled

    data = read_labelled(tmp_path / "p.tsv", NucleotideTokenizer.for_model("dnabert", k=6), "sequence", "binary", id_column="id")
    assert len(data.sequences) == 209 and int(np.sum(data.labels)) == 19
    assert data.ids[0] == "g0|promoter|ARVCF|22:20004296-20004365(-)"


def test_errors(chr22, table, tmp_path):
    with pytest.raises(ValueError, match=r"upstream must be in \[0, core\) = \[0, 70\), got 70"):
        promoter_windows(chr22, table, upstream=70)
    other = GeneTable.read(io.StringIO("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                                       "X\t22\t+\t100\t900\t100,\t900,\n"), source="x.txt")  # fmt: skip
    with pytest.raises(ValueError, match=r"no transcription start site of x.txt has 70 ACGT bases around it in .*chr22.fa"):
        promoter_windows(chr22, other)  # position 100 lies in the N run before the block
    with pytest.raises(ValueError, match=r"only \d+ candidate non-promoter windows of 70 bp .*; 1900000 needed"):
        promoter_windows(chr22, table, negatives_per_promoter=100_000)


def test_cli_writes_the_table_and_refuses_an_excerpt(capsys, chr22, tmp_path):
    from tests.cli.runner import assert_user_error, run_main

    out = tmp_path / "promoters.tsv"
    res = run_main(capsys, "genebert", "promoters", "-R", chr22.path, "-A", "grch37", "-o", out, "--negatives", "2")
    assert res.code == 0 and "wrote 57 windows of 70 bp (19 promoter" in res.out, res
    lines = out.read_text().splitlines()
    assert lines[0] == "sequence\tlabel\tid" and len(lines) == 1 + 19 * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["promoters.tsv"]  # no temporary file left
    # the bundled block itself: its one record is named 22:20000001-21000000, not 22
    line = assert_user_error(run_main(capsys, "genebert", "promoters", "-R", BLOCK, "-A", "grch37", "-o", tmp_path / "x.tsv"),
                             "no transcription start site", "place them at their coordinates first")  # fmt: skip
    assert str(BLOCK) in line and not (tmp_path / "x.tsv").exists()
    assert_user_error(run_main(capsys, "genebert", "promoters", "-R", chr22.path, "-A", "grch37", "-o", out, "--upstream", "70"),
                      "--upstream 70 must be less than --core 70")  # fmt: skip
    assert len(out.read_text().splitlines()) == 1 + 19 * 3  # the earlier file is untouched
    ref = tmp_path / "ref.fa"
    ref.write_bytes(Path(chr22.path).read_bytes())
    assert_user_error(run_main(capsys, "genebert", "promoters", "-R", ref, "-A", "grch37", "-o", ref),
                      f"--output {ref} is the same file as the input {ref}")  # fmt: skip
    assert ref.read_bytes() == Path(chr22.path).read_bytes()
