"""GeneBERT region modality: JASPAR PWMs, both-strand scanning, grouping, BED input, datasets."""

from __future__ import annotations

import gzip
import itertools
import json

import numpy as np
import pytest

from nucleoforge.alphabet import reverse_complement
from nucleoforge.io.bed import read_bed
from nucleoforge.io.fasta import read_fasta
from nucleoforge.regions.motifs import (
    MotifScanner,
    load_jaspar,
    log_odds_matrix,
    reverse_complement_matrix,
    score_threshold,
)
from nucleoforge.regions.datasets import (
    Region,
    build_region_dataset,
    group_regions,
    load_region_dataset,
    regions_from_bed,
    regions_from_fasta,
)
from tests.conftest import DATA

# Arnt, CTCF, POU5F1::SOX2 (Oct4-Sox2), MAFK, a long motif and a 6-mer
IDS = ("MA0004.1", "MA0139.1", "MA0142.1", "MA0496.2", "MA0138.2", "MA0597.1")


@pytest.fixture(scope="module")
def jaspar():
    return load_jaspar("JASPAR2018", "CORE", "vertebrates")


@pytest.fixture(scope="module")
def few(jaspar):
    by_id = {m.matrix_id: m for m in jaspar}
    return [by_id[i] for i in IDS if i in by_id]


@pytest.fixture(scope="module")
def peaks() -> list[str]:
    return [r.sequence.upper() for r in itertools.islice(read_fasta(DATA / "oct4_peaks_test.fa"), 12)]


def _numpy_scores(seq: str, pwm: np.ndarray) -> np.ndarray:
    """Every window's log-odds score on the given strand, by direct summation."""
    idx = {"A": 0, "C": 1, "G": 2, "T": 3}
    w = pwm.shape[1]
    return np.array([sum(pwm[idx[seq[p + j]], j] for j in range(w)) for p in range(len(seq) - w + 1)])


def test_jaspar2018_vertebrates(jaspar, few) -> None:
    assert len(jaspar) == 579  # JASPAR2018 CORE vertebrates, latest versions (GeneBERT's motif set)
    assert len(few) == len(IDS)
    arnt = few[0]
    assert arnt.name == "Arnt" and arnt.counts.shape == (4, 6)
    assert arnt.counts[:, 0].tolist() == [4.0, 16.0, 0.0, 0.0]


def test_log_odds_formula(few) -> None:
    c = few[0].counts
    pwm = log_odds_matrix(c)  # pseudocount sqrt(mean column count) split over a uniform background
    pi = np.sqrt(c.sum() / c.shape[1])
    expected = np.log2((c + pi / 4) / (c.sum(0) + pi) / 0.25)
    np.testing.assert_allclose(pwm, expected, rtol=1e-12)
    gc = log_odds_matrix(c, background=(0.3, 0.2, 0.2, 0.3), pseudocount=1.0)
    q = np.array([0.3, 0.2, 0.2, 0.3])[:, None]
    np.testing.assert_allclose(gc, np.log2((c + q) / (c.sum(0) + 1.0) / q), rtol=1e-12)
    with pytest.raises(ValueError, match="background"):
        log_odds_matrix(c, background=(1, 1, 1))


def test_scan_equals_numpy_on_both_strands(few, peaks) -> None:
    pwms = [log_odds_matrix(m.counts) for m in few]
    scanner = MotifScanner(pwms, bucket_width=4)
    got = scanner.scan_sequences(peaks, batch_size=5)
    for i, seq in enumerate(peaks):
        for j, pwm in enumerate(pwms):
            fwd = _numpy_scores(seq, pwm).max()
            rev = _numpy_scores(reverse_complement(seq), pwm).max()
            assert got[i, j] == pytest.approx(max(fwd, rev), abs=1e-4)
            # the reverse-complement matrix on the forward strand scores the reverse strand
            assert _numpy_scores(seq, reverse_complement_matrix(pwm)).max() == pytest.approx(rev, abs=1e-9)


