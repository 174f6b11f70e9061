"""Overlapping windows for sequences longer than a model's positions, and stitching back.

A sequence of ``length`` nucleotides is cut into windows of ``size`` nucleotides whose
starts are ``stride`` apart; the last window is moved left so that it ends at the sequence
end. Each nucleotide is then taken from the window in which it lies **most centrally**: two
neighbouring windows overlap on ``[start_next, end_prev)`` and the cut is the midpoint of
that overlap, so every kept position is at least ``(size - stride) // 2`` nucleotides away
from a window edge that is not a sequence end. Outputs computed per window are put back
together per nucleotide with :func:`stitch`.

>>> [tuple(w) for w in plan_windows(10, size=4, stride=3)]
[(0, 4, 0, 3), (3, 7, 3, 6), (6, 10, 6, 10)]
>>> [tuple(w) for w in plan_windows(3, size=4, stride=2)]
[(0, 3, 0, 3)]
>>> import numpy as np
>>> x = np.arange(10)
>>> ws = plan_windows(10, size=6, stride=2)
>>> stitch([x[w.start : w.end] for w in ws], ws).tolist() == x.tolist()
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nucleoforge.errors import NucleoforgeError

__all__ = ["Window", "plan_windows", "stitch"]


class Window(NamedTuple):
    """``[start, end)`` is what the model sees; ``[keep_start, keep_end)`` what it reports
    (absolute nucleotide coordinates of the whole sequence)."""

    start: int
    end: int
    keep_start: int
    keep_end: int


def plan_windows(length: int, size: int, stride: int | None = None) -> list[Window]:
    """Windows covering ``length`` nucleotides; ``stride`` defaults to ``size // 2``.

    A sequence that fits (``length <= size``) is one window. ``stride`` must be in
    ``1..size`` (a stride equal to ``size`` gives adjacent windows without overlap).
    """
    if size < 1:
        raise NucleoforgeError(f"window size must be >= 1, got {size}")
    if stride is None:
        stride = max(size // 2, 1)
    if not 1 <= stride <= size:
        raise NucleoforgeError(f"stride must be between 1 and the window size {size}, got {stride}")
    if length <= size:
        return [Window(0, length, 0, length)]
    starts = list(range(0, length - size, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    cuts = [0] + [(nxt + prev + size) // 2 for prev, nxt in zip(starts, starts[1:])] + [length]
    return [Window(s, s + size, cuts[i], cuts[i + 1]) for i, s in enumerate(starts)]


def stitch(pieces: Sequence[np.ndarray], windows: Sequence[Window]) -> np.ndarray:
    """Concatenate the kept part of each window's per-nucleotide output (axis 0)."""
    if len(pieces) != len(windows):
        raise NucleoforgeError(f"{len(pieces)} window outputs for {len(windows)} windows")
    parts = []
    for piece, w in zip(pieces, windows):
        if piece.shape[0] != w.end - w.start:
            raise NucleoforgeError(f"window {w.start}-{w.end} output has {piece.shape[0]} positions, expected {w.end - w.start}")
        parts.append(piece[w.keep_start - w.start : w.keep_end - w.start])
    return np.concatenate(parts, axis=0)
