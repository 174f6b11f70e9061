"""Training SpliceAI: the class-weighted ``Trainer``, the architecture, transfer and freezing, and
the members assembled into one ensemble (the SpliceAI :class:`~nucleoforge.splicing.training.recipe.Recipe`)."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.splice_h5 import SpliceDataset
from nucleoforge.models.spliceai import SPLICEAI_10K_STAGES, SPLICEAI_VARIANTS, SpliceAIConfig, SpliceAIModel
from nucleoforge.splicing.training.data import SpliceBlockDataset, collate_blocks
from nucleoforge.splicing.training.objective import (
    ExponentialDecay,
    SpliceMetrics,
    acceptor_donor,
    decay_rate,
    eval_metrics,
    weighted_splice_loss,
)
from nucleoforge.splicing.training.recipe import Recipe

__all__ = ["CONTEXTS", "SpliceAIRecipe", "SpliceTrainer", "assemble_members", "freeze_first_stages", "quiet_trainer",
           "splice_config", "spliceai_recipe", "trunk_config"]

#: how a model trained from a per-tissue init (Pangolin) names itself: only its trunks are the init's
NEW_CLASSIFIER = "trunks with a new acceptor/donor classifier, trained by train-splice"

#: ``--context`` values: total context (both sides) -> paper variant
CONTEXTS: dict[int, str] = {80: "spliceai-80", 400: "spliceai-400", 2000: "spliceai-2k", 10000: "spliceai-10k"}


class SpliceTrainer(Trainer):
    """``Trainer`` with the class-weighted SpliceAI loss, the exponential learning-rate decay,
    frozen BatchNorms kept in eval mode and an optional per-rank trace of the trained rows.

    * ``class_weights``: ``[w_neither, w_acceptor, w_donor]`` (:func:`~nucleoforge.splicing.training.objective.class_weights`);
    * ``lr_floor`` / ``lr_decay``: the schedule (γ from the run's total steps when ``lr_decay`` is None);
    * ``frozen_norms``: BatchNorm modules put back in eval mode at every training step;
    * ``trace_dir``: each rank appends ``step idx,idx,…`` per training batch to ``rank{R}.txt``;
    * ``member``: named in the error of a step whose loss or gradient norm is not finite
      (:class:`_StopOnNonFinite`: training stops there, before the optimizer step).
    """

    def __init__(self, *args: Any, class_weights: Sequence[float], lr_floor: float = 1e-5, lr_decay: float | None = None,
                 frozen_norms: Sequence[torch.nn.Module] = (), trace_dir: str | os.PathLike | None = None,
                 member: int | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.member = member
        self.step_loss: torch.Tensor | None = None  # the last micro-batch loss of the current optimizer step
        self.add_callback(_StopOnNonFinite(self))
        self.model_accepts_loss_kwargs = False  # the loss is a mean per batch; accumulation averages
        self.class_weights = torch.as_tensor(np.asarray(class_weights, dtype=np.float32))
        self.lr_floor, self.lr_decay = lr_floor, lr_decay
        self.frozen_norms = list(frozen_norms)
        self.trace_dir = Path(trace_dir) if trace_dir else None

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            lr = self.args.learning_rate
            gamma = self.lr_decay if self.lr_decay is not None else decay_rate(num_training_steps, lr, self.lr_floor)
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer, ExponentialDecay(lr, self.lr_floor, gamma))
            self.decay = gamma
        return self.lr_scheduler

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        index = inputs.get("block_index")
        if model.training:
            for norm in self.frozen_norms:
                norm.eval()
            if self.trace_dir is not None and index is not None:
                self._trace(index)
        logits, probabilities = self.forward_splice(model, inputs)
        loss = weighted_splice_loss(logits, inputs["labels"], self.class_weights)
        return (loss, {"probabilities": probabilities}) if return_outputs else loss

    def training_step(self, model: torch.nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        last = loss.detach()
        # the step's loss for _StopOnNonFinite: the latest micro-batch's, or the first one that is not finite
        self.step_loss = last if self.step_loss is None else torch.where(torch.isfinite(self.step_loss), last, self.step_loss)
        return loss

    def forward_splice(self, model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits for the loss, class probabilities)`` of one batch: SpliceAI's per-member logits
        ``(B, M, L, 3)`` and the ensemble's probabilities ``(B, L, 3)``."""
        out = model(input=inputs["input"], output_members=True)
        return out.member_logits, out.probabilities

    def _trace(self, index: torch.Tensor) -> None:
        self.trace_dir.mkdir(parents=True, exist_ok=True)
        rows = ",".join(str(int(i)) for i in index.detach().cpu())
        with open(self.trace_dir / f"rank{self.args.process_index}.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{self.state.global_step} {rows}\n")


def quiet_trainer(trainer: Trainer, quiet: bool) -> None:
    """Without progress bars, no printed logs either (they go to log.jsonl and metrics.json)."""
    if quiet:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)


