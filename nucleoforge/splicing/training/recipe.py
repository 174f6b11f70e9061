"""The part of a ``train-splice`` run that depends on the model family: :class:`Recipe`.

:func:`~nucleoforge.splicing.training.spliceai.spliceai_recipe` and
:func:`~nucleoforge.splicing.training.token_head.token_head_recipe` check the options of their
family and build one; :func:`~nucleoforge.splicing.training.run.train_splice` runs it without
knowing which family it trains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = ["Recipe"]


@dataclass
class Recipe:
    """What one family trains: its members, data, collator, ``Trainer`` class and files.

    ``architecture`` (the settings a resume must match) and ``manifest_model`` (the init weights
    a resume must match; None for fresh weights) go into the run manifest;
    ``positions_per_example`` turns examples per second into positions per second;
    ``init_settings`` adds to the recorded settings (e.g. ``init_classifier: new``: only the init's
    trunks carried over).
    """

    members: int
    model_context: int
    train_set: Any
    val_set: Any
    collate: Callable[[Sequence[dict[str, Any]]], dict[str, torch.Tensor]]
    trainer_class: type
    architecture: dict[str, Any]
    positions_per_example: int
    manifest_model: Any = None
    init_settings: dict[str, Any] = field(default_factory=dict)  # recorded with the run's settings (training.json)

    def member_model(self, i: int) -> tuple[torch.nn.Module, list[torch.nn.Module]]:
        """``(model, frozen BatchNorms)`` that member ``i`` starts from (its seed is set)."""
        raise NotImplementedError

    def init_member(self, i: int) -> int | None:
        """The member of the init model that member ``i`` starts from (None: not an init member)."""
        return None

    def save_member(self, folder: Path, main: bool) -> None:
        """Files beside a trained member's weights (a tokenizer)."""

    def assemble(self, member_dirs: Sequence[Path], output_dir: Path) -> None:
        """Rank 0: the trained members' folders into the one model folder ``output_dir``."""
        raise NotImplementedError

    def ensemble_metrics(self, output_dir: Path, weights: Any, arguments: Callable[[], Any]) -> dict[str, Any] | None:
        """Validation metrics of the assembled model of several members, evaluated with the
        ``TrainingArguments`` that ``arguments()`` builds (None: one member, whose final
        evaluation stands)."""
        return None
