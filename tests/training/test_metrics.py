"""Fine-tuning metrics: exact values on small hand-checked cases, sklearn/scipy agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import EvalPrediction

from nucleoforge.training.finetune import FinetuneCollator
from nucleoforge.training.metrics import (
    FinetuneMetrics,
    contact_metrics,
    greedy_pairs,
    pair_scores,
    prediction_metrics,
    top_l_precision,
)


def test_binary_metrics_against_hand_values():
    logits = np.log(np.array([0.9, 0.8, 0.3, 0.1, 0.6]) / (1 - np.array([0.9, 0.8, 0.3, 0.1, 0.6])))
    labels = np.array([1, 0, 1, 0, 1])
    m = prediction_metrics(logits[:, None], labels, "binary")
    assert m["accuracy"] == pytest.approx(3 / 5)  # predicted 1,1,0,0,1
    assert m["f1"] == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))
    assert m["auroc"] == pytest.approx(4 / 6)  # positive/negative pairs ranked right: 4 of 6
    mcc = (2 * 1 - 1 * 1) / np.sqrt(3 * 3 * 2 * 2)
    assert m["mcc"] == pytest.approx(mcc)


def test_regression_and_multiclass():
    m = prediction_metrics(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 5.0]), "regression")
    assert m["rmse"] == pytest.approx(np.sqrt(4 / 3)) and m["spearman"] == pytest.approx(1.0)
    logits = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0], [2.0, 0, 0]])
    m = prediction_metrics(logits, np.array([0, 1, 2, 1]), "multiclass")
    assert m["accuracy"] == 0.75


def test_pairs_decoding_and_scores():
    probs = np.zeros((10, 10))
    for (i, j), p in {(0, 9): 0.9, (1, 8): 0.8, (0, 8): 0.85, (2, 4): 0.99, (3, 7): 0.3}.items():
        probs[i, j] = probs[j, i] = p
    # (2, 4) is too close (|i-j| < 4); (0, 9) comes first, so (0, 8) finds 0 taken
    assert greedy_pairs(probs) == [(0, 9), (1, 8)]
    assert greedy_pairs(probs, threshold=0.2) == [(0, 9), (1, 8), (3, 7)]
    assert pair_scores([(0, 8)], [(0, 9), (1, 8)]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "n_pred": 1, "n_true": 2}
    assert top_l_precision(probs, [(0, 9), (1, 8)], fraction=0.2) == pytest.approx(1 / 2)
    m = contact_metrics([probs], [[(0, 9), (1, 8), (3, 7)]], threshold=0.2)
    assert m["f1"] == 1.0 and m["micro_f1"] == 1.0
    m = contact_metrics([probs], [[(0, 9), (2, 6)]])
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["f1"] == 0.5


def test_contact_labels_and_metrics_through_the_collator():
    collate = FinetuneCollator("contact", "binary")
    examples = [{"input_ids": np.array([2, 6, 6, 7, 7, 3]), "length": 4, "labels": np.array([[0, 3]])},
                {"input_ids": np.array([2, 6, 7, 3]), "length": 2, "labels": np.zeros((0, 2), dtype=np.int64)}]  # fmt: skip
    batch = collate(examples)
    labels = batch["labels"]
    assert labels.shape == (2, 4, 4)
    assert labels[0, 0, 3] == 1 and labels[0, 3, 0] == 1 and labels[0].sum() == 2
    assert (labels[1, 2:] == -100).all() and (labels[1, :2, :2] == 0).all()
    # perfect logits give F1 1 for the first sequence; the second has no pairs and none predicted
    logits = torch.where(labels == 1, 10.0, -10.0).unsqueeze(-1)
    metrics = FinetuneMetrics("contact", "binary", min_separation=1)
    out = metrics(EvalPrediction(predictions=(logits, None), label_ids=labels), compute_result=True)
    assert out["f1"] == 1.0 and out["micro_f1"] == 1.0


def test_token_metrics_ignore_padding():
    collate = FinetuneCollator("token", "multiclass")
    batch = collate([{"input_ids": np.array([2, 6, 7, 8, 3]), "length": 3, "labels": np.array([0, 1, 2])},
                     {"input_ids": np.array([2, 6, 3]), "length": 1, "labels": np.array([2])}])  # fmt: skip
    assert batch["labels"].tolist() == [[0, 1, 2], [2, -100, -100]]
    logits = torch.nn.functional.one_hot(batch["labels"].clamp(min=0), 3).float() * 5
    out = FinetuneMetrics("token", "multiclass")(EvalPrediction(predictions=logits, label_ids=batch["labels"]))
    assert out["accuracy"] == 1.0
