"""Dinucleotide shuffle: exact doublet counts, uniformity over all valid sequences, real peaks."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from nucleoforge.io.fasta import read_fasta
from nucleoforge.shuffle import dinucleotide_counts, dinucleotide_shuffle, dinucleotide_shuffles
from tests.conftest import DATA


def test_counts_and_ends_preserved_on_real_peaks() -> None:
    peaks = [r.sequence for r in itertools.islice(read_fasta(DATA / "oct4_peaks_test.fa"), 50)]
    shuffled = list(dinucleotide_shuffles(peaks, seed=7))
    changed = 0
    for s, t in zip(peaks, shuffled):
        assert len(t) == len(s)
        assert dinucleotide_counts(t) == dinucleotide_counts(s)
        assert Counter(t) == Counter(s)
        assert (t[0], t[-1]) == (s[0], s[-1])
        changed += t != s
    assert changed == 50  # 200-bp peaks: a shuffle equal to the input is astronomically unlikely


def test_seeded_and_mixed_alphabet() -> None:
    s = "ACGTNNACGTacgtAAAACCCCGGGGTTTT"
    assert dinucleotide_shuffle(s, seed=3) == dinucleotide_shuffle(s, seed=3)
    t = dinucleotide_shuffle(s, seed=4)
    assert dinucleotide_counts(t) == dinucleotide_counts(s)
    assert [dinucleotide_shuffle(x, seed=0) for x in ("", "A", "AC")] == ["", "A", "AC"]


def _all_with_same_doublets(s: str) -> set[str]:
    target = dinucleotide_counts(s)
    return {"".join(p) for p in set(itertools.permutations(s)) if dinucleotide_counts("".join(p)) == target}


def test_uniform_over_all_sequences_with_the_same_doublets() -> None:
    # Altschul-Erickson: every sequence with the same first letter and doublet counts is equally likely.
    s = "AACAGCAATGA"[:9]  # 9 letters: small enough to enumerate all permutations
    valid = _all_with_same_doublets(s)
    valid = {v for v in valid if v[0] == s[0]}
    assert len(valid) >= 4
    rng = np.random.default_rng(123)
    n = 6000
    counts = Counter(dinucleotide_shuffle(s, rng=rng) for _ in range(n))
    assert set(counts) == valid  # never anything else, and every valid sequence appears
    expected = n / len(valid)
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    # chi-square with len(valid)-1 dof; 99.9 % quantile for up to ~30 dof is < 60
    assert chi2 < 60, (chi2, len(valid))


def test_copies_validation() -> None:
    with pytest.raises(ValueError, match="copies"):
        list(dinucleotide_shuffles(["ACGT"], copies=0))