class _StopOnNonFinite(TrainerCallback):
    """Before each optimizer step: a loss or gradient norm that is not finite stops the run with one
    error naming the step (1-based, as in ``log.jsonl``) and the likely causes; the weights are not
    updated and the run saves nothing more. One device sync per step."""

    def __init__(self, trainer: SpliceTrainer) -> None:
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001
        trainer = self.trainer
        loss, trainer.step_loss = trainer.step_loss, None
        grads = [p.grad.detach() for p in trainer.model.parameters() if p.grad is not None]
        norms = [torch.linalg.vector_norm(g.float()) for g in grads]
        norm = torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
        loss = loss.float().to(norm.device) if loss is not None else torch.zeros((), device=norm.device)
        values = torch.stack([norm.float(), loss]).cpu()  # the one sync
        if bool(torch.isfinite(values).all()):
            return
        grad_norm, loss_value = (float(v) for v in values)
        bad = [name for name, v in (("loss", loss_value), ("gradient norm", grad_norm)) if not math.isfinite(v)]
        which = "loss and the gradient norm are" if len(bad) == 2 else f"{bad[0]} is"
        member = f" (member {trainer.member})" if trainer.member is not None else ""
        raise NucleoforgeError(
            f"train-splice stopped at step {state.global_step + 1}{member}: the {which} not finite (loss {loss_value:g}, "
            f"gradient norm {grad_norm:g}); the learning rate is likely too high (--lr {args.learning_rate:g}: try 10x "
            "lower) or the labels are bad (check Y and W of the training split)")


