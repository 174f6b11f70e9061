"""Transcription-factor motifs: JASPAR count matrices → log-odds PWMs → batched scanning.

**PWM convention.** A count matrix ``C`` (4 × w, rows A, C, G, T) becomes position
probabilities ``p[b, j] = (C[b, j] + π·q[b]) / (Σ_b C[b, j] + π)`` and log-odds scores
``log2(p[b, j] / q[b])`` where ``q`` is the background (uniform by default) and ``π`` the
total pseudocount per column. The default ``pseudocount="sqrt"`` is JASPAR's (and
Biopython's ``motifs.jaspar.calculate_pseudocounts``): ``π = √(mean column count)``. A
number gives a fixed ``π`` instead.

**Scanning.** :class:`MotifScanner` scores every window of every sequence on both strands
as a 1-D convolution (torch): the forward weights are the PWMs, the reverse-strand weights
their reverse complements (positions reversed, A↔T, C↔G). Motifs are bucketed by length so
that short motifs do not pay for the longest one. Windows containing a base other than
A/C/G/T (e.g. ``N``) are skipped, as Biopython does (it gives them NaN).

**Affinity per (sequence, motif)** — ``aggregation``:

* ``"max"`` (default, used by GeneBERT): best log-odds score over both strands and all
  positions.
* ``"logsumexp"``: ``log2 Σ 2^score`` over both strands and positions — a soft maximum that
  grows with the number of good sites (proportional to the log of total relative affinity).
* ``"count"``: number of windows (both strands) scoring at least the threshold of a
  per-motif p-value under the background (:func:`score_threshold`, exact up to the score
  discretisation).

A sequence with no scannable window for a motif (shorter than it, or all ``N``) gets the
lowest score that motif can give (``max``/``logsumexp``) or 0 (``count``).

>>> import numpy as np
>>> counts = np.array([[10, 0, 0], [0, 10, 0], [0, 0, 10], [0, 0, 0]], dtype=float)  # "ACG"
>>> pwm = log_odds_matrix(counts, pseudocount=0.0)
>>> scanner = MotifScanner([pwm])
>>> scanner.scan_sequences(["TTACGTT", "TTCGTTT", "TT"]).round(3).tolist()  # ACG, CGT = revcomp(ACG)
[[6.0], [6.0], [-inf]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nucleoforge.alphabet import encode_bytes, reverse_complement_one_hot
from nucleoforge.errors import NucleoforgeError

__all__ = [
    "Motif",
    "MotifScanner",
    "load_jaspar",
    "log_odds_matrix",
    "reverse_complement_matrix",
    "score_threshold",
    "AGGREGATIONS",
]

AGGREGATIONS = ("max", "logsumexp", "count")
_UNIFORM = (0.25, 0.25, 0.25, 0.25)
_BAD = -1e9  # score contribution of a non-ACGT position
_VALID = -1e8  # scores below this touched a non-ACGT position


@dataclass(frozen=True)
class Motif:
    """A motif's identity and its count matrix ``counts`` (4 × width, rows A, C, G, T)."""

    matrix_id: str
    name: str
    counts: np.ndarray = field(repr=False)

    @property
    def width(self) -> int:
        return int(self.counts.shape[1])


def load_jaspar(
    release: str = "JASPAR2018",
    collection: str = "CORE",
    tax_group: str | Sequence[str] | None = "vertebrates",
    all_versions: bool = False,
) -> list[Motif]:
    """Motifs from ``pyjaspar``'s offline JASPAR sqlite databases (no network access).

    The default — JASPAR2018 CORE vertebrates, latest version of each matrix — is what
    GeneBERT used (579 motifs). ``tax_group=None`` takes every taxonomic group.
    """
    try:
        from pyjaspar import jaspardb
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError("JASPAR motifs need the pyjaspar package: pip install 'nucleoforge[genebert]'") from exc
    db = jaspardb(release=release)
    groups = [tax_group] if isinstance(tax_group, str) else (list(tax_group) if tax_group else None)
    found = db.fetch_motifs(collection=collection, tax_group=groups, all_versions=all_versions)
    motifs = [
        Motif(m.matrix_id, m.name, np.array([m.counts[b] for b in "ACGT"], dtype=np.float64)) for m in found
    ]
    if not motifs:
        raise NucleoforgeError(f"{release} has no {collection} motifs for tax group {tax_group!r}")
    return motifs


