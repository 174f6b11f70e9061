"""Rows of ids (or labels) padded into one batch, and the label value that carries no loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nucleoforge.errors import NucleoforgeError

#: Label of a position that carries no loss (padding, unmasked tokens): PyTorch's ``ignore_index``.
IGNORE_INDEX = -100


def pad_batch(
    rows: Sequence[Any],
    value: Any,
    *,
    width: int | None = None,
    pad_to_multiple_of: int | None = None,
    side: str = "right",
    dtype: Any = np.int64,
) -> tuple[np.ndarray, np.ndarray]:
    """Pad 1-D ``rows`` (ids, labels…) with ``value`` into one ``(B, W)`` array; returns it and
    its attention mask (int64, 1 on the rows' own entries).

    ``W`` is the longest row (or ``width``), rounded up to a multiple of ``pad_to_multiple_of``;
    ``side="left"`` aligns the rows to the right.

    >>> ids, mask = pad_batch([[5, 6, 7], [8]], 0, side="left")
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [0, 0, 8]], [[1, 1, 1], [0, 0, 1]])
    """
    if len(rows) == 0:
        raise NucleoforgeError("cannot collate an empty batch")
    arrays = [np.asarray(r, dtype=dtype).reshape(-1) for r in rows]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    out, inside, _ = scatter_rows(np.concatenate(arrays), lengths, value, width, pad_to_multiple_of, side, dtype)
    return out, inside.astype(np.int64)


def scatter_rows(
    flat: np.ndarray, lengths: np.ndarray, value: Any, width: int | None, pad_to_multiple_of: int | None,
    side: str, dtype: Any, margin: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows ``flat`` holds one after another, padded (see :func:`pad_batch`); ``lengths`` are
    the padded rows' lengths, of which ``margin`` entries at either end are not in ``flat`` but left
    for the caller to fill (the tokenizer's [CLS]/[SEP]). Returns the array and, as booleans, the
    rows' extent and the part written from ``flat``."""
    if side not in ("right", "left"):
        raise NucleoforgeError(f"padding side must be 'right' or 'left', got {side!r}")
    longest = int(lengths.max()) if len(lengths) else 0
    width = longest if width is None else int(width)
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    if width < longest:
        raise NucleoforgeError(f"a row of {longest} entries does not fit a padded width of {width}")
    columns = np.arange(width)[None, :]
    start = np.zeros((len(lengths), 1), dtype=np.int64) if side == "right" else (width - lengths)[:, None]
    end = start + lengths[:, None]
    inside = (columns >= start) & (columns < end)
    written = (columns >= start + margin) & (columns < end - margin) if margin else inside
    out = np.full((len(lengths), width), value, dtype=dtype)
    out[written] = flat  # row-major order = row order, for either side
    return out, inside, written
