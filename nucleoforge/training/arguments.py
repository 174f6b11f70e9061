"""``TrainingArguments`` for every nucleoforge trainer, built in one place.

:func:`training_arguments` holds the defaults (no external loggers, bf16 on capable GPUs, gloo
under ``torchrun`` on CPU, per-rank data, metrics batch by batch) and maps the options that
``pretrain``, ``finetune``, ``train-splice`` and ``genebert pretrain`` share onto their
``TrainingArguments`` names: ``batch_size`` fills the train and (unless ``eval_batch_size`` is
given) the eval batch size, ``seed`` both ``seed`` and ``data_seed``, ``num_workers`` the data
loader workers; ``bf16=None`` keeps the default; ``extra_args`` (the ``--training-args`` of the
command line) is applied last.

>>> args = training_arguments("/tmp/run", batch_size=8, seed=3, learning_rate=1e-4)
>>> (args.per_device_train_batch_size, args.per_device_eval_batch_size, args.seed, args.data_seed)
(8, 8, 3, 3)
>>> args.report_to
[]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from transformers import TrainingArguments

__all__ = ["training_arguments"]


def training_arguments(
    output_dir: str | os.PathLike,
    *,
    batch_size: int | None = None,
    eval_batch_size: int | None = None,
    seed: int | None = None,
    bf16: bool | None = None,
    num_workers: int | None = None,
    disable_tqdm: bool | None = None,
    extra_args: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> TrainingArguments:
    """``TrainingArguments`` with nucleoforge's defaults, the shared options mapped, then ``overrides``
    (``TrainingArguments`` names) and last ``extra_args``."""
    cuda = torch.cuda.is_available()
    values: dict[str, Any] = dict(
        output_dir=str(output_dir),
        report_to="none",
        bf16=bool(cuda and torch.cuda.is_bf16_supported()),
        use_cpu=not cuda,
        ddp_backend="gloo" if not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        accelerator_config={"dispatch_batches": False},
        batch_eval_metrics=True,
        remove_unused_columns=False,
        label_names=["labels"],
        save_total_limit=2,
        logging_first_step=True,
        ddp_find_unused_parameters=False,
        dataloader_pin_memory=cuda,
    )
    if batch_size is not None:
        values["per_device_train_batch_size"] = batch_size
    if eval_batch_size is not None or batch_size is not None:
        values["per_device_eval_batch_size"] = eval_batch_size or batch_size
    if seed is not None:
        values["seed"] = values["data_seed"] = seed
    if bf16 is not None:
        values["bf16"] = bf16
    if num_workers is not None:
        values["dataloader_num_workers"] = num_workers
    if disable_tqdm is not None:
        values["disable_tqdm"] = disable_tqdm
    values.update(overrides)
    values.update(extra_args or {})
    return TrainingArguments(**values)