def test_both_strands_are_scanned(few) -> None:
    pwm = log_odds_matrix(few[2].counts)  # Pou5f1::Sox2, not palindromic (MAFK and Arnt are)
    best = "".join("ACGT"[k] for k in pwm.argmax(0))
    flank = "T" * 30
    scanner = MotifScanner([pwm])
    fwd, rev = scanner.scan_sequences([flank + best + flank, flank + reverse_complement(best) + flank])[:, 0]
    top = pwm.max(0).sum()
    assert fwd == pytest.approx(top, abs=1e-4) and rev == pytest.approx(top, abs=1e-4)
    # a forward-only scan would miss the reverse-strand site
    assert _numpy_scores(flank + reverse_complement(best) + flank, pwm).max() < top - 1


def test_matches_biopython(few, peaks) -> None:
    from Bio import motifs as bio_motifs
    from pyjaspar import jaspardb

    db = jaspardb(release="JASPAR2018")
    scanner = MotifScanner([log_odds_matrix(m.counts) for m in few])
    ours = scanner.scan_sequences(peaks[:4])
    for j, m in enumerate(few):
        bio = db.fetch_motif_by_id(m.matrix_id)
        pssm = bio.counts.normalize(pseudocounts=bio_motifs.jaspar.calculate_pseudocounts(bio)).log_odds()
        for i, seq in enumerate(peaks[:4]):
            expected = max(pssm.calculate(seq).max(), pssm.reverse_complement().calculate(seq).max())
            assert ours[i, j] == pytest.approx(expected, abs=1e-4)


def test_windows_with_n_are_skipped_and_aggregations(few) -> None:
    pwm = log_odds_matrix(few[0].counts)
    scanner = MotifScanner([pwm], thresholds=[score_threshold(pwm, 1e-3)])
    seq = "ACGTGCCACGTGNNTTTT"
    valid = [p for p in range(len(seq) - 5) if "N" not in seq[p : p + 6]]
    fwd = _numpy_scores(seq.replace("N", "A"), pwm)[valid]
    rev_seq = reverse_complement(seq)
    rev = _numpy_scores(rev_seq.replace("N", "A"), pwm)[[p for p in range(len(seq) - 5) if "N" not in rev_seq[p : p + 6]]]
    both = np.concatenate([fwd, rev])
    assert scanner.scan_sequences([seq])[0, 0] == pytest.approx(both.max(), abs=1e-4)
    lse = scanner.scan_sequences([seq], aggregation="logsumexp")[0, 0]
    assert lse == pytest.approx(np.log2(np.sum(2.0**both)), abs=1e-4)
    count = scanner.scan_sequences([seq], aggregation="count")[0, 0]
    assert count == int((both >= scanner.thresholds[0] - 1e-4).sum()) and count >= 1
    assert scanner.scan_sequences(["NNNNNNNNNN"])[0, 0] == -np.inf
    assert scanner.scan_sequences(["NNNNNNNNNN"], fill_missing=True)[0, 0] == pytest.approx(pwm.min(0).sum(), abs=1e-4)


def test_score_threshold_is_exact_for_a_small_motif() -> None:
    pwm = log_odds_matrix(np.array([[8, 0, 1], [0, 6, 1], [1, 2, 6], [1, 2, 2]], float), pseudocount=1.0)
    scores = np.array([sum(pwm[b, j] for j, b in enumerate(w)) for w in itertools.product(range(4), repeat=3)])
    for p in (1 / 64, 0.05, 0.2):
        thr = score_threshold(pwm, p)
        assert (scores >= thr - 1e-3).mean() <= p + 1e-12
        assert (scores >= scores[scores < thr - 1e-3].max() - 1e-9).mean() > p  # the next lower score fails


