"""Fine-tuning on labelled sequences: sequence, token (per nucleotide) and contact (pair) tasks.

:func:`finetune` reads and validates every file first (see :mod:`nucleoforge.training.labelled`
for the column conventions), then builds the model — a saved nucleoforge folder with a new head, or
a fresh model from ``model_type`` + config overrides — and trains it with
:func:`~nucleoforge.training.pretrain.build_trainer`: evaluation every epoch, best checkpoint
kept (``metric_for_best_model``), early stopping, metrics of the best model on the eval and test
files written to ``metrics.json``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from transformers import EarlyStoppingCallback

from nucleoforge import registry
from nucleoforge.errors import NucleoforgeError
from nucleoforge.tokenization import IGNORE_INDEX, pad_batch
from nucleoforge.training.labelled import LabelledData, read_labelled
from nucleoforge.training.metrics import METRIC_NAMES, FinetuneMetrics, first_logits, metric_names
from nucleoforge.io.output_folders import prepare_output_folder
from nucleoforge.training.arguments import training_arguments
from nucleoforge.training.pretrain import (
    bert_family,
    build_trainer,
    follow_output_folder,
    load_model,
    new_model,
    replace_at_first_checkpoint,
    save_run,
)

HEADS = {"sequence": "ForSequencePrediction", "token": "ForTokenPrediction", "contact": "ForContactPrediction"}
#: metric used to pick the best checkpoint when none is given
#: (contact: top-L precision needs no threshold, so it ranks early checkpoints whose pair
#: probabilities are all still below 0.5)
DEFAULT_METRIC = {"binary": "auroc", "multiclass": "mcc", "multilabel": "f1", "regression": "spearman",
                  "contact": "top_l_precision"}  # fmt: skip


class LabelledDataset(torch.utils.data.Dataset):
    """Map-style dataset of a :class:`LabelledData`: token ids (with [CLS]/[SEP]) and raw labels."""

    def __init__(self, data: LabelledData, tokenizer: Any) -> None:
        self.data = data
        self.input_ids = tokenizer.encode_sequences(data.sequences, add_special_tokens=True)

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item: dict[str, Any] = {"input_ids": self.input_ids[i], "length": len(self.data.sequences[i])}
        if self.data.labels is not None:
            item["labels"] = self.data.labels[i]
        return item


class FinetuneCollator:
    """Pad token ids and build label tensors for one task.

    * sequence: ``(B,)`` float (binary, single regression), long (multiclass) or ``(B, L)`` float.
    * token: ``(B, N)`` padded with -100 (N = longest sequence in nucleotides).
    * contact: ``(B, N, N)`` float — 1 for a pair, 0 for other real pairs, -100 on padding.
    """

    def __init__(self, task: str, problem_type: str, pad_token_id: int = 0) -> None:
        self.task, self.problem_type, self.pad_token_id = task, problem_type, pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ids, mask = pad_batch([e["input_ids"] for e in examples], self.pad_token_id)
        batch = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        if "labels" in examples[0]:
            batch["labels"] = self._labels(examples)
        return batch

    def _labels(self, examples: Sequence[dict[str, Any]]) -> torch.Tensor:
        dtype = torch.long if self.problem_type == "multiclass" else torch.float32
        if self.task == "sequence":
            return torch.as_tensor(np.stack([np.asarray(e["labels"]) for e in examples]), dtype=dtype)
        n = max(int(e["length"]) for e in examples)
        if self.task == "token":
            labels, _ = pad_batch([e["labels"] for e in examples], IGNORE_INDEX, width=n,
                                  dtype=np.int64 if dtype == torch.long else np.float32)
            return torch.from_numpy(labels)
        out = torch.full((len(examples), n, n), float(IGNORE_INDEX))
        for i, e in enumerate(examples):
            m = int(e["length"])
            out[i, :m, :m] = 0.0
            pairs = torch.as_tensor(np.asarray(e["labels"]), dtype=torch.long).reshape(-1, 2)
            if len(pairs):
                out[i, pairs[:, 0], pairs[:, 1]] = 1.0
                out[i, pairs[:, 1], pairs[:, 0]] = 1.0
        return out


def _model_config(model: str | os.PathLike | None, model_type: str | None, overrides: dict[str, Any]) -> Any:
    """The config a run will use (without loading weights), to size-check the data first."""
    if model is not None:
        from transformers import AutoConfig

        from nucleoforge.io.checkpoints import folder_model_type, hf_weight_file

        found = folder_model_type(model)  # first: a missing, foreign or weightless folder is one clear error
        hf_weight_file(model)
        try:
            bert_family(found)
        except ValueError as exc:
            raise NucleoforgeError(f"{model}: {exc}") from None
        registry.register_auto_classes()
        return AutoConfig.from_pretrained(model, **overrides)
    if model_type is None:
        raise NucleoforgeError("pass --model DIR (pretrained) or --model-type (fresh model)")
    return _fresh_config(model_type, overrides)


def _fresh_config(model_type: str, overrides: dict[str, Any]) -> Any:
    return bert_family(model_type).config_cls()(**overrides)


def _tokenizer_for(config: Any) -> Any:
    from nucleoforge.tokenization import NucleotideTokenizer

    return NucleotideTokenizer.for_config(config)


def _has_trained_head(path: str | os.PathLike) -> bool:
    """Whether a saved folder already holds a contact head (then its bias is kept)."""
    from transformers import AutoConfig

    registry.register_auto_classes()
    architectures = AutoConfig.from_pretrained(path).architectures or []
    return any(a.endswith("ForContactPrediction") for a in architectures)


def _init_pair_prior(model: torch.nn.Module, data: LabelledData) -> None:
    """Start a new contact head at the training pair rate (logit of pairs / all pairs), not at p = 0.5.

    Base pairs are ~0.5 % of all nucleotide pairs; starting from the prior saves the first
    hundreds of steps that would otherwise only move the bias.
    """
    pairs = sum(2 * len(p) for p in data.labels)
    total = sum(len(s) ** 2 for s in data.sequences)
    rate = min(max(pairs / max(total, 1), 1e-6), 0.5)
    with torch.no_grad():
        model.head.bias.fill_(float(np.log(rate / (1 - rate))))


def load_task_data(
    tokenizer: Any, task: str, problem_type: str, train: str | os.PathLike, eval: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None, max_nucleotides: int | None = None, **columns: Any,
) -> tuple[LabelledData, LabelledData | None, LabelledData | None]:  # fmt: skip
    """Read and validate train/eval/test files; class names of the training file number the others."""
    train_data = read_labelled(train, tokenizer, task, problem_type, max_nucleotides=max_nucleotides, **columns)
    names = train_data.label_names

    def other(path: str | os.PathLike | None) -> LabelledData | None:
        if path is None:
            return None
        data = read_labelled(path, tokenizer, task, problem_type, label_names=names, max_nucleotides=max_nucleotides, **columns)
        if data.num_labels != train_data.num_labels and problem_type in ("multilabel", "regression"):
            raise NucleoforgeError(f"{path}: {data.num_labels} labels per row, the training file has {train_data.num_labels}")
        if data.num_labels > train_data.num_labels and problem_type == "multiclass":
            raise NucleoforgeError(f"{path}: class index {data.num_labels - 1} does not occur in the training file ({train_data.num_labels} classes)")
        return data

    return train_data, other(eval), other(test)


def finetune(
    train: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    task: str = "sequence",
    problem_type: str = "binary",
    eval: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    model: str | os.PathLike | None = None,
    model_type: str | None = None,
    config_overrides: dict[str, Any] | None = None,
    sequence_column: str = "sequence",
    label_column: str = "label",
    epochs: float = 10,
    batch_size: int = 16,
    eval_batch_size: int | None = None,
    learning_rate: float = 5e-5,
    weight_decay: float = 0.01,
    warmup_steps: float = 0,
    gradient_accumulation_steps: int = 1,
    metric: str | None = None,
    patience: int | None = 3,
    seed: int = 42,
    bf16: bool | None = None,
    logging_steps: int = 50,
    disable_tqdm: bool = False,
    overwrite: bool = False,
    announce: Callable[[str], None] | None = None,
    extra_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune a model head; returns (and writes to ``metrics.json``) eval and test metrics of the best model.

    ``output_dir`` must be missing or empty unless ``overwrite`` (replace it; the old folder stays
    until the new run's first checkpoint exists).
    """
    # --metric is checked now, not as a KeyError at the first evaluation (an epoch later)
    if metric is not None and (task == "contact" or problem_type in METRIC_NAMES):
        names = metric_names(task, problem_type)
        if metric.removeprefix("eval_") not in names:
            what = "contact" if task == "contact" else f"{problem_type} {task}"
            raise NucleoforgeError(f"--metric {metric}: not a metric of a {what} task; expected one of {', '.join(names)}")
    if model is not None:
        model = registry.locate(model)  # a short name or hub id: the hub cache's folder
    out = prepare_output_folder(output_dir, command="finetune", overwrite=overwrite, inputs=[train, eval, test, model])
    output_dir = out.path  # a staging folder beside the old one until the first checkpoint (--overwrite)
    overrides = dict(config_overrides or {})
    config = _model_config(model, model_type, overrides)
    tokenizer = _tokenizer_for(config) if model is None else None
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model)
    columns = dict(sequence_column=sequence_column, label_column=label_column)
    train_data, eval_data, test_data = load_task_data(
        tokenizer, task, problem_type, train, eval, test, max_nucleotides=config.max_nucleotides, **columns
    )
    head_config: dict[str, Any] = {"num_labels": train_data.num_labels, "problem_type": problem_type}
    if train_data.label_names:
        head_config["id2label"] = dict(enumerate(train_data.label_names))
        head_config["label2id"] = {n: i for i, n in enumerate(train_data.label_names)}
    from transformers import set_seed

    set_seed(seed)  # new heads / fresh models start from seeded weights
    if model is not None:
        net, tokenizer = load_model(model, HEADS[task], **overrides, **head_config)
    else:
        net, tokenizer = new_model(model_type, {**overrides, **head_config}, head=HEADS[task])
    if task == "contact" and not (model is not None and _has_trained_head(model)):
        _init_pair_prior(net, train_data)
    collator = FinetuneCollator(task, problem_type, tokenizer.pad_token_id)
    metric = metric or DEFAULT_METRIC["contact" if task == "contact" else problem_type]
    has_eval = eval_data is not None
    args = training_arguments(
        output_dir, batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed, bf16=bf16, disable_tqdm=disable_tqdm,
        extra_args=extra_args, num_train_epochs=epochs, gradient_accumulation_steps=gradient_accumulation_steps,
        learning_rate=learning_rate, weight_decay=weight_decay, warmup_steps=warmup_steps, logging_steps=logging_steps,
        eval_strategy="epoch" if has_eval else "no", save_strategy="epoch", load_best_model_at_end=has_eval,
        metric_for_best_model=metric if has_eval else None,
        greater_is_better=metric not in ("loss", "rmse") if has_eval else None,
    )  # fmt: skip
    callbacks = [EarlyStoppingCallback(early_stopping_patience=patience)] if has_eval and patience else []
    with out:  # an error before the first checkpoint removes the staging folder; the old one stays
        trainer = build_trainer(
            net, LabelledDataset(train_data, tokenizer), LabelledDataset(eval_data, tokenizer) if has_eval else None,
            collator, args, compute_metrics=FinetuneMetrics(task, problem_type), preprocess_logits_for_metrics=first_logits,
            callbacks=callbacks, log_file=output_dir / "log.jsonl", track_mlm_accuracy=False, announce=announce,
        )  # fmt: skip
        replace_at_first_checkpoint(trainer, out)
        result = trainer.train()
    follow_output_folder(trainer, out)
    output_dir = out.target
    trainer.remove_callback(EarlyStoppingCallback)  # the final evaluations below are not validation rounds
    metrics: dict[str, Any] = {"train": result.metrics, "best_checkpoint": trainer.state.best_model_checkpoint,
                               "metric_for_best_model": metric if has_eval else None}  # fmt: skip
    if has_eval:
        metrics["eval"] = trainer.evaluate(LabelledDataset(eval_data, tokenizer), metric_key_prefix="eval")
    if test_data is not None and test_data.labels is not None:
        metrics["test"] = trainer.evaluate(LabelledDataset(test_data, tokenizer), metric_key_prefix="test")
    save_run(trainer, tokenizer, output_dir, metrics)
    return metrics


def predict(model: torch.nn.Module, tokenizer: Any, sequences: Sequence[str], batch_size: int = 32) -> list[np.ndarray]:
    """Raw logits per sequence at nucleotide resolution (sequence: ``(num_labels,)``; token:
    ``(n, num_labels)``; contact: ``(n, n, num_labels)``), in eval mode, without gradients."""
    model.eval()
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    with torch.no_grad():
        for s in range(0, len(sequences), batch_size):
            chunk = list(sequences[s : s + batch_size])
            enc = tokenizer(chunk, padding=True, return_tensors="pt")
            res = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device))
            logits = res.logits.float().cpu().numpy()
            for i, seq in enumerate(chunk):
                n = len(seq)
                if logits.ndim == 2:
                    out.append(logits[i])
                elif logits.ndim == 3:
                    out.append(logits[i, :n])
                else:
                    out.append(logits[i, :n, :n])
    return out
