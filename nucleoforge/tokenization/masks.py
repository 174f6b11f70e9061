"""Masks written inside a sequence (``<mask>``, ``[MASK]``): each stands for one nucleotide.

Inside nucleoforge a written mask is read once into a one-character placeholder
(:data:`MASK_CHAR`) that is no nucleotide letter, so lengths and positions count it as one.
"""

from __future__ import annotations

import re

import numpy as np

_MASK_PATTERN = re.compile(r"<mask>|\[MASK\]")
MASK_CHAR = "\x01"  # internal stand-in for one masked nucleotide


def mark_masks(sequence: str) -> str:
    """``sequence`` with every written ``<mask>``/``[MASK]`` replaced by the one-character placeholder."""
    return _MASK_PATTERN.sub(MASK_CHAR, sequence) if "<" in sequence or "[" in sequence else sequence


def parse_masks(sequence: str) -> tuple[str, np.ndarray]:
    """Read the written masks of ``sequence`` once: its nucleotide string and a boolean mask array.

    Each ``<mask>``/``[MASK]`` is one nucleotide position. In the returned string it is a
    placeholder that is no nucleotide letter (base codes read it as unknown, the tokenizer as a
    mask); pass the mask array on (``encode_sequences(..., masks=)``) rather than the text.

    >>> plain, masked = parse_masks("AC<mask>G[MASK]")
    >>> len(plain), np.flatnonzero(masked).tolist()
    (5, [2, 4])
    """
    plain = mark_masks(sequence)
    return plain, np.frombuffer(plain.encode("latin-1", "replace"), dtype=np.uint8) == ord(MASK_CHAR)


def truncate_sequence(seq: str, nucleotides: int) -> str:
    """Keep the first ``nucleotides`` positions; a written mask counts as one position."""
    if "<" not in seq and "[" not in seq:
        return seq[:nucleotides]
    return mark_masks(seq)[:nucleotides].replace(MASK_CHAR, "[MASK]")


def nucleotide_length(sequence: str) -> int:
    """Number of nucleotide positions in ``sequence`` (a written ``<mask>``/``[MASK]`` counts once).

    >>> nucleotide_length("AC<mask>G")
    4
    """
    return len(mark_masks(sequence))