# ---------------------------------------------------------------------------- models
def splice_config(context: int | None = None, overrides: dict[str, Any] | None = None) -> SpliceAIConfig:
    """A one-member :class:`SpliceAIConfig` for ``context`` (80, 400, 2000, 10000; default 10000),
    or from ``overrides`` (``stages``, ``channels``, ``batch_norm_eps``); both must agree."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {"stages", "channels", "batch_norm_eps"})
    if unknown:
        raise NucleoforgeError(f"--config: unknown SpliceAI setting(s) {', '.join(unknown)}; expected stages, channels, batch_norm_eps")
    if context is not None and context not in CONTEXTS:
        raise NucleoforgeError(f"--context {context}: expected one of {', '.join(map(str, CONTEXTS))} (SpliceAI-80/400/2k/10k)")
    if "stages" not in overrides:
        n = SPLICEAI_VARIANTS[CONTEXTS[context or 10000]]
        overrides["stages"] = [list(s) for s in SPLICEAI_10K_STAGES[:n]]
    config = SpliceAIConfig(**overrides, num_members=1)
    if context is not None and config.context != context:
        raise NucleoforgeError(f"--context {context} does not match the --config stages {config.stages} (context {config.context})")
    return config


def freeze_first_stages(model: SpliceAIModel, n: int) -> list[torch.nn.Module]:
    """Freeze the input convolutions and the first ``n`` stages of every member (``n = 0``: nothing).

    Returns the frozen BatchNorm modules; :class:`SpliceTrainer` keeps them in eval mode, so their
    running statistics stay as loaded too.
    """
    stages = len(model.config.stages)
    if not 0 <= n <= stages:
        raise NucleoforgeError(f"--freeze-stages {n}: the model has {stages} stage(s)")
    if n == 0:
        return []
    frozen: list[torch.nn.Module] = []
    for member in model.members:
        for module in (member.input_conv, member.input_skip, *member.stages[:n]):
            module.requires_grad_(False)
            frozen += [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    return frozen


def _architecture(config: SpliceAIConfig) -> dict[str, Any]:
    """The settings that shape a member's network (what members of one ensemble and a resume share):
    stages, channels, and the activation and BatchNorm eps (an OpenSpliceAI init keeps its
    LeakyReLU(0.1) and eps 1e-5)."""
    return {"stages": [list(s) for s in config.stages], "channels": config.channels, "activation": config.activation,
            "activation_slope": config.activation_slope, "batch_norm_eps": config.batch_norm_eps}


def _fine_tuned(config: SpliceAIConfig, init: str, how: str = "fine-tuned by train-splice") -> SpliceAIConfig:
    """The trained model's config: the init's architecture, family and licence (its weights carry
    over), named as ``how`` from it (no longer the converted source files)."""
    from nucleoforge.models.spliceai.pretrained import fill_provenance

    config = SpliceAIConfig(**config.to_dict())
    fill_provenance(config, init)  # a named init ("spliceai-10k"): its display name and licence
    name = config.weights_name or Path(init).name
    return SpliceAIConfig(**{**config.to_dict(), "weights_name": f"{name}, {how}", "weights_source": None})


def trunk_config(config: SpliceAIConfig) -> SpliceAIConfig:
    """A SpliceAI-format config (3-class softmax head) on the trunk of a per-tissue (Pangolin-head)
    model: its stages, channels, activation, eps and licence; family ``spliceai`` (SpliceAI's
    variant rules and INFO key: the outputs are acceptor/donor now)."""
    per_tissue = ("id2label", "label2id", "num_labels", "tissues", "member_tissues")
    kept = {k: v for k, v in config.to_dict().items() if k not in per_tissue}
    return SpliceAIConfig(**{**kept, "head": "softmax", "weights_family": "spliceai"})


def single_member(config: SpliceAIConfig, source: SpliceAIModel | None = None, member: int = 0) -> SpliceAIModel:
    """A one-member model of ``config``; with ``source``, its member ``member``'s weights (of a
    per-tissue ``source``, everything but the classifier: the 3-class classifier starts new)."""
    # new weights: a calibration fitted to the init model's outputs no longer applies
    one = SpliceAIConfig(**{**config.to_dict(), "num_members": 1, "calibration_temperatures": None, "calibration": None})
    model = SpliceAIModel(one)
    if source is None:
        return model
    state = source.members[member].state_dict()
    if source.config.head == one.head:
        model.members[0].load_state_dict(state, strict=True)
        return model
    trunk = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    missing, unexpected = model.members[0].load_state_dict(trunk, strict=False)
    if unexpected or sorted(missing) != ["classifier.bias", "classifier.weight"]:
        raise NucleoforgeError(f"--init member {member}: its trunk does not fit a SpliceAI member (missing {missing}, "
                               f"unexpected {unexpected})")
    return model


def assemble_members(folders: Sequence[str | os.PathLike], output_dir: str | os.PathLike) -> SpliceAIModel:
    """Put the one-member models saved in ``folders`` into one ensemble saved to ``output_dir``.

    Member ``i``'s weights go to ``members.i.*``; the architecture of every folder must be the same.
    Writes ``config.json`` and ``model.safetensors``; returns the ensemble (eval mode), whose
    probabilities are the mean of the members' softmax outputs.
    """
    parts = [SpliceAIModel.from_pretrained(f) for f in folders]
    if not parts:
        raise NucleoforgeError("assemble_members: no member folders given")
    first = parts[0].config
    for f, m in zip(folders, parts):
        if _architecture(m.config) != _architecture(first) or m.config.num_members != 1:
            raise NucleoforgeError(f"{f}: member architecture ({_architecture(m.config)}, {m.config.num_members} members) "
                                   f"differs from {folders[0]}'s ({_architecture(first)})")  # fmt: skip
    config = SpliceAIConfig(**{**first.to_dict(), "num_members": len(parts)})
    config.architectures = ["SpliceAIModel"]
    ensemble = SpliceAIModel(config)
    for i, m in enumerate(parts):
        ensemble.members[i].load_state_dict(m.members[0].state_dict(), strict=True)
    ensemble.save_pretrained(str(output_dir))
    return ensemble.eval()


# ---------------------------------------------------------------------------- the recipe
class SpliceAIRecipe(Recipe):
    """SpliceAI members (fresh, or each from a member of the init model), assembled into one ensemble."""

    def __init__(self, dataset: SpliceDataset, config: SpliceAIConfig, source: SpliceAIModel | None, members: int,
                 init_member: int | None, freeze_stages: int) -> None:  # fmt: skip
        context = config.context
        train_set = SpliceBlockDataset(dataset, "train", context)
        val_set = SpliceBlockDataset(dataset, "validation", context)
        super().__init__(members=members, model_context=context, train_set=train_set, val_set=val_set,
                         collate=collate_blocks, trainer_class=SpliceTrainer, positions_per_example=dataset.block,
                         architecture=_architecture(config), manifest_model=source,
                         init_settings={"init_classifier": "new"} if source is not None and source.config.head != config.head
                         else {})  # fmt: skip
        self.config, self.source, self.first_member, self.freeze_stages = config, source, init_member, freeze_stages

    def init_member(self, i: int) -> int | None:
        if self.source is None:
            return None
        return self.first_member if self.first_member is not None else i

    def member_model(self, i: int) -> tuple[torch.nn.Module, list[torch.nn.Module]]:
        k = self.init_member(i)
        model = single_member(self.config, self.source, k) if self.source is not None else single_member(self.config)
        return model, freeze_first_stages(model, self.freeze_stages)

    def assemble(self, member_dirs: Sequence[Path], output_dir: Path) -> None:
        assemble_members(member_dirs, output_dir)
        if self.source is not None:
            licence = Path(str(getattr(self.source, "name_or_path", "") or "")) / "LICENSE"
            if licence.is_file():  # e.g. the CC BY-NC 4.0 note of the converted SpliceAI weights
                shutil.copyfile(licence, output_dir / "LICENSE")

    def ensemble_metrics(self, output_dir: Path, weights: Any, arguments: Callable[[], Any]) -> dict[str, Any] | None:
        if self.members == 1:
            return None
        args = arguments()
        ensemble = SpliceAIModel.from_pretrained(str(output_dir))
        scorer = SpliceTrainer(model=ensemble, args=args, eval_dataset=self.val_set, data_collator=collate_blocks,
                               compute_metrics=SpliceMetrics(), preprocess_logits_for_metrics=acceptor_donor,
                               class_weights=weights)  # fmt: skip
        quiet_trainer(scorer, args.disable_tqdm)
        return eval_metrics(scorer.evaluate())


def _per_tissue_members(config: SpliceAIConfig, init: str, init_member: int | None, members: int | None) -> int:
    """Members trained from a per-tissue init: ``--members`` (default: the init's), member ``i`` from
    its member ``i`` (Pangolin's order: heart 1-3, liver 1-3, brain 1-3, testis 1-3), or every
    member from ``--init-member``."""
    if members is None:
        members = config.num_members
    if init_member is None and members > config.num_members:
        raise NucleoforgeError(f"--members {members} but {init} has {config.num_members} member(s); member i starts from "
                               f"the init's member i, or pass --init-member K to start every member from member K")
    return members


def spliceai_recipe(dataset: SpliceDataset, *, context: int | None, config_overrides: dict[str, Any] | None,
                    init: str | os.PathLike | None, init_member: int | None, freeze_stages: int,
                    members: int | None) -> SpliceAIRecipe:  # fmt: skip
    """Check the SpliceAI options (one error naming the flag) and build the recipe: the architecture
    from ``context``/``config_overrides`` or the ``init`` model, the number of members, the splits."""
    source = None
    if init is not None:
        if config_overrides:
            raise NucleoforgeError("--config cannot be combined with --init: the init model fixes the architecture")
        source = SpliceAIModel.from_pretrained(str(init))
        config = source.config
        if context is not None and context != config.context:
            raise NucleoforgeError(f"--context {context} does not match the context of the --init model {init} ({config.context})")
        per_tissue = config.head != "softmax"  # Pangolin: the trunks carry over, a 3-class classifier starts new
        config = _fine_tuned(config, str(init), NEW_CLASSIFIER if per_tissue else "fine-tuned by train-splice")
        if init_member is not None and not 0 <= init_member < config.num_members:
            raise NucleoforgeError(f"--init-member {init_member}: {init} has members 0..{config.num_members - 1}")
        if per_tissue:
            members = _per_tissue_members(config, str(init), init_member, members)
            config = trunk_config(config)
        elif init_member is None:
            if members is not None and members != config.num_members:
                raise NucleoforgeError(f"--members {members} but {init} has {config.num_members} member(s); member i starts from "
                                 f"the init's member i, or pass --init-member K to start every member from member K")  # fmt: skip
            members = config.num_members
    else:
        if init_member is not None:
            raise NucleoforgeError("--init-member needs --init")
        if freeze_stages:
            raise NucleoforgeError("--freeze-stages needs --init (freezing randomly initialised stages trains nothing useful)")
        config = splice_config(context, config_overrides)
    members = 1 if members is None else members
    if members < 1:
        raise NucleoforgeError(f"--members must be >= 1, got {members}")
    if not 0 <= freeze_stages <= len(config.stages):
        raise NucleoforgeError(f"--freeze-stages {freeze_stages}: the model has {len(config.stages)} stage(s)")
    return SpliceAIRecipe(dataset, config, source, members, init_member, freeze_stages)