def _background(background: Sequence[float] | None) -> np.ndarray:
    q = np.asarray(_UNIFORM if background is None else background, dtype=np.float64)
    if q.shape != (4,) or (q <= 0).any():
        raise NucleoforgeError(f"background must be 4 positive frequencies (A, C, G, T), got {background!r}")
    return q / q.sum()


def log_odds_matrix(
    counts: np.ndarray, background: Sequence[float] | None = None, pseudocount: float | str = "sqrt"
) -> np.ndarray:
    """Log2-odds PWM (4 × width) from a count matrix; see the module docstring for the formula.

    >>> log_odds_matrix(np.array([[3.], [1.], [0.], [0.]]), pseudocount=0.0).round(3).ravel().tolist()
    [1.585, 0.0, -inf, -inf]
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != 4 or c.shape[1] == 0:
        raise NucleoforgeError(f"counts must have shape (4, width>0), got {c.shape}")
    if (c < 0).any():
        raise NucleoforgeError("counts must be non-negative")
    q = _background(background)
    if pseudocount == "sqrt":
        pi = math.sqrt(c.sum() / c.shape[1])
    elif isinstance(pseudocount, str):
        raise NucleoforgeError(f"pseudocount must be a number or 'sqrt', got {pseudocount!r}")
    else:
        pi = float(pseudocount)
        if pi < 0:
            raise NucleoforgeError(f"pseudocount must be >= 0, got {pi}")
    p = (c + pi * q[:, None]) / (c.sum(axis=0, keepdims=True) + pi)
    with np.errstate(divide="ignore"):
        return np.log2(p / q[:, None])


def reverse_complement_matrix(pwm: np.ndarray) -> np.ndarray:
    """The PWM of the opposite strand: columns reversed, rows A↔T and C↔G swapped."""
    return reverse_complement_one_hot(np.asarray(pwm), base_axis=0, position_axis=1).copy()


def score_threshold(
    pwm: np.ndarray, pvalue: float, background: Sequence[float] | None = None, precision: int = 1000
) -> float:
    """Lowest achievable score ``s`` with ``P(score ≥ s) ≤ pvalue`` for a random window under ``background``.

    Exact dynamic programming over scores rounded to ``1/precision`` bits.

    >>> pwm = log_odds_matrix(np.eye(4)[:, :2] * 10, pseudocount=1.0)   # "AC"
    >>> round(score_threshold(pwm, 1 / 16), 3) == round(float(pwm[0, 0] + pwm[1, 1]), 3)
    True
    """
    if not 0 < pvalue <= 1:
        raise NucleoforgeError(f"pvalue must be in (0, 1], got {pvalue}")
    q = _background(background)
    w = np.asarray(pwm, dtype=np.float64)
    if not np.isfinite(w).all():
        raise NucleoforgeError("score_threshold needs a finite PWM (use a pseudocount > 0)")
    ints = np.round(w * precision).astype(np.int64)
    lo = ints.min(axis=0)
    dist = np.ones(1)
    offset = 0
    for j in range(w.shape[1]):
        col = np.zeros(int(ints[:, j].max() - lo[j]) + 1)
        np.add.at(col, ints[:, j] - lo[j], q)
        dist = np.convolve(dist, col)
        offset += int(lo[j])
    tail = np.cumsum(dist[::-1])[::-1]  # P(score >= offset + i)
    ok = np.nonzero((tail <= pvalue * (1 + 1e-9)) & (dist > 0))[0]  # achievable scores only
    index = int(ok[0]) if len(ok) else len(dist)
    return (offset + index) / precision


class MotifScanner:
    """Scores sequences against many PWMs on both strands with batched 1-D convolutions.

    Args:
        pwms: log-odds matrices (4 × width each, rows A, C, G, T).
        bucket_width: motifs are grouped by ``ceil(width / bucket_width)``; each group is one
            convolution padded to its longest member.
        device: torch device for the convolutions.
        thresholds: per-motif score thresholds, needed for ``aggregation="count"``.
    """

    def __init__(
        self,
        pwms: Sequence[np.ndarray],
        bucket_width: int = 4,
        device: str = "cpu",
        thresholds: Sequence[float] | None = None,
    ) -> None:
        import torch

        if not pwms:
            raise NucleoforgeError("MotifScanner needs at least one PWM")
        self.device = torch.device(device)
        mats = [np.asarray(p, dtype=np.float64) for p in pwms]
        for i, m in enumerate(mats):
            if m.ndim != 2 or m.shape[0] != 4 or m.shape[1] == 0:
                raise NucleoforgeError(f"PWM {i} must have shape (4, width>0), got {m.shape}")
        self.num_motifs = len(mats)
        self.widths = np.array([m.shape[1] for m in mats])
        # Lowest score each motif can reach: stands in for "no scannable window".
        self.min_scores = np.array([m.min(axis=0).sum() for m in mats])
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        if self.thresholds is not None and self.thresholds.shape != (self.num_motifs,):
            raise NucleoforgeError(f"thresholds must have one value per motif ({self.num_motifs}), got {self.thresholds.shape}")
        # Channel 4 flags a position that is not A/C/G/T (N, padding): every motif column
        # gives it _BAD, so any window touching one scores far below any real score and the
        # convolution alone both scores and masks.
        self._buckets = []
        keys = -(-self.widths // bucket_width)
        for key in np.unique(keys):
            idx = np.nonzero(keys == key)[0]
            width = int(self.widths[idx].max())
            weight = np.zeros((2 * len(idx), 5, width), dtype=np.float32)
            for row, i in enumerate(idx):
                w = mats[i].shape[1]
                # -inf (zero-probability letter without pseudocount) -> a large negative score.
                weight[row, :4, :w] = np.maximum(mats[i], -1e4)
                weight[len(idx) + row, :4, :w] = np.maximum(reverse_complement_matrix(mats[i]), -1e4)
                weight[[row, len(idx) + row], 4, :w] = _BAD
            self._buckets.append((torch.as_tensor(idx, device=self.device), torch.as_tensor(weight, device=self.device)))

    def encode(self, sequences: Sequence[str]):  # -> (B, 5, L) float32 tensor
        """Right-padded one-hot ``(B, 5, L)``: channels A, C, G, T and "not ACGT" (N, padding)."""
        import torch

        length = max((len(s) for s in sequences), default=0)
        codes = np.full((len(sequences), length), 4, dtype=np.int64)
        for i, s in enumerate(sequences):
            codes[i, : len(s)] = encode_bytes(s)
        codes_t = torch.as_tensor(codes, device=self.device)
        return torch.nn.functional.one_hot(codes_t, 5).transpose(1, 2).to(torch.float32)

    def scan(self, one_hot, aggregation: str = "max"):
        """Affinities ``(B, num_motifs)`` (float32 tensor, ``-inf`` = no valid window) from :meth:`encode`."""
        import torch
        import torch.nn.functional as F

        if aggregation not in AGGREGATIONS:
            raise NucleoforgeError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        if aggregation == "count" and self.thresholds is None:
            raise NucleoforgeError("aggregation='count' needs per-motif thresholds (see score_threshold)")
        batch = one_hot.shape[0]
        out = torch.empty(batch, self.num_motifs, device=one_hot.device)
        for idx, weight in self._buckets:
            m, width = len(idx), weight.shape[-1]
            x = F.pad(one_hot, (0, width - 1))
            if width > 1:
                x[:, 4, -(width - 1) :] = 1.0  # the padding is "not ACGT" too
            scores = F.conv1d(x, weight).view(batch, 2, m, -1)  # (B, strand, motif, position)
            if aggregation == "max":
                best = scores.amax(dim=(1, 3))
                out[:, idx] = best.masked_fill(best < _VALID, float("-inf"))
            elif aggregation == "logsumexp":
                both = scores.transpose(1, 2).reshape(batch, m, -1)
                out[:, idx] = torch.logsumexp(both * math.log(2), -1) / math.log(2)
            else:
                thr = torch.as_tensor(self.thresholds[idx.cpu().numpy()], dtype=scores.dtype, device=scores.device)
                out[:, idx] = (scores >= thr[None, None, :, None] - 1e-4).sum(dim=(1, 3)).to(torch.float32)
        return out

    def scan_sequences(
        self, sequences: Sequence[str], aggregation: str = "max", batch_size: int = 64, fill_missing: bool = False
    ) -> np.ndarray:
        """Affinities ``(len(sequences), num_motifs)`` as float32 NumPy.

        ``fill_missing=True`` replaces the ``-inf`` of sequences without any scannable window
        by the motif's lowest possible score (see the module docstring).
        """
        import torch

        result = np.empty((len(sequences), self.num_motifs), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(sequences), batch_size):
                chunk = sequences[start : start + batch_size]
                result[start : start + len(chunk)] = self.scan(self.encode(chunk), aggregation).cpu().numpy()
        if fill_missing and aggregation != "count":
            missing = ~np.isfinite(result)
            if missing.any():
                result[missing] = np.broadcast_to(self.min_scores.astype(np.float32), result.shape)[missing]
        return result
