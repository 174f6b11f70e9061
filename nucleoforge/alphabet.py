"""Nucleotide alphabets, complements and one-hot encoding.

>>> reverse_complement("AACGTN")
'NACGTT'
>>> reverse_complement("ACGU", rna=True)
'ACGU'
>>> one_hot("ACGTN").astype(int).tolist()
[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
"""

from __future__ import annotations

import numpy as np

DNA = "ACGT"
RNA = "ACGU"
#: IUPAC ambiguity codes (N included), upper case.
IUPAC_AMBIGUOUS = "NRYSWKMBDHV"
#: Every letter accepted as a nucleotide: A C G T U and the IUPAC ambiguity codes.
NUCLEOTIDE_LETTERS = "ACGTU" + IUPAC_AMBIGUOUS

_COMPLEMENT_DNA = str.maketrans(
    "ACGTURYSWKMBDHVNacgturyswkmbdhvn", "TGCAAYRSWMKVHDBNtgcaayrswmkvhdbn"
)
_COMPLEMENT_RNA = str.maketrans(
    "ACGTURYSWKMBDHVNacgturyswkmbdhvn", "UGCAAYRSWMKVHDBNugcaayrswmkvhdbn"
)


def complement(seq: str, rna: bool = False) -> str:
    """Complement of ``seq`` (IUPAC aware, case kept); ``rna=True`` writes U for A."""
    return seq.translate(_COMPLEMENT_RNA if rna else _COMPLEMENT_DNA)


def reverse_complement(seq: str, rna: bool = False) -> str:
    """Reverse complement of ``seq`` (IUPAC aware, case kept)."""
    return complement(seq, rna)[::-1]


# Byte -> channel lookup for one-hot encoding: A,C,G,T/U -> 0..3, anything else -> 4 (zeros).
_ONE_HOT_INDEX = np.full(256, 4, dtype=np.int64)
for _i, _letters in enumerate(("Aa", "Cc", "Gg", "TtUu")):
    for _c in _letters:
        _ONE_HOT_INDEX[ord(_c)] = _i
_ONE_HOT_TABLE = np.concatenate([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])


def encode_bytes(seq: str | bytes) -> np.ndarray:
    """Channel index per base (A,C,G,T/U -> 0..3, anything else -> 4), vectorised."""
    raw = seq.encode("ascii", "replace") if isinstance(seq, str) else seq
    return _ONE_HOT_INDEX[np.frombuffer(raw, dtype=np.uint8)]


def one_hot(seq: str | bytes, dtype: type = np.float32) -> np.ndarray:
    """One-hot encode ``seq`` as ``(L, 4)`` in A, C, G, T order; U counts as T.

    N and every other IUPAC ambiguity letter are all-zero rows (SpliceAI's convention
    for N; the original SpliceAI maps R/Y/K/... through ``% 5`` onto real bases, we
    deliberately encode them as unknown).
    """
    return _ONE_HOT_TABLE[encode_bytes(seq)].astype(dtype, copy=False)
