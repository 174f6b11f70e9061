"""Training a BERT-family token head on windows of the blocks (GeneBERT Table 4): the model, its
``Trainer`` and the token-head :class:`~nucleoforge.splicing.training.recipe.Recipe`.

One model (no members): a 3-class per-nucleotide head on a fresh encoder (``--model-type``,
sized by ``--config``) or on the encoder of an ``--init`` folder, trained with the loss, schedule
and metrics of SpliceAI on :class:`~nucleoforge.splicing.training.data.SpliceWindowDataset`
windows; its config keeps ``splice_windows`` (context, width) for ``evaluate-splice --data``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.splice_h5 import SpliceDataset
from nucleoforge.splicing.training.data import SpliceWindowDataset, collate_windows
from nucleoforge.splicing.training.recipe import Recipe
from nucleoforge.splicing.training.spliceai import SpliceTrainer

__all__ = ["LM_CONTEXT", "SPLICE_LABELS", "SpliceTokenTrainer", "TokenHeadRecipe", "language_model_type", "token_head_recipe"]

#: default total context (both sides) of a language-model token head: the SpliceAI-400 setting
LM_CONTEXT = 400
#: the token head's classes, as in the labels Y
SPLICE_LABELS = {0: "neither", 1: "acceptor", 2: "donor"}


class SpliceTokenTrainer(SpliceTrainer):
    """:class:`~nucleoforge.splicing.training.spliceai.SpliceTrainer` for a BERT-family token head
    on :class:`~nucleoforge.splicing.training.data.SpliceWindowDataset` windows."""

    def forward_splice(self, model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits  # (B, nt, 3)
        return logits, logits.float().softmax(-1)


def language_model_type(model_type: str | None, init: str | os.PathLike | None) -> str | None:
    """The BERT-family model type to train a token head for, or None for SpliceAI.

    ``model_type`` names it for a fresh model; otherwise an ``init`` folder's ``config.json`` decides.
    """
    from nucleoforge import registry
    from nucleoforge.io.checkpoints import folder_model_type

    if model_type is not None:
        entry = registry.family(model_type)  # an unknown type: one error naming the known ones
        if entry.kind == "spliceai":
            return None
        if entry.kind != "bert":
            raise NucleoforgeError(f"--model-type {model_type}: train-splice trains SpliceAI or a BERT-family token head; expected "
                             f"spliceai or one of {', '.join(f.model_type for f in registry.families(kind='bert'))}")  # fmt: skip
        if init is not None:
            found = folder_model_type(init)
            if registry.family(found).model_type != entry.model_type:
                raise NucleoforgeError(f"--init {init} is a {found} model, not {entry.model_type} (--model-type)")
        return entry.model_type
    if init is None or not Path(str(init)).exists():
        return None  # SpliceAI: a fresh model or named weights (spliceai-10k)
    found = folder_model_type(init)
    entry = registry.family(found)
    return entry.model_type if entry.kind == "bert" else None


def _token_head_model(model_type: str, init: str | os.PathLike | None, overrides: dict[str, Any]) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a 3-class token head on a fresh ``model_type`` encoder (config
    ``overrides``) or on the encoder of the ``init`` folder."""
    from nucleoforge.training.pretrain import load_model, new_model

    head = {"num_labels": 3, "problem_type": "multiclass", "id2label": dict(SPLICE_LABELS),
            "label2id": {v: k for k, v in SPLICE_LABELS.items()}}  # fmt: skip
    if init is not None:
        return load_model(init, "ForTokenPrediction", **head)
    return new_model(model_type, {**overrides, **head}, head="ForTokenPrediction")


def _architecture(config: Any) -> dict[str, Any]:
    """The encoder settings a resume must match (a BERT-family config, without bookkeeping keys)."""
    keep = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings", "k", "position_embedding_type", "hidden_act")  # fmt: skip
    return {k: getattr(config, k) for k in keep if hasattr(config, k)}


class TokenHeadRecipe(Recipe):
    """One token-head model on windows of ``width`` labelled positions with ``context / 2`` nt each side."""

    def __init__(self, dataset: SpliceDataset, model_type: str, net: Any, tokenizer: Any, context: int, width: int,
                 fresh: bool) -> None:  # fmt: skip
        train_set = SpliceWindowDataset(dataset, "train", context, width, tokenizer)
        val_set = SpliceWindowDataset(dataset, "validation", context, width, tokenizer)
        super().__init__(members=1, model_context=context, train_set=train_set, val_set=val_set, collate=collate_windows,
                         trainer_class=SpliceTokenTrainer, positions_per_example=width,
                         architecture={"model_type": model_type, "config": _architecture(net.config), "width": width},
                         manifest_model=None if fresh else net)  # fmt: skip
        self.net, self.tokenizer = net, tokenizer

    def member_model(self, i: int) -> tuple[torch.nn.Module, list[torch.nn.Module]]:
        return self.net, []  # built (seeded) with the recipe; its config carries splice_windows

    def save_member(self, folder: Path, main: bool) -> None:
        if main:
            self.tokenizer.save_pretrained(str(folder))

    def assemble(self, member_dirs: Sequence[Path], output_dir: Path) -> None:
        for name in os.listdir(member_dirs[0]):  # the one trained model: config, weights, tokenizer files
            if (member_dirs[0] / name).is_file() and name.endswith((".json", ".safetensors", ".txt")) and name != "member.json":
                shutil.copyfile(member_dirs[0] / name, output_dir / name)


def token_head_recipe(dataset: SpliceDataset, model_type: str, *, context: int | None,
                      config_overrides: dict[str, Any] | None, width: int | None, init: str | os.PathLike | None,
                      init_member: int | None, freeze_stages: int, members: int | None, seed: int) -> TokenHeadRecipe:  # fmt: skip
    """Check the token-head options (one error naming the flag), build the model (its weights from
    ``seed``) and the recipe: windows of ``width`` positions (default: the model's longest input
    minus ``context``, at most a block) with ``context`` (default :data:`LM_CONTEXT`) around them."""
    from transformers import set_seed

    for flag, value in (("--members", members not in (None, 1)), ("--init-member", init_member is not None),
                        ("--freeze-stages", bool(freeze_stages))):
        if value:
            raise NucleoforgeError(f"{flag} applies to SpliceAI models, not to the {model_type} token head")
    if config_overrides and init is not None:
        raise NucleoforgeError("--config cannot be combined with --init: the init model fixes the architecture")
    set_seed(seed)  # the one model (member 0): a fresh encoder's or new head's weights depend on --seed only
    net, tokenizer = _token_head_model(model_type, init, config_overrides or {})
    max_nt = int(net.config.max_nucleotides)
    model_context = LM_CONTEXT if context is None else context
    if model_context < 0 or model_context % 2:
        raise NucleoforgeError(f"--context {model_context}: expected an even number >= 0 (context / 2 nt each side)")
    if width is None:
        width = min(dataset.block, max_nt - model_context)
    if width < 1 or width + model_context > max_nt:
        raise NucleoforgeError(f"the {model_type} model reads at most {max_nt} nt: --context {model_context} leaves "
                         + ("no labelled position" if max_nt <= model_context else
                            f"at most --width {max_nt - model_context}, got {width}"))  # fmt: skip
    net.config.splice_windows = {"context": model_context, "width": width}  # saved: evaluate-splice --data cuts the same windows
    return TokenHeadRecipe(dataset, model_type, net, tokenizer, model_context, width, fresh=init is None)
