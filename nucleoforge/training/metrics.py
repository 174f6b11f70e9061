"""Evaluation metrics for pretraining (MLM accuracy) and fine-tuning (per problem type and task).

=================  =================================================================
problem type       metrics
=================  =================================================================
binary             accuracy, f1, mcc (threshold 0.5 on the sigmoid), auroc, auprc
multiclass         accuracy, f1 (macro), mcc, auroc (one-vs-rest macro, when defined)
multilabel         accuracy (all labels right), f1 (micro), auroc, auprc (label means)
regression         pearson, spearman, rmse, r2 (means over targets)
contact (binary)   top_l_precision (top-L pairs with |i−j| ≥ min_separation, per
                   sequence), precision / recall / f1 of greedily decoded pairs
                   (each nucleotide in at most one pair, probability > 0.5), per
                   sequence then averaged; micro_f1 over all pairs
=================  =================================================================

Token tasks use the sequence metrics over every labelled nucleotide. Positions labelled -100
are ignored everywhere. The accumulators plug into ``transformers.Trainer`` with
``batch_eval_metrics=True``, so predictions are never concatenated across batches (contact
maps of different sizes would not concatenate).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from nucleoforge.errors import NucleoforgeError
from nucleoforge.tokenization import IGNORE_INDEX


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, F1, MCC at ``threshold``; AUROC, AUPRC from the scores (probabilities).

    >>> m = binary_metrics(np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 0, 1, 0]))
    >>> m["accuracy"], m["auroc"]
    (0.5, 0.75)
    """
    from sklearn.metrics import average_precision_score, f1_score, matthews_corrcoef, roc_auc_score

    labels = np.asarray(labels).astype(int).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    pred = (scores > threshold).astype(int)
    out = {
        "accuracy": float((pred == labels).mean()),
        "f1": float(f1_score(labels, pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(labels, pred)) if len(set(labels)) > 1 or len(set(pred)) > 1 else 0.0,
    }
    if len(set(labels.tolist())) == 2:
        out["auroc"] = float(roc_auc_score(labels, scores))
        out["auprc"] = float(average_precision_score(labels, scores))
    return out


def multiclass_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, macro F1, MCC; one-vs-rest macro AUROC when every class occurs."""
    from sklearn.metrics import f1_score, matthews_corrcoef, roc_auc_score

    labels = np.asarray(labels).astype(int)
    pred = probs.argmax(axis=-1)
    out = {
        "accuracy": float((pred == labels).mean()),
        "f1": float(f1_score(labels, pred, average="macro", zero_division=0)),
        "mcc": float(matthews_corrcoef(labels, pred)),
    }
    if len(set(labels.tolist())) == probs.shape[-1] > 1:
        out["auroc"] = float(roc_auc_score(labels, probs, multi_class="ovr", average="macro"))
    return out


def multilabel_metrics(probs: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Exact-match accuracy, micro F1, per-label AUROC/AUPRC averaged over labels with both classes."""
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    labels = np.asarray(labels).astype(int)
    pred = (probs > threshold).astype(int)
    out = {
        "accuracy": float((pred == labels).all(axis=1).mean()),
        "f1": float(f1_score(labels, pred, average="micro", zero_division=0)),
    }
    both = [j for j in range(labels.shape[1]) if len(set(labels[:, j].tolist())) == 2]
    if both:
        out["auroc"] = float(np.mean([roc_auc_score(labels[:, j], probs[:, j]) for j in both]))
        out["auprc"] = float(np.mean([average_precision_score(labels[:, j], probs[:, j]) for j in both]))
    return out


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Pearson, Spearman, RMSE, R² (averaged over target columns).

    >>> m = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 5.0]))
    >>> round(m["pearson"], 4), m["spearman"], m["rmse"]
    (0.9827, 1.0, 0.5)
    """
    from scipy.stats import pearsonr, spearmanr

    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    target = np.asarray(target, dtype=np.float64).reshape(len(target), -1)
    rows = []
    for j in range(pred.shape[1]):
        p, t = pred[:, j], target[:, j]
        constant = np.ptp(p) == 0 or np.ptp(t) == 0
        ss_tot = float(((t - t.mean()) ** 2).sum())
        rows.append({
            "pearson": 0.0 if constant else float(pearsonr(p, t)[0]),
            "spearman": 0.0 if constant else float(spearmanr(p, t)[0]),
            "rmse": float(np.sqrt(((p - t) ** 2).mean())),
            "r2": 1.0 - float(((p - t) ** 2).sum()) / ss_tot if ss_tot > 0 else 0.0,
        })  # fmt: skip
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def prediction_metrics(logits: np.ndarray, labels: np.ndarray, problem_type: str) -> dict[str, float]:
    """Metrics of raw ``logits`` ``(n, num_labels)`` against labels for one problem type."""
    logits = np.asarray(logits, dtype=np.float64)
    if problem_type == "binary":
        return binary_metrics(_sigmoid(logits.reshape(-1)), labels)
    if problem_type == "multiclass":
        return multiclass_metrics(_softmax(logits), labels)
    if problem_type == "multilabel":
        return multilabel_metrics(_sigmoid(logits), labels)
    if problem_type == "regression":
        return regression_metrics(logits, labels)
    raise NucleoforgeError(f"unknown problem type {problem_type!r}")


#: the names each problem type's metrics report (besides ``loss``); contact tasks: :func:`contact_metrics`
METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "f1", "mcc", "auroc", "auprc"),
    "multiclass": ("accuracy", "f1", "mcc", "auroc"),
    "multilabel": ("accuracy", "f1", "auroc", "auprc"),
    "regression": ("pearson", "spearman", "rmse", "r2"),
    "contact": ("precision", "recall", "f1", "top_l_precision", "micro_f1"),
}


def metric_names(task: str, problem_type: str) -> tuple[str, ...]:
    """The metrics a fine-tuning run reports at each evaluation (``eval_`` + name): ``loss`` and the
    task's (a contact task's, else the problem type's).

    >>> metric_names("sequence", "regression")
    ('loss', 'pearson', 'spearman', 'rmse', 'r2')
    """
    key = "contact" if task == "contact" else problem_type
    if key not in METRIC_NAMES:
        raise NucleoforgeError(f"unknown problem type {problem_type!r}")
    return ("loss", *METRIC_NAMES[key])


# ---------------------------------------------------------------------------- contacts
def greedy_pairs(probs: np.ndarray, threshold: float = 0.5, min_separation: int = 4) -> list[tuple[int, int]]:
    """Base pairs from an ``(n, n)`` probability map: highest first, each nucleotide paired at most once.

    >>> p = np.zeros((8, 8)); p[0, 7] = p[7, 0] = 0.9; p[0, 6] = p[6, 0] = 0.8; p[1, 6] = p[6, 1] = 0.7
    >>> greedy_pairs(p)
    [(0, 7), (1, 6)]
    """
    n = probs.shape[0]
    i, j = np.triu_indices(n, k=max(1, min_separation))
    scores = probs[i, j]
    keep = scores > threshold
    i, j, scores = i[keep], j[keep], scores[keep]
    used = np.zeros(n, dtype=bool)
    out = []
    for t in np.argsort(-scores, kind="stable"):
        a, b = int(i[t]), int(j[t])
        if not used[a] and not used[b]:
            used[a] = used[b] = True
            out.append((a, b))
    return sorted(out)


def pair_scores(pred: Iterable[tuple[int, int]], true: Iterable[tuple[int, int]]) -> dict[str, float]:
    """Precision, recall and F1 of predicted base pairs against the true ones (1.0 when both are empty).

    >>> pair_scores([(0, 7), (1, 6)], [(0, 7), (2, 5)])
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'tp': 1, 'n_pred': 2, 'n_true': 2}
    """
    p, t = {tuple(sorted(x)) for x in pred}, {tuple(sorted(x)) for x in true}
    tp = len(p & t)
    precision = tp / len(p) if p else (1.0 if not t else 0.0)
    recall = tp / len(t) if t else (1.0 if not p else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_pred": len(p), "n_true": len(t)}


def top_l_precision(probs: np.ndarray, true: Iterable[tuple[int, int]], min_separation: int = 4, fraction: float = 1.0) -> float:
    """Precision of the top ``fraction × L`` scoring pairs (``j − i ≥ min_separation``)."""
    n = probs.shape[0]
    i, j = np.triu_indices(n, k=max(1, min_separation))
    count = max(1, int(round(fraction * n)))
    top = np.argsort(-probs[i, j], kind="stable")[:count]
    truth = {tuple(sorted(x)) for x in true}
    return float(np.mean([(int(i[t]), int(j[t])) in truth for t in top])) if len(top) else 0.0


def contact_metrics(prob_maps: list[np.ndarray], true_pairs: list[Iterable[tuple[int, int]]],
                    threshold: float = 0.5, min_separation: int = 4) -> dict[str, float]:  # fmt: skip
    """Per-sequence top-L precision and decoded-pair precision/recall/F1 (means), plus micro F1."""
    per = []
    tp = n_pred = n_true = 0
    for probs, true in zip(prob_maps, true_pairs):
        true = [tuple(sorted(map(int, x))) for x in true]
        scores = pair_scores(greedy_pairs(probs, threshold, min_separation), true)
        per.append((scores["precision"], scores["recall"], scores["f1"], top_l_precision(probs, true, min_separation)))
        tp, n_pred, n_true = tp + scores["tp"], n_pred + scores["n_pred"], n_true + scores["n_true"]
    arr = np.array(per) if per else np.zeros((0, 4))
    micro_p = tp / n_pred if n_pred else 0.0
    micro_r = tp / n_true if n_true else 0.0
    return {
        "precision": float(arr[:, 0].mean()) if len(arr) else 0.0,
        "recall": float(arr[:, 1].mean()) if len(arr) else 0.0,
        "f1": float(arr[:, 2].mean()) if len(arr) else 0.0,
        "top_l_precision": float(arr[:, 3].mean()) if len(arr) else 0.0,
        "micro_f1": 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0,
    }


# ---------------------------------------------------------------------------- Trainer plumbing
def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, (tuple, list)):
        x = x[0]
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy() if x.is_floating_point() else x.detach().cpu().numpy()
    return np.asarray(x)


class FinetuneMetrics:
    """``compute_metrics`` for ``Trainer(batch_eval_metrics=True)``: accumulates batch by batch."""

    def __init__(self, task: str, problem_type: str, min_separation: int = 4) -> None:
        self.task, self.problem_type, self.min_separation = task, problem_type, min_separation
        self.reset()

    def reset(self) -> None:
        self._logits: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._maps: list[np.ndarray] = []
        self._pairs: list[list[tuple[int, int]]] = []

    def add(self, logits: Any, labels: Any) -> None:
        logits, labels = _numpy(logits), _numpy(labels)
        if self.task == "sequence":
            self._logits.append(logits.reshape(len(logits), -1))
            self._labels.append(labels.reshape(len(labels), -1) if labels.ndim > 1 else labels)
        elif self.task == "token":
            n = min(logits.shape[1], labels.shape[1])
            logits, labels = logits[:, :n], labels[:, :n]
            keep = labels != IGNORE_INDEX
            self._logits.append(logits[keep].reshape(int(keep.sum()), -1))
            self._labels.append(labels[keep])
        else:
            probs = _sigmoid(logits[..., 0] if logits.ndim == 4 else logits)
            for b in range(labels.shape[0]):
                real = (labels[b] != IGNORE_INDEX).any(axis=1)
                n = int(real.sum())
                lab = labels[b, :n, :n]
                i, j = np.nonzero(np.triu(lab == 1, k=1))
                self._maps.append(probs[b, :n, :n])
                self._pairs.append(list(zip(i.tolist(), j.tolist())))

    def compute(self) -> dict[str, float]:
        if self.task == "contact":
            return contact_metrics(self._maps, self._pairs, min_separation=self.min_separation)
        if not self._logits:
            return {}
        logits = np.concatenate(self._logits)
        labels = np.concatenate(self._labels)
        if self.problem_type in ("binary", "multiclass") or labels.ndim == 1:
            labels = labels.reshape(-1) if self.problem_type != "regression" or logits.shape[-1] == 1 else labels
        return prediction_metrics(logits, labels, self.problem_type)

    def __call__(self, eval_pred: Any, compute_result: bool = True) -> dict[str, float]:
        self.add(eval_pred.predictions, eval_pred.label_ids)
        if not compute_result:
            return {}
        result = self.compute()
        self.reset()
        return result


class MLMAccuracy:
    """``compute_metrics`` for MLM with ``batch_eval_metrics=True``: accuracy over masked tokens.

    Use with :func:`argmax_logits` as ``preprocess_logits_for_metrics``.
    """

    def __init__(self) -> None:
        self.correct = 0
        self.total = 0

    def __call__(self, eval_pred: Any, compute_result: bool = True) -> dict[str, float]:
        pred, labels = _numpy(eval_pred.predictions), _numpy(eval_pred.label_ids)
        keep = labels != IGNORE_INDEX
        self.correct += int((pred[keep] == labels[keep]).sum())
        self.total += int(keep.sum())
        if not compute_result:
            return {}
        result = {"mlm_accuracy": self.correct / self.total if self.total else 0.0}
        self.correct = self.total = 0
        return result


def argmax_logits(logits: Any, labels: Any) -> Any:
    """``preprocess_logits_for_metrics``: keep only the arg-max token id (B, T)."""
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    return logits.argmax(dim=-1)


def first_logits(logits: Any, labels: Any) -> Any:
    """``preprocess_logits_for_metrics``: drop extra outputs (``nucleotide_mask``), cast to float32."""
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    return logits.float()
