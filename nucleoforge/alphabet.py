"""Nucleotide alphabets, complements and one-hot encoding.

>>> reverse_complement("AACGTN")
'NACGTT'
>>> reverse_complement("ACGU", rna=True)
'ACGU'
>>> one_hot("ACGTN").astype(int).tolist()
[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
>>> reverse_complement_one_hot(one_hot("AAC")).astype(int).tolist()  # = one_hot("GTT")
[[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
>>> check_nucleotides("ACXT", "s1")
Traceback (most recent call last):
...
nucleoforge.errors.NucleoforgeError: sequence 's1', position 3: invalid character 'X' (expected A, C, G, T/U or an IUPAC ambiguity code)
"""

from __future__ import annotations

import numpy as np

from nucleoforge.errors import NucleoforgeError

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


def reverse_complement_one_hot(x: np.ndarray, base_axis: int = -1, position_axis: int = -2) -> np.ndarray:
    """The opposite strand of a one-hot array (or PWM, or any per-base profile) whose ``base_axis``
    holds A, C, G, T in that order: positions reversed and A<->T, C<->G swapped (complementary
    bases are mirrored channels). Returns a view; works on batches ``(B, L, 4)`` too."""
    return np.flip(x, axis=(position_axis, base_axis))


# Byte -> is a nucleotide letter (A C G T U and the IUPAC ambiguity codes, either case).
_IS_LETTER = np.zeros(256, dtype=bool)
for _c in NUCLEOTIDE_LETTERS + NUCLEOTIDE_LETTERS.lower():
    _IS_LETTER[ord(_c)] = True


def invalid_character(char: str, position: int, sequence: str | int | None = None, hint: str = "") -> NucleoforgeError:
    """The one error for a character that is not a nucleotide letter.

    ``position`` is 0-based; the message counts from 1. ``sequence`` names the sequence (a name
    is quoted, a batch index is not, ``None`` leaves it out); ``hint`` is appended after ``;``.
    """
    where = "" if sequence is None else f"sequence {sequence!r}, " if isinstance(sequence, str) else f"sequence {sequence}, "
    message = f"{where}position {position + 1}: invalid character {char!r} (expected A, C, G, T/U or an IUPAC ambiguity code)"
    return NucleoforgeError(f"{message}; {hint}" if hint else message)


def check_nucleotides(
    seq: str, sequence: str | int | None = None, offset: int = 0, ignore: np.ndarray | None = None
) -> None:
    """Raise :func:`invalid_character` for the first character of ``seq`` that is not a nucleotide
    letter (A, C, G, T/U, IUPAC codes; any case). ``offset`` is added to reported positions (for a
    piece of a longer sequence); positions where the boolean array ``ignore`` is true are skipped."""
    bad = ~_IS_LETTER[np.frombuffer(seq.encode("latin-1", "replace"), dtype=np.uint8)]
    if ignore is not None:
        bad &= ~np.asarray(ignore, dtype=bool)
    if bad.any():
        i = int(np.argmax(bad))
        raise invalid_character(seq[i], offset + i, sequence)


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
