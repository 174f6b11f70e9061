"""Score a splice model on one split of a ``splice-data`` folder: SpliceAI or a BERT-family token head.

The positions are the split's counted ones (:func:`~nucleoforge.io.splice_h5.counted`: ``W = 1``
and ``Y >= 0``), the labels its ``Y``; top-k accuracy and
PR-AUC come from :class:`~nucleoforge.splicing.training.SpliceMetrics` — the code that scores the
validation split during ``train-splice`` — so a published SpliceAI model, one trained or
transferred here and a language model's token head are compared on exactly the same positions.

* **SpliceAI** reads each block with its own context cropped from the stored one (``X[:, (C - c)
  / 2 : …]``), as in training.
* **A token head** (a BERT-family folder written by ``train-splice --model-type …``) reads the
  windows it was trained on (:class:`~nucleoforge.splicing.training.SpliceWindowDataset`; the
  context and width stored in its ``config.json`` as ``splice_windows``).
* **A per-tissue model** (Pangolin: P(splice site) per tissue, no acceptor/donor classes) is
  scored as a splice-site detector (:class:`SiteMetrics`): positives acceptor or donor, score the
  highest tissue's probability, plus per-class numbers with that score (the other class left out).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nucleoforge.errors import NucleoforgeError
from nucleoforge.splicing.evaluation import SITE_SCORE, site_metrics, site_scores
from nucleoforge.io.splice_h5 import counted_labels, one_hot_codes, read_splice_dataset
from nucleoforge.splicing.training import LM_CONTEXT, SpliceMetrics, SpliceWindowDataset, collate_windows
from nucleoforge.tokenization import IGNORE_INDEX

__all__ = ["SiteMetrics", "SplitEvaluation", "evaluate_split", "load_splice_model"]


@dataclass
class SplitEvaluation:
    """Pooled metrics of one model on one split."""

    model: str
    split: str
    metrics: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"model": self.model, "split": self.split, **self.metrics}

    def table(self) -> str:
        m = self.metrics
        if "site_topk" in m:  # a per-tissue model, scored as a splice-site detector (SITE_SCORE)
            return "\n".join([
                f"{'split':<12} {'positions':>10} {'sites':>7} {'site top-k':>10} {'site PR-AUC':>11} {'acc top-k':>9} "
                f"{'acc PR-AUC':>10} {'don top-k':>9} {'don PR-AUC':>10}",
                f"{self.split:<12} {m['positions']:>10,} {m['sites']:>7} {m['site_topk']:>10.4f} {m['site_pr_auc']:>11.4f} "
                f"{m['acceptor_topk']:>9.4f} {m['acceptor_pr_auc']:>10.4f} {m['donor_topk']:>9.4f} {m['donor_pr_auc']:>10.4f}",
                f"scored as: {m['score']}",
            ])  # fmt: skip
        return "\n".join([
            f"{'split':<12} {'positions':>10} {'acceptors':>9} {'donors':>7} {'acc top-k':>9} {'acc PR-AUC':>10} "
            f"{'don top-k':>9} {'don PR-AUC':>10}",
            f"{self.split:<12} {m['positions']:>10,} {m['acceptors']:>9} {m['donors']:>7} {m['acceptor_topk']:>9.4f} "
            f"{m['acceptor_pr_auc']:>10.4f} {m['donor_topk']:>9.4f} {m['donor_pr_auc']:>10.4f}",
        ])  # fmt: skip


def load_splice_model(name: str | os.PathLike) -> tuple[Any, Any]:
    """``(model, tokenizer or None)``: a SpliceAI model (a name such as ``spliceai-10k`` or a folder)
    or a BERT-family folder with a trained 3-class token head (nothing initialised: a folder without
    the head is refused)."""
    from pathlib import Path

    from nucleoforge import registry
    from nucleoforge.io.checkpoints import folder_model_type, load_model_folder
    from nucleoforge.models.spliceai import SpliceAIModel

    if not Path(str(name)).exists():
        return SpliceAIModel.from_pretrained(str(name)).eval(), None  # named weights, or the clear not-found error
    entry = registry.family(folder_model_type(name))
    if entry.kind != "bert":
        return SpliceAIModel.from_pretrained(str(name)).eval(), None  # another type: a CheckpointError naming it
    from transformers import AutoTokenizer

    model = load_model_folder(entry.model_class("ForTokenPrediction").from_pretrained, name,
                              model_types=[entry.model_type], what=f"a {entry.name} splice-site token head")  # fmt: skip
    if model.config.num_labels != 3:
        raise NucleoforgeError(f"{name}: the token head has {model.config.num_labels} labels, expected 3 (neither, acceptor, "
                         "donor); train one with `nucleoforge train-splice --model-type ...`")  # fmt: skip
    return model.eval(), AutoTokenizer.from_pretrained(str(name))


def evaluate_split(
    model: Any,
    data_dir: str | os.PathLike,
    split: str = "test",
    *,
    tokenizer: Any = None,
    batch_size: int = 8,
    device: str | None = None,
    calibrated: bool = False,
    progress: bool = False,
    name: str | None = None,
) -> SplitEvaluation:
    """Top-k accuracy and PR-AUC of ``model`` on a split's counted positions.

    ``tokenizer`` given: ``model`` is a BERT-family token head (see the module docstring);
    otherwise a :class:`~nucleoforge.models.spliceai.SpliceAIModel` (``calibrated``: with its fitted
    temperatures).
    """
    dataset = read_splice_dataset(data_dir)
    dataset.check_split(split)  # X, Y, W shapes and every label, before the model runs; a missing or damaged file: one error
    if device:
        model.to(device)
    param = next(model.parameters())
    per_tissue = tokenizer is None and getattr(model.config, "head", "softmax") == "pangolin"
    metrics: Any = SiteMetrics() if per_tissue else SpliceMetrics()
    bar = None
    if tokenizer is None:
        batches = _spliceai_batches(model, dataset, split, batch_size, calibrated)
        total = dataset.num_blocks(split)
    else:
        if calibrated:
            raise NucleoforgeError("--calibrated applies to SpliceAI models (a token head has no fitted temperatures)")
        windows = getattr(model.config, "splice_windows", None) or {}
        context = int(windows.get("context", LM_CONTEXT))
        width = int(windows.get("width", model.config.max_nucleotides - context))
        items = SpliceWindowDataset(dataset, split, context, width, tokenizer)
        batches = _token_head_batches(model, items, batch_size)
        total = len(items)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="block" if tokenizer is None else "window", desc=f"evaluate-splice ({split})")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for n, probabilities, labels in batches(param):
                metrics.add(probabilities, labels)
                if bar is not None:
                    bar.update(n)
    finally:
        model.train(was_training)
        if bar is not None:
            bar.close()
    result = metrics.result()
    return SplitEvaluation(str(name or getattr(model, "name_or_path", "") or "model"), split,
                           {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()})


class SiteMetrics(SpliceMetrics):
    """:class:`~nucleoforge.splicing.training.SpliceMetrics` for a per-tissue model (Pangolin): one site
    score per position, the highest tissue's P(splice site) (``probabilities`` (B, L, tissues)), scored by
    :func:`~nucleoforge.splicing.evaluation.site_metrics` (rule: :data:`~nucleoforge.splicing.evaluation.SITE_SCORE`)."""

    def position_scores(self, p: np.ndarray) -> np.ndarray:
        return site_scores(p)

    def result(self) -> dict[str, Any]:
        y = np.concatenate(self._labels) if self._labels else np.zeros(0, np.int8)
        score = np.concatenate(self._scores) if self._scores else np.zeros(0, np.float32)
        out: dict[str, Any] = {"positions": int(len(y)), "acceptors": int((y == 1).sum()), "donors": int((y == 2).sum())}
        return {**out, **site_metrics(y, score), "score": SITE_SCORE}


def _spliceai_batches(model: Any, dataset: Any, split: str, batch_size: int, calibrated: bool):
    context = int(model.config.context)

    def run(param: torch.Tensor):
        for x, y, w in dataset.iter_batches(split, batch_size, context=context):
            inputs = torch.from_numpy(one_hot_codes(x)).to(device=param.device, dtype=param.dtype)
            probs = model(inputs, calibrated=True).probabilities if calibrated else model(inputs).probabilities
            labels = counted_labels(y, w, IGNORE_INDEX)
            yield len(x), probs, labels

    return run


def _token_head_batches(model: Any, items: SpliceWindowDataset, batch_size: int):
    def run(param: torch.Tensor):
        for start in range(0, len(items), batch_size):
            batch = collate_windows(items.__getitems__(list(range(start, min(start + batch_size, len(items))))))
            logits = model(input_ids=batch["input_ids"].to(param.device),
                           attention_mask=batch["attention_mask"].to(param.device)).logits
            yield len(batch["labels"]), logits.float().softmax(-1), batch["labels"]

    return run
