"""The model half of :class:`~nucleoforge.splicing.scoring.VariantScorer`: windows through the
family's model (batched, reverse-complemented on ``-``), the substitution cones, the activation
memory cap and the progress count."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nucleoforge.alphabet import one_hot, reverse_complement_one_hot
from nucleoforge.errors import NucleoforgeError

__all__ = ["ModelRuns"]


class ModelRuns:
    """Model calls of the scorer (it needs the scorer's ``family``, ``batch_size``, ``wid``,
    ``cov``, ``distance``, ``activation_memory`` and its counters)."""

    family: Any
    batch_size: int
    wid: int
    cov: int
    distance: int
    activation_memory: int
    model_positions: int
    incremental_alts: int
    progress: Callable[[float], None] | None
    _planned: int
    _done: int

    def _run(self, windows: list[str], strand: str) -> list[np.ndarray]:
        """Predict ``(len - context, C)`` tracks for equal-length forward-strand windows."""
        out: list[np.ndarray] = []
        for i in range(0, len(windows), self.batch_size):
            batch = self._encode(windows[i : i + self.batch_size], strand)
            y = self.family.predict(batch)
            if strand == "-":
                y = y[:, ::-1]
            out.extend(np.ascontiguousarray(y[j]) for j in range(y.shape[0]))
            self._advance(batch.shape[0] * batch.shape[1])
        return out

    def _encode(self, windows: list[str], strand: str) -> np.ndarray:
        """One-hot ``(B, L, 4)`` model input of forward-strand windows (reverse-complemented on ``-``),
        counted in :attr:`model_positions`."""
        batch = np.stack([one_hot(w) for w in windows])
        if strand == "-":
            batch = reverse_complement_one_hot(batch)
        self.model_positions += batch.shape[0] * batch.shape[1]
        return batch

    def _advance(self, positions: int) -> None:
        """``positions`` model input positions of the current chunk are done: tell :attr:`progress`."""
        self._done += positions
        if self.progress is not None and self._planned:
            self.progress(min(1.0, self._done / self._planned))

    def _span_fitting(self, memory: int) -> int:
        """Most reference outputs one window may hold with its activations within ``memory`` bytes."""
        activation_bytes = self.family.incremental.activation_bytes  # type: ignore[union-attr]
        one = activation_bytes(self.wid)  # the window of a single variant
        if one > memory:
            raise NucleoforgeError(f"activation memory {memory / 2**20:.0f} MiB is less than one variant's window needs "
                                   f"({one / 2**20:.0f} MiB for this model at distance {self.distance}); raise it "
                                   "(--activation-memory) or use --full-alt-pass")  # fmt: skip
        per_position = activation_bytes(self.wid + 1) - one
        return self.cov + (memory - one) // per_position

    def _run_with_cones(self, windows: list[str], strand: str, cones: list[list[tuple[int, str]]]) -> tuple[list, list]:
        """Like :meth:`_run`, plus ALT tracks ``(cov, C)`` for substitutions in the windows.

        ``cones[i]``: ``(forward-strand window index, ALT base)`` per substitution in window ``i``.
        Returns the reference tracks and, per window, the ALT tracks in ``cones`` order.
        """
        inc = self.family.incremental
        assert inc is not None
        length = len(windows[0])
        per_call = max(1, min(self.batch_size, self.activation_memory // inc.activation_bytes(length)))
        ref_out: list[np.ndarray] = []
        alt_out: list[list[np.ndarray]] = []
        for i in range(0, len(windows), per_call):
            batch = self._encode(windows[i : i + per_call], strand)
            items = [(b, j, alt) for b, window_cones in enumerate(cones[i : i + per_call]) for j, alt in window_cones]
            alt_x = np.stack([one_hot(alt)[0] for _, _, alt in items]) if items else np.zeros((0, 4), np.float32)
            centers = np.array([j for _, j, _ in items], dtype=np.int64)
            if strand == "-":  # the window was reverse-complemented: so are the ALT bases and their places
                alt_x, centers = alt_x[:, ::-1], length - 1 - centers
            self.incremental_alts += len(items)
            y, alts = inc.run(batch, np.array([b for b, _, _ in items], dtype=np.int64), centers, alt_x,
                              distance=self.distance, batch_size=self.batch_size)
            if strand == "-":
                y, alts = y[:, ::-1], [a[::-1] for a in alts]
            ref_out.extend(np.ascontiguousarray(y[j]) for j in range(y.shape[0]))
            per_window: list[list[np.ndarray]] = [[] for _ in range(batch.shape[0])]
            for (b, _, _), a in zip(items, alts):
                per_window[b].append(np.ascontiguousarray(a))
            alt_out.extend(per_window)
            self._advance(batch.shape[0] * batch.shape[1])
        return ref_out, alt_out
