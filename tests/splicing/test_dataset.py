"""``splice-data`` (nucleoforge.splicing.dataset): hand-computed codes, labels and weights on real
GRCh37 chr22 genes (grch37 rows of the spliceai wheel, copied below), block cutting, N runs and
chromosome ends on a small FASTA of real sequence, the splits, the validation hold-out, the
summary, the reader, and the command's user errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import place_subsequence_records
from nucleoforge.splicing.dataset import (
    build_splice_dataset,
    crop_context,
    holdout_validation,
    read_splice_dataset,
    summary_table,
)
from nucleoforge.splicing.evaluation import gene_labels
from tests.cli.runner import assert_user_error, run_main
from tests.conftest import CHR22

HEADER = "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
# Real rows of the spliceai wheel's grch37 table (chr22:20-21 Mb), plus one chr21 gene.
GRCH37_ROWS = """\
TANGO2	22	+	20008630	20053449	20008630,20024282,20030877,20039987,20040959,20043465,20049052,20050860,20052064,	20008769,20024377,20030966,20040107,20041074,20043536,20049206,20050965,20053449,
TRMT2A	22	-	20099388	20104818	20099388,20100433,20100640,20100954,20101208,20102096,20102283,20102487,20102788,20103194,20103560,20104405,	20100317,20100530,20100757,20101030,20101331,20102208,20102399,20102602,20102970,20103303,20104135,20104818,
RANBP1	22	+	20105070	20114704	20105070,20106535,20109786,20112830,20113825,20114474,	20105187,20106672,20109944,20112959,20113891,20114704,
CCDC188	22	-	20135949	20138588	20135949,20136397,20136709,20136934,20137103,20137246,20137477,20137665,20137990,	20136323,20136447,20136767,20136999,20137163,20137303,20137582,20137773,20138588,
GGTLC3	22	-	20366210	20368028	20366210,20366818,20367013,20367228,20367588,20367929,	20366514,20366932,20367126,20367356,20367798,20368028,
TMEM191B	22	+	20377668	20380326	20377668,20378425,20378683,20378885,20379307,20379472,20379802,20380022,20380121,	20378143,20378549,20378734,20378960,20379364,20379591,20379875,20380063,20380326,
CLDN8	21	-	31586323	31588391	31586323,	31588391,
"""
TRAIN, TEST = "22:20090001-20140000", "22:20360001-20390000"  # TRMT2A, RANBP1, CCDC188 | GGTLC3, TMEM191B
C, HALF, B = 10_000, 5_000, 5_000
CODE = {"N": 0, "A": 1, "C": 2, "G": 3, "T": 4}


def codes(text: str) -> list[int]:
    return [CODE[c] for c in text]


def row_of(path, split, name):
    """``(x, y, w, transcript)`` of the first block of transcript ``name``."""
    ds = read_splice_dataset(path)
    t = ds.transcripts(split)
    k = list(t["name"]).index(name)
    with ds.open(split) as f:
        r = int(t["first_block"][k])
        return f["X"][r], f["Y"][r], f["W"][r], {key: v[k] for key, v in t.items()}


@pytest.fixture(scope="module")
def chr22(tmp_path_factory):
    d = tmp_path_factory.mktemp("chr22")
    ref = d / "chr22.fa"
    place_subsequence_records(CHR22, ref)  # the bundled block at real coordinates
    table = d / "genes.txt"
    table.write_text(HEADER + GRCH37_ROWS)
    return ref, table


@pytest.fixture(scope="module")
def chr22_data(chr22, tmp_path_factory):
    ref, table = chr22
    out = tmp_path_factory.mktemp("chr22_data") / "data"
    meta = build_splice_dataset(ref, table, out, train_regions=[TRAIN], test_regions=[TEST], validation_fraction=0)
    return out, meta


def test_plus_strand_gene_hand_computed(chr22_data, chr22):
    """TMEM191B (+, chr22:20,377,669-20,380,326, 2,658 nt, 9 exons) in the test split."""
    out, _ = chr22_data
    x, y, w, t = row_of(out, "test", "TMEM191B")
    assert (t["chrom"], t["strand"], t["tx_start"], t["tx_end"]) == ("22", "+", 20377668, 20380326)
    L = 2658
    assert x.shape == (B + C,) and x.dtype == np.uint8
    assert x[HALF : HALF + 12].tolist() == codes("GATCAGTTTGCA")  # chr22:20,377,669-20,377,680
    assert x[HALF + L - 12 : HALF + L].tolist() == codes("CTGCCAACCTAA")
    assert not x[:HALF].any() and not x[HALF + L :].any()  # real sequence outside the transcript reads as N
    # acceptor = exon start - tx_start; donor = exon end - 1 - tx_start
    assert np.flatnonzero(y == 1).tolist() == [757, 1015, 1217, 1639, 1804, 2134, 2354, 2453]
    assert np.flatnonzero(y == 2).tolist() == [474, 880, 1065, 1291, 1695, 1922, 2206, 2394]
    assert x[HALF + 472 : HALF + 477].tolist() == codes("GAGGT")  # exon ...GAG | GT intron
    assert x[HALF + 754 : HALF + 759].tolist() == codes("CAGCC")  # intron ...CAG | CC exon
    table = GeneTable.load(chr22[1])
    assert y[:L].tolist() == gene_labels(table, [g.name for g in table].index("TMEM191B")).tolist()
    assert (y[L:] == -1).all() and not w[L:].any()
    assert not w[:50].any() and w[50] == 1 and w[L - 51] == 1 and not w[L - 50 : L].any()
    assert w[50 : L - 50].all()


def test_minus_strand_gene_is_reverse_complemented(chr22_data, chr22):
    """CCDC188 (-, chr22:20,135,950-20,138,588, 2,639 nt): position i is the complement of chr22 base
    20,138,588 - i (1-based); acceptors at tx_end - exon end, donors at tx_end - 1 - exon start."""
    out, _ = chr22_data
    x, y, w, t = row_of(out, "train", "CCDC188")
    L = 2639
    assert (t["strand"], t["tx_start"], t["tx_end"]) == ("-", 20135949, 20138588)
    # chr22:20,138,577-20,138,588 is CTGAGGGGGCTG on the forward strand
    assert x[HALF : HALF + 12].tolist() == codes("CAGCCCCCTCAG")
    assert not x[:HALF].any() and not x[HALF + L :].any()
    assert np.flatnonzero(y == 1).tolist() == sorted([2265, 2141, 1821, 1589, 1425, 1285, 1006, 815])
    assert np.flatnonzero(y == 2).tolist() == sorted([2190, 1878, 1653, 1484, 1341, 1110, 922, 597])
    assert x[HALF + 595 : HALF + 600].tolist() == codes("CTGGT")  # donor 597: ...CTG | GT on the transcript
    assert x[HALF + 812 : HALF + 816].tolist() == codes("CAGA")  # acceptor 815: ...CAG | A
    table = GeneTable.load(chr22[1])
    assert y[:L].tolist() == gene_labels(table, [g.name for g in table].index("CCDC188"))[::-1].tolist()
    assert (y[L:] == -1).all() and not w[:50].any() and w[50 : L - 50].all() and not w[L - 50 :].any()


def test_long_transcript_is_cut_into_blocks(chr22_data):
    """RANBP1 (9,634 nt): 2 blocks; the second starts at transcript position 5,000, its left
    flank is the first block, and it is padded with Y = -1, W = 0, X = N after position 9,633."""
    out, _ = chr22_data
    ds = read_splice_dataset(out)
    t = ds.transcripts("train")
    k = list(t["name"]).index("RANBP1")
    r = int(t["first_block"][k])
    assert int(t["first_block"][k + 1]) - r == 2
    with ds.open("train") as f:
        x, y, w, tx = f["X"][r : r + 2], f["Y"][r : r + 2], f["W"][r : r + 2], f["tx"][r : r + 2]
    assert tx.tolist() == [k, k]
    assert x[1, HALF : HALF + 12].tolist() == codes("GTTGAATTTAAA")  # chr22:20,110,071-20,110,082
    assert (x[1, :HALF] == x[0, HALF : HALF + B]).all()
    assert (x[0, HALF + B :] == x[1, HALF : HALF + B]).all()
    assert not x[1, HALF + 4634 :].any() and x[1, HALF + 4633] != 0
    assert (y[1, 4634:] == -1).all() and (y[1, :4634] >= 0).all() and not w[1, 4634:].any()
    assert np.flatnonzero(y[0] == 2).tolist() == [116, 1601, 4873]  # 20105187 - 1 - 20105070, ...
    assert np.flatnonzero(y[1] == 1).tolist() == [2760, 3755, 4404]  # 20112830 - 20105070 - 5000, ...


def test_summary_counts_and_metadata(chr22_data, chr22):
    out, meta = chr22_data
    on_disk = json.loads((out / "dataset.json").read_text())
    assert on_disk == meta
    assert meta["format"] == "nucleoforge-splice-data/1" and meta["context"] == C and meta["block"] == B
    assert meta["transcripts"] == "canonical" and meta["seed"] == 0
    assert meta["split"]["by"] == "region" and meta["split"]["test_regions"] == ["22:20360001-20390000"]
    assert meta["split"]["left_out"] == {"no_split": 1, "not_in_reference": 1, "past_chromosome_end": 0}  # TANGO2, CLDN8
    assert len(meta["reference"]["sha256"]) == 64 and len(meta["annotation"]["sha256"]) == 64
    s = meta["summary"]
    assert s["validation"] == dict.fromkeys(s["validation"], 0) and not (out / "validation.h5").exists()
    assert (s["train"]["transcripts"], s["train"]["blocks"], s["test"]["transcripts"], s["test"]["blocks"]) == (3, 5, 2, 2)
    assert s["train"]["positions"] == 5430 + 9634 + 2639 - 300 and s["train"]["excluded"] == 300
    assert s["test"]["acceptors"] == s["test"]["donors"] == 5 + 8  # GGTLC3, TMEM191B: no site within 50 nt of an end
    ds = read_splice_dataset(out)
    for split in ("train", "test"):
        x, y, w = ds.arrays(split)
        assert x.shape == (s[split]["blocks"], B + C)
        assert s[split]["positions"] == int(w.sum())
        assert s[split]["acceptors"] == int(((y == 1) & (w == 1)).sum())
        assert s[split]["donors"] == int(((y == 2) & (w == 1)).sum())
        assert s[split]["excluded"] == int(((y >= 0) & (w == 0)).sum())
    with ds.open("test") as f:
        assert f["X"].chunks == (1, B + C) and f["X"].compression == "gzip" and f["X"].compression_opts == 4
        assert f["Y"].dtype == np.int8 and f["W"].dtype == np.uint8 and f["tx"].dtype == np.int32
        assert f.attrs["context"] == C


def test_reader_batches_and_context_crop(chr22_data):
    out, _ = chr22_data
    ds = read_splice_dataset(out)
    x_all, y_all, w_all = ds.arrays("train")
    batches = list(ds.iter_batches("train", 2, context=80))
    assert [len(b[0]) for b in batches] == [2, 2, 1]
    x = np.concatenate([b[0] for b in batches])
    assert x.shape == (5, B + 80) and (x == x_all[:, HALF - 40 : HALF + B + 40]).all()
    assert (crop_context(x_all, C, 80) == x).all()
    shuffled = list(ds.iter_batches("train", 3, shuffle=True, seed=1))
    order = np.random.default_rng(1).permutation(5)
    assert (np.concatenate([b[1] for b in shuffled]) == y_all[order]).all()
    assert (np.concatenate([b[2] for b in shuffled]) == w_all[order]).all()
    with pytest.raises(ValueError, match="cannot crop"):
        ds.arrays("train", context=81)
    with pytest.raises(FileNotFoundError, match="no validation split"):
        ds.file("validation")


# ---------------------------------------------------------------------------- a small FASTA
@pytest.fixture(scope="module")
def small(tmp_path_factory, chr22_block):
    """chr1 (3,000 nt of real chr22 with an 11-N and a 10-N run), chr2, chr3, chr20, chr21 (1,000
    nt each, real) and a table: one gene per chromosome but chr3, one past the end of chr21."""
    pieces = {name: chr22_block[start : start + n] for name, start, n in
              (("chr1", 40_000, 3000), ("chr2", 60_000, 1000), ("chr3", 70_000, 1000), ("chr20", 80_000, 1000), ("chr21", 90_000, 1000))}
    assert not any("N" in s for s in pieces.values())
    s1 = pieces["chr1"]
    pieces["chr1"] = s1[:1000] + "N" * 11 + s1[1011:2000] + "N" * 10 + s1[2010:]
    d = tmp_path_factory.mktemp("small")
    fa = d / "small.fa"
    fa.write_text("".join(f">{name}\n{seq}\n" for name, seq in pieces.items()))
    table = d / "genes.txt"
    table.write_text(HEADER + "".join([
        "NRUN\t1\t+\t30\t2900\t30,1500,\t1200,2900,\n",  # starts 30 nt after the chromosome start
        "MINUS2\t2\t-\t100\t900\t100,600,\t400,900,\n",
        "ON20\t20\t+\t100\t900\t100,600,\t400,900,\n",
        "ON21\t21\t+\t100\t900\t100,600,\t400,900,\n",
        "PAST21\t21\t+\t500\t1200\t500,1100,\t800,1200,\n",
    ]))
    return fa, table, pieces


def test_n_runs_and_chromosome_ends(small, tmp_path):
    fa, table, pieces = small
    meta = build_splice_dataset(fa, table, tmp_path / "d", context=100, train_chroms=["chr1"], test_chroms=["chr2"],
                                validation_fraction=0)
    x, y, w, _ = row_of(tmp_path / "d", "train", "NRUN")
    L = 2870
    assert x.shape == (B + 100,)
    # the 50-nt left flank: 20 nt before the chromosome start and chr1's first 30 real bases, all N
    assert not x[:50].any() and x[50:60].tolist() == codes(pieces["chr1"][30:40])
    # 11 N at chr1 [1000, 1011) = transcript [970, 981): weight 0 on [920, 1031)
    assert not x[50 + 970 : 50 + 981].any() and x[50 + 969] and x[50 + 981]
    assert w[919] == 1 and not w[920:1031].any() and w[1031] == 1
    # 10 N at chr1 [2000, 2010) = transcript [1970, 1980): not a masked interval
    assert not x[50 + 1970 : 50 + 1980].any() and x[50 + 1969] and x[50 + 1980] and w[1031:L - 50].all()
    assert not w[:50].any() and not w[L - 50 : L].any() and w[50:920].all()
    assert meta["summary"]["train"]["excluded"] == 100 + 111
    assert meta["split"]["left_out"] == {"no_split": 2, "not_in_reference": 0, "past_chromosome_end": 1}


def test_split_by_chromosome_and_human_preset(small, tmp_path):
    fa, table, _ = small
    meta = build_splice_dataset(fa, table, tmp_path / "a", test_chroms=["20"], validation_fraction=0)
    assert meta["split"]["train_chroms"] == ["chr1", "chr2", "chr3", "chr21"] and meta["split"]["test_chroms"] == ["chr20"]
    assert [meta["summary"][s]["transcripts"] for s in ("train", "validation", "test")] == [3, 0, 1]
    assert list(read_splice_dataset(tmp_path / "a").transcripts("test")["name"]) == ["ON20"]
    meta = build_splice_dataset(fa, table, tmp_path / "b", split="human", validation_fraction=0.05, seed=3)
    assert meta["split"]["preset"] == "human" and meta["split"]["test_chroms"] == ["chr20"]
    assert [meta["summary"][s]["transcripts"] for s in ("train", "validation", "test")] == [1, 1, 1]
    assert meta["split"]["left_out"]["no_split"] == 1  # ON21: chr21 is in neither side of the human split
    names = {s: list(read_splice_dataset(tmp_path / "b").transcripts(s)["name"]) for s in ("train", "validation")}
    assert sorted(names["train"] + names["validation"]) == ["MINUS2", "NRUN"]


def test_validation_holdout_is_seeded_and_about_5_percent(chr22, tmp_path):
    intervals = [("1", 1000 * i, 1000 * i + 500) for i in range(400)]
    held = holdout_validation(intervals, 0.05, seed=0)
    assert len(held) == 20 and held == holdout_validation(intervals, 0.05, seed=0)
    assert held != holdout_validation(intervals, 0.05, seed=1)
    # overlapping transcripts stay together (pairs here): 20 held = 10 whole pairs
    pairs = [("1", 1000 * (i // 2) + (i % 2) * 100, 1000 * (i // 2) + 500) for i in range(400)]
    held = set(holdout_validation(pairs, 0.05, seed=2))
    assert len(held) == 20 and all((i ^ 1) in held for i in held)
    assert holdout_validation(intervals[:1], 0.05, 0) == [] and len(holdout_validation(intervals[:3], 0.05, 0)) == 1
    ref, table = chr22
    metas = [build_splice_dataset(ref, table, tmp_path / f"v{k}", train_regions=[TRAIN], test_regions=[TEST], seed=7)
             for k in range(2)]
    assert metas[0]["summary"] == metas[1]["summary"] and metas[0]["summary"]["validation"]["transcripts"] == 1
    v = [list(read_splice_dataset(tmp_path / f"v{k}").transcripts("validation")["name"]) for k in range(2)]
    assert v[0] == v[1] and v[0][0] in ("TRMT2A", "RANBP1", "CCDC188")


# ---------------------------------------------------------------------------- the command
def test_command_prints_the_summary(capsys, small, tmp_path):
    fa, table, _ = small
    out = tmp_path / "d"
    res = run_main(capsys, "splice-data", "-R", fa, "-A", table, "-o", out, "--test-chroms", "chr2", "--context", "80",
                   "--validation-fraction", "0", "-q")
    assert res.code == 0, res.err
    assert res.err == ""  # -q: no progress bar
    meta = json.loads((out / "dataset.json").read_text())
    lines = res.out.splitlines()
    assert lines[:-1] == summary_table(meta).splitlines()
    assert json.loads(lines[-1]) == meta["summary"] and meta["context"] == 80
    assert lines[0].split() == ["split", "transcripts", "blocks", "positions", "acceptors", "donors", "excluded"]
    assert lines[1].split()[:3] == ["train", "3", "3"]


def _cli_errors(fa, table, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text(HEADER + "G\t7\t+\t100\t900\t100,600,\t400,900,\n")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    base = ["splice-data", "-R", fa, "-A", table, "-o", tmp_path / "out", "-q"]
    return {
        "no gene on the reference": (["splice-data", "-R", fa, "-A", other, "-o", tmp_path / "out", "-q"],
                                     ["has no gene on the chromosomes", "other.txt"]),
        "test region without genes": ([*base, "--test-region", "chr1:1-20"], ["--test-region chr1:1-20", "no whole transcript"]),
        "empty training split": ([*base, "--train-chroms", "chr3", "--test-chroms", "chr20"], ["no training transcript", "chr3"]),
        "output not empty": ([*base[:-3], "-o", full, "--test-chroms", "chr20"], ["folder exists and is not empty", "--overwrite"]),
        "bad region syntax": ([*base, "--test-region", "chr1:abc"], ["--test-region 'chr1:abc'", "cannot parse region"]),
    }


@pytest.mark.parametrize("case", ["no gene on the reference", "test region without genes", "empty training split",
                                  "output not empty", "bad region syntax"])
def test_command_user_errors(capsys, small, tmp_path, case):
    fa, table, _ = small
    args, names = _cli_errors(fa, table, tmp_path)[case]
    assert_user_error(run_main(capsys, *args), *names)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name or ".old" in p.name] == []
    assert (tmp_path / "full" / "keep.txt").exists()


def test_force_replaces_and_a_failure_leaves_nothing(small, tmp_path, monkeypatch):
    fa, table, _ = small
    out = tmp_path / "d"
    out.mkdir()
    (out / "old.txt").write_text("old")
    meta = build_splice_dataset(fa, table, out, test_chroms=["chr20"], context=80, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "test.h5", "train.h5", "validation.h5"]
    assert meta["summary"]["validation"]["transcripts"] == 1
    import nucleoforge.splicing.dataset as mod

    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    real = mod.transcript_blocks
    monkeypatch.setattr(mod, "transcript_blocks", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        build_splice_dataset(fa, table, tmp_path / "new", test_chroms=["chr20"], context=80)
    with pytest.raises(RuntimeError, match="disk full"):
        calls.clear()
        build_splice_dataset(fa, table, out, test_chroms=["chr20"], context=100, force=True)
    assert not (tmp_path / "new").exists()
    assert json.loads((out / "dataset.json").read_text())["context"] == 80  # the old dataset is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
