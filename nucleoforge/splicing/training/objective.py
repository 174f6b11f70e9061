"""What ``train-splice`` optimises and reports: class weights, the weighted loss, the learning-rate
schedule and the validation metrics (the same for SpliceAI and a token head)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nucleoforge.errors import NucleoforgeError
from nucleoforge.splicing.evaluation import average_precision, topk_accuracy
from nucleoforge.tokenization import IGNORE_INDEX

__all__ = [
    "ExponentialDecay", "SpliceMetrics", "acceptor_donor", "class_weights", "decay_rate", "eval_metrics", "evaluations",
    "exponential_lr", "weighted_splice_loss",
]  # fmt: skip


def class_weights(counts: Sequence[int]) -> np.ndarray:
    """``[w_neither, w_acceptor, w_donor]`` from class counts: positives weigh as much as negatives,
    acceptors as much as donors, mean weight 1 over the counted positions.

    >>> class_weights([96, 3, 1]).tolist()
    [0.5208333333333334, 8.333333333333334, 25.0]
    """
    n0, n1, n2 = (int(c) for c in counts)
    for name, n in (("neither", n0), ("acceptor", n1), ("donor", n2)):
        if n <= 0:
            raise NucleoforgeError(f"the training split has no counted {name} position (W = 1); the classes cannot be weighted")
    total = n0 + n1 + n2
    return np.array([total / (2 * n0), total / (4 * n1), total / (4 * n2)], dtype=np.float64)


def weighted_splice_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(w[y] · CE) / #counted`` over positions with ``labels != -100``.

    ``logits`` ``(..., L, 3)``, ``labels`` ``(B, L)`` broadcastable to ``logits.shape[:-1]``
    (``(B, M, L, 3)`` member logits with ``(B, L)`` labels: each member's loss, averaged).
    """
    if labels.dim() < logits.dim() - 1:
        labels = labels.unsqueeze(1).expand(logits.shape[:-1])
    valid = labels != IGNORE_INDEX
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), safe.reshape(-1), reduction="none")
    w = weights.to(device=logits.device, dtype=torch.float32)[safe.reshape(-1)] * valid.reshape(-1)
    return (w * nll).sum() / valid.sum().clamp_min(1)


def decay_rate(total_steps: int, learning_rate: float, floor: float) -> float:
    """γ such that ``learning_rate · γ^(total_steps - 1) = floor`` (1.0 for a single step).

    >>> round(decay_rate(5, 1e-3, 1e-5), 6)
    0.316228
    """
    if not learning_rate > 0:
        raise NucleoforgeError(f"--lr must be positive, got {learning_rate}")
    if not 0 < floor <= learning_rate:
        raise NucleoforgeError(f"--lr-floor must be in (0, --lr] when --lr-decay is not given, got {floor} with --lr {learning_rate}")
    if total_steps <= 1:
        return 1.0
    return (floor / learning_rate) ** (1.0 / (total_steps - 1))


def exponential_lr(step: int, learning_rate: float, floor: float, gamma: float) -> float:
    """``max(floor, learning_rate · gamma^step)``: the rate of optimizer step ``step`` (0-based)."""
    return max(floor, learning_rate * gamma**step)


class ExponentialDecay:
    """``LambdaLR`` factor of :func:`exponential_lr`: ``max(floor / lr, gamma^step)``."""

    def __init__(self, learning_rate: float, floor: float, gamma: float) -> None:
        if not learning_rate > 0:
            raise NucleoforgeError(f"--lr must be positive, got {learning_rate}")
        if not 0 < gamma <= 1:
            raise NucleoforgeError(f"--lr-decay must be in (0, 1], got {gamma}")
        if floor < 0:
            raise NucleoforgeError(f"--lr-floor must be >= 0, got {floor}")
        self.floor_ratio, self.gamma = floor / learning_rate, gamma

    def __call__(self, step: int) -> float:
        return max(self.floor_ratio, self.gamma**step)


class SpliceMetrics:
    """``compute_metrics`` for ``batch_eval_metrics``: gathers acceptor/donor probabilities of the
    counted positions batch by batch; at the last batch, top-k accuracy (k = number of true sites)
    and PR-AUC per class, pooled over all counted positions."""

    def __init__(self) -> None:
        self._labels: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []

    def add(self, probabilities: Any, labels: Any) -> None:
        """``probabilities`` (B, L, 3) or (B, L, 2) acceptor/donor; ``labels`` (B, L), -100 = not counted."""
        p = probabilities.detach().float().cpu().numpy() if torch.is_tensor(probabilities) else np.asarray(probabilities)
        y = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
        keep = y != IGNORE_INDEX
        self._labels.append(y[keep].astype(np.int8))
        self._scores.append(self.position_scores(p)[keep].astype(np.float32))

    def position_scores(self, p: np.ndarray) -> np.ndarray:
        """The scores kept per counted position: acceptor and donor (the class axis without ``neither``)."""
        return p[..., 1:] if p.shape[-1] == 3 else p

    def result(self) -> dict[str, float]:
        y = np.concatenate(self._labels) if self._labels else np.zeros(0, np.int8)
        p = np.concatenate(self._scores) if self._scores else np.zeros((0, 2), np.float32)
        self._labels, self._scores = [], []
        out: dict[str, float] = {"positions": int(len(y))}
        for c, name in ((1, "acceptor"), (2, "donor")):
            out[f"{name}s"] = int((y == c).sum())
            out[f"{name}_topk"] = topk_accuracy(y == c, p[:, c - 1])
            out[f"{name}_pr_auc"] = average_precision(y == c, p[:, c - 1])
        return out

    def __call__(self, eval_pred: Any, compute_result: bool = True) -> dict[str, float]:
        self.add(eval_pred.predictions, eval_pred.label_ids)
        return self.result() if compute_result else {}


def acceptor_donor(logits: Any, labels: Any) -> Any:
    """``preprocess_logits_for_metrics``: keep the acceptor and donor probabilities only."""
    probs = logits[0] if isinstance(logits, (tuple, list)) else logits
    return probs[..., 1:]


_TIMINGS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")


def eval_metrics(logs: Mapping[str, Any]) -> dict[str, Any]:
    """``eval_*`` entries of a Trainer log without the ``eval_`` prefix and without timings.

    >>> eval_metrics({"eval_acceptor_topk": 0.5, "eval_runtime": 1.2, "loss": 0.3})
    {'acceptor_topk': 0.5}
    """
    return {k[5:]: v for k, v in logs.items() if k.startswith("eval_") and k[5:] not in _TIMINGS}


def evaluations(log_history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The validation entries of a Trainer log (one per evaluation), keys without ``eval_``."""
    out = []
    for entry in log_history:
        if "eval_acceptor_topk" in entry:
            row = {"epoch": entry.get("epoch"), "step": entry.get("step")}
            row.update(eval_metrics(entry))
            out.append(row)
    return out