def test_grouping_respects_chromosomes_and_conditions() -> None:
    regions = []
    for cond in ("b", "a"):
        for chrom, n in (("chr10", 5), ("chr2", 3), ("chrX", 4)):
            for i in range(n):
                regions.append(Region(chrom, 1000 * (n - i), 1000 * (n - i) + 10, cond, "ACGTACGTAC"))
    groups = group_regions(regions, 2)
    for g in groups:
        assert len({r.chrom for r in g}) == 1 and len({r.condition for r in g}) == 1
        assert [r.start for r in g] == sorted(r.start for r in g)
    # per condition: chr2 (3 regions -> 1 group), chr10 (5 -> 2), chrX (4 -> 2); natural chromosome order
    assert [(g[0].condition, g[0].chrom) for g in groups[:5]] == [("a", "chr2"), ("a", "chr10"), ("a", "chr10"), ("a", "chrX"), ("a", "chrX")]
    assert len(groups) == 10
    with pytest.raises(ValueError, match="group_size"):
        group_regions(regions, 0)


def test_fasta_headers_and_errors(tmp_path) -> None:
    regions = list(regions_from_fasta(DATA / "mafk_peaks_test.fa", "mafk"))
    assert len(regions) == 100 and all(r.end - r.start == len(r.sequence) == 200 for r in regions)
    bad = tmp_path / "bad.fa"
    bad.write_text(">peak1\nACGT\n")
    with pytest.raises(ValueError, match=r"bad.fa:1: header 'peak1' does not start with chrom:start-end"):
        list(regions_from_fasta(bad, "x"))
    bad.write_text(">chr1:10-20\nACGT\n")
    with pytest.raises(ValueError, match="spans 10 bp but its sequence has 4"):
        list(regions_from_fasta(bad, "x"))


def test_bed_with_reference_and_condition_column(tmp_path, chr22_block) -> None:
    ref = tmp_path / "ref.fa"
    ref.write_text(">22\n" + chr22_block[:20_000] + "\n")
    bed = tmp_path / "peaks.bed.gz"
    with gzip.open(bed, "wt") as fh:
        fh.write("track name=x\n22\t100\t300\tp1\t0\t+\tHepG2\n22\t5000\t5200\tp2\t0\t-\tK562\n")
    regions = list(regions_from_bed(bed, ref, condition_column=7))
    assert [(r.condition, r.sequence) for r in regions] == [("HepG2", chr22_block[100:300]), ("K562", chr22_block[5000:5200])]
    bed.write_bytes(gzip.compress(b"22\t100\t30000\n"))
    with pytest.raises(ValueError, match=r"peaks.bed.gz:1: end 30000 is past the end of 22"):
        list(regions_from_bed(bed, ref))
    with pytest.raises(ValueError, match=r":2: invalid interval"):
        list(read_bed(__import__("io").StringIO("chr1 1 5\nchr1 9 3\n")))


