"""Shared test set-up: offline hub, small real sequences from the bundled data."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"
CHR22 = DATA / "GRCh37_chr22_20000001-21000000.fa.gz"


@pytest.fixture(scope="session")
def chr22_block() -> str:
    """The bundled 1 Mb of GRCh37 chr22 (base 0 = chr22:20,000,001)."""
    from nucleoforge.io.fasta import read_fasta

    return next(read_fasta(CHR22)).sequence


@pytest.fixture(scope="session")
def real_sequences(chr22_block: str) -> list[str]:
    """A few real chr22 sequences of different lengths without N (for model tests)."""
    starts = [5_000, 40_000, 123_456, 300_000, 777_777]
    lengths = [60, 23, 45, 31, 52]
    seqs = [chr22_block[s : s + n] for s, n in zip(starts, lengths)]
    assert all("N" not in s for s in seqs)
    return seqs