def test_build_dataset_round_trip(tmp_path, few) -> None:
    regions = list(itertools.chain(
        regions_from_fasta(DATA / "oct4_peaks_test.fa", "oct4"), regions_from_fasta(DATA / "mafk_peaks_test.fa", "mafk")
    ))  # fmt: skip
    meta = build_region_dataset(regions, few, tmp_path / "ds", group_size=4, shard_size=10)
    groups = group_regions(regions, 4)
    assert meta["num_samples"] == len(groups) and len(meta["shards"]) == -(-len(groups) // 10)
    assert meta["motif_ids"] == list(IDS) and meta["max_region_length"] == 200
    assert json.loads((tmp_path / "ds" / "genebert_regions.json").read_text())["group_size"] == 4
    ds = load_region_dataset(tmp_path / "ds")
    assert len(ds) == len(groups)
    row = ds[7]
    g = groups[7]
    assert row["sequence"] == "".join(r.sequence for r in g) and row["starts"] == [r.start for r in g]
    scanner = MotifScanner([log_odds_matrix(m.counts) for m in few])
    np.testing.assert_allclose(np.array(row["affinity"]), scanner.scan_sequences([r.sequence for r in g]), atol=1e-5)
    stream = load_region_dataset(tmp_path / "ds", streaming=True)
    assert next(iter(stream))["sample_id"] == 0
    all_aff = np.concatenate([np.array(a) for a in ds["affinity"]])
    np.testing.assert_allclose(meta["affinity_mean"], all_aff.mean(0), atol=1e-4)


def test_cli_build_regions(tmp_path) -> None:
    from tests.cli.runner import assert_user_error, invoke

    result = invoke([
        "genebert", "build-regions", "--sequences", DATA / "oct4_peaks_test.fa", "--sequences",
        DATA / "mafk_peaks_test.fa", "--motifs", "JASPAR2018", "--group-size", "4", "--output", tmp_path / "out",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "out" / "genebert_regions.json").read_text())
    regions = itertools.chain(regions_from_fasta(DATA / "oct4_peaks_test.fa", "oct4"), regions_from_fasta(DATA / "mafk_peaks_test.fa", "mafk"))
    expected: dict[str, int] = {}
    for g in group_regions(regions, 4):
        expected[g[0].condition] = expected.get(g[0].condition, 0) + 1
    assert meta["conditions"] == expected and set(expected) == {"oct4", "mafk"}
    assert len(meta["motif_ids"]) == 579 and meta["source"]["conditions"] == ["oct4", "mafk"]
    ds = load_region_dataset(tmp_path / "out")
    assert np.array(ds[0]["affinity"]).shape == (4, 579)
    bad = invoke(["genebert", "build-regions", "--output", tmp_path / "x"])
    assert assert_user_error(bad) == ("error: Invalid value: give either --peaks (with --reference) or one or more "
                                      "--sequences (see 'nucleoforge genebert build-regions --help')")


def test_scan_crop_scans_exactly_the_bases_the_sequence_encoder_reads(tmp_path, few) -> None:
    """Defect 2: with scan_crop the affinities are those of the stored (cropped) sequence, which is
    what the pretraining collator tokenizes; coordinates follow the crop."""
    from nucleoforge.regions.datasets import central_crop

    regions = list(regions_from_fasta(DATA / "oct4_peaks_test.fa", "oct4"))
    meta = build_region_dataset(regions, few, tmp_path / "ds", group_size=4, shard_size=10, scan_crop=50)
    assert meta["scan_crop"] == 50 and meta["max_region_length"] == 50
    row = load_region_dataset(tmp_path / "ds")[3]
    full = group_regions(regions, 4)[3]
    assert row["region_lengths"] == [50] * 4
    assert row["sequence"] == "".join(central_crop(r.sequence, 50) for r in full)
    assert row["starts"] == [r.start + (len(r.sequence) - 50) // 2 for r in full]
    assert [e - s for s, e in zip(row["starts"], row["ends"])] == [50] * 4
    scanner = MotifScanner([log_odds_matrix(m.counts) for m in few])
    crops = [row["sequence"][i * 50 : (i + 1) * 50] for i in range(4)]
    np.testing.assert_allclose(np.array(row["affinity"]), scanner.scan_sequences(crops), atol=1e-5)
    whole = scanner.scan_sequences([r.sequence for r in full])
    assert np.abs(np.array(row["affinity"]) - whole).max() > 0.1  # the whole-region scan differs


def test_max_gap_groups_only_genomic_neighbours() -> None:
    from nucleoforge.regions.datasets import Region

    def region(start):
        return Region("chr1", start, start + 10, "a", "A" * 10)

    regions = [region(s) for s in (0, 20, 40, 1_000, 1_020, 1_040, 5_000, 5_030)]
    assert [[r.start for r in g] for g in group_regions(regions, 3)] == [[0, 20, 40], [1000, 1020, 1040]]
    assert [[r.start for r in g] for g in group_regions(regions, 2, max_gap=100)] == [[0, 20], [1000, 1020], [5000, 5030]]
    assert group_regions(regions, 3, max_gap=5) == []
    with pytest.raises(ValueError, match="max_gap must be >= 0"):
        group_regions(regions, 2, max_gap=-1)
