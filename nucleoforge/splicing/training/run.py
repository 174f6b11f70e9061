"""``train_splice``: check the options, pick the family's recipe, train its members one after
another, assemble the model folder and write ``training.json`` / ``metrics.json``."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.splice_h5 import read_splice_dataset
from nucleoforge.splicing.training.data import class_counts, split_path
from nucleoforge.splicing.training.objective import (
    ExponentialDecay,
    SpliceMetrics,
    acceptor_donor,
    class_weights,
    decay_rate,
    evaluations,
)
from nucleoforge.splicing.training.recipe import Recipe
from nucleoforge.splicing.training.spliceai import quiet_trainer, spliceai_recipe
from nucleoforge.splicing.training.token_head import language_model_type, token_head_recipe
from nucleoforge.training.arguments import training_arguments
from nucleoforge.training.pretrain import JsonLogCallback, finish_distributed, replace_at_first_checkpoint

logger = logging.getLogger(__name__)

__all__ = ["reuse_freed_cpu_memory", "train_splice"]

_MANIFEST_COMMAND = "train-splice"
_CLASSES = ("neither", "acceptor", "donor")


def train_splice(
    data_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    context: int | None = None,
    config_overrides: dict[str, Any] | None = None,
    model_type: str | None = None,
    width: int | None = None,
    init: str | os.PathLike | None = None,
    init_member: int | None = None,
    freeze_stages: int = 0,
    members: int | None = None,
    epochs: float = 4.0,
    max_steps: int | None = None,
    batch_size: int = 64,
    eval_batch_size: int | None = None,
    learning_rate: float = 1e-3,
    lr_floor: float = 1e-5,
    lr_decay: float | None = None,
    seed: int = 42,
    save_steps: int | None = None,
    logging_steps: int = 50,
    bf16: bool | None = None,
    num_workers: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    trace_batches: bool = False,
    disable_tqdm: bool = False,
    extra_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a SpliceAI model (or an ensemble of ``members``) on a splice-data folder into ``output_dir``.

    See :mod:`nucleoforge.splicing.training` for the loss, schedule, transfer, members, resume and
    outputs. ``max_steps`` (optimizer steps per member) overrides ``epochs``; ``save_steps``
    checkpoints every N steps (default: every epoch). Returns the content of ``OUT/metrics.json``.
    ``output_dir`` must be missing or empty unless ``resume`` (continue its run) or ``overwrite``
    (replace it; the old folder stays until the new run's first checkpoint exists).
    """
    from nucleoforge.io.output_folders import prepare_output_folder

    data_dir, output_dir = Path(data_dir), Path(output_dir)
    out = prepare_output_folder(output_dir, command="train-splice", overwrite=overwrite, resume=resume,
                                resumable=("training.manifest.json", "member-*"), inputs=[data_dir, init])
    # a new run in a missing or empty folder that stops before its first checkpoint leaves nothing behind
    # (as an --overwrite run leaves the old folder): a plain rerun then starts again
    new_run = not resume and not out.staged and not (out.path.is_dir() and any(out.path.iterdir()))
    folder_existed = out.path.is_dir()
    dataset = read_splice_dataset(data_dir)
    inputs = {"dataset.json": data_dir / "dataset.json", "train.h5": split_path(dataset, "train"),
              "validation.h5": split_path(dataset, "validation")}  # fmt: skip
    _check_schedule(max_steps, epochs, batch_size, learning_rate, lr_floor, lr_decay)
    lm = language_model_type(model_type, init)
    if lm is not None:
        recipe: Recipe = token_head_recipe(dataset, lm, context=context, config_overrides=config_overrides, width=width,
                                           init=init, init_member=init_member, freeze_stages=freeze_stages,
                                           members=members, seed=seed)  # fmt: skip
    elif width is not None:
        raise NucleoforgeError("--width applies to language-model token heads (--model-type / --init of a BERT-family model)")
    else:
        recipe = spliceai_recipe(dataset, context=context, config_overrides=config_overrides, init=init,
                                 init_member=init_member, freeze_stages=freeze_stages, members=members)  # fmt: skip
    counts = class_counts(dataset, "train")
    weights = class_weights(counts)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # start the process group now (the Trainer's settings), so the checks below are in step
        _ = training_arguments(out.path, bf16=bf16).device
    settings = {
        "context": recipe.model_context, **recipe.architecture,
        "init": str(init) if init is not None else None, "init_member": init_member, "freeze_stages": freeze_stages,
        "members": recipe.members, "epochs": epochs if max_steps is None else None, "max_steps": max_steps,
        "batch_size": batch_size, "world_size": world, "learning_rate": learning_rate, "lr_floor": lr_floor,
        "lr_decay": lr_decay, "seed": seed, "bf16": bf16, **recipe.init_settings,
    }  # fmt: skip
    manifest = _check_manifest(out.path, resume, inputs, settings, recipe.manifest_model)
    run = _Run(recipe, out, weights, resume=resume, new_run=new_run, keep_folder=folder_existed, init=init,
               trace_batches=trace_batches, disable_tqdm=disable_tqdm,
               report={"class_weights": dict(zip(_CLASSES, weights.tolist())),
                       "class_counts": dict(zip(_CLASSES, counts.tolist())), "members": [], "ensemble": None},
               args=dict(batch_size=batch_size, eval_batch_size=eval_batch_size, bf16=bf16, num_workers=num_workers,
                         disable_tqdm=disable_tqdm, extra_args=extra_args, learning_rate=learning_rate,
                         num_train_epochs=epochs, max_steps=max_steps if max_steps is not None else -1,
                         logging_steps=logging_steps, save_strategy="steps" if save_steps else "epoch",
                         save_steps=save_steps or 500),
               schedule=dict(lr_floor=lr_floor, lr_decay=lr_decay, seed=seed))  # fmt: skip
    report = run.train(manifest)
    output_dir = out.target
    if run.main:
        _write_json(output_dir / "training.json", {
            "format": "nucleoforge-train-splice/1",
            "data": {"path": str(data_dir.resolve()), "dataset": dataset.meta, "inputs": manifest["inputs"]},
            "settings": settings,
            "init_model": manifest["model"],
            "class_counts": report["class_counts"],
            "class_weights": report["class_weights"],
            "members": [{k: v for k, v in m.items() if k != "evaluations"} for m in report["members"]],
            "ensemble": report["ensemble"],
            "versions": manifest["versions"],
        })  # fmt: skip
    finish_distributed()
    return _json_safe(report)


def _check_schedule(max_steps: int | None, epochs: float, batch_size: int, learning_rate: float, lr_floor: float,
                    lr_decay: float | None) -> None:  # fmt: skip
    if max_steps is not None and max_steps < 1:
        raise NucleoforgeError(f"--max-steps must be >= 1, got {max_steps}")
    if max_steps is None and not epochs > 0:
        raise NucleoforgeError(f"--epochs must be > 0, got {epochs}")
    if batch_size < 1:
        raise NucleoforgeError(f"--batch-size must be >= 1, got {batch_size}")
    if lr_decay is None:
        decay_rate(2, learning_rate, lr_floor)  # checks --lr and --lr-floor now, not after the data is read
    ExponentialDecay(learning_rate, lr_floor, lr_decay if lr_decay is not None else 1.0)


def _check_manifest(output_dir: Path, resume: bool, inputs: dict[str, Path], settings: dict[str, Any],
                    model: Any) -> dict[str, Any]:  # fmt: skip
    """The run manifest: what a resume must match (a ``resume`` with other settings or data is refused)."""
    from nucleoforge.io.outputs import manifest_differences, read_manifest, run_manifest

    manifest = run_manifest(_MANIFEST_COMMAND, inputs=inputs, parameters=settings, model=model)
    if resume:  # (a run in a non-empty folder without --resume was refused by prepare_output_folder)
        old = read_manifest(output_dir / "training")  # -> OUT/training.manifest.json
        manifest_file = output_dir / "training.manifest.json"
        if old is None:
            raise MissingPathError(f"--resume: {output_dir} holds no train-splice run (no {manifest_file.name})")
        diffs = manifest_differences(old, manifest)
        if diffs:
            raise NucleoforgeError(f"cannot resume {output_dir}: it was started with other settings or data (see {manifest_file}): "
                             + "; ".join(diffs))  # fmt: skip
    return manifest


@dataclass
class _Run:
    """The members of one run, trained one after another into ``out`` (then assembled)."""

    recipe: Recipe
    out: Any  # nucleoforge.io.output_folders.OutputFolder
    weights: np.ndarray
    resume: bool
    new_run: bool
    keep_folder: bool
    init: Any
    trace_batches: bool
    disable_tqdm: bool
    report: dict[str, Any]
    args: dict[str, Any]  # training_arguments() options shared by every member
    schedule: dict[str, Any]  # lr_floor, lr_decay, seed
    main: bool = True

    def train(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Train every member, assemble the model folder and evaluate it; returns the report."""
        from nucleoforge.io.outputs import write_manifest

        # an error before the first checkpoint removes the staging folder (the old one stays), or the new folder
        with _removed_if_untrained(self.out.path, self.new_run, keep_folder=self.keep_folder), self.out:
            finish_distributed()  # every rank has checked the folder before rank 0 writes into it
            self.main = _is_main()
            if self.main:
                self.out.path.mkdir(parents=True, exist_ok=True)
                if not self.resume:
                    write_manifest(self.out.path / "training", manifest)
            finish_distributed()
            for i in range(self.recipe.members):
                self.train_member(i)
        output_dir = self.out.target
        if self.main:
            self.recipe.assemble([output_dir / f"member-{i}" for i in range(self.recipe.members)], output_dir)
        finish_distributed()
        ensemble = self.recipe.ensemble_metrics(output_dir, self.weights, lambda: training_arguments(
            output_dir, eval_batch_size=self.args["eval_batch_size"] or self.args["batch_size"],
            disable_tqdm=self.disable_tqdm, bf16=self.args["bf16"]))  # fmt: skip
        if ensemble is None:
            ensemble = {k: v for k, v in self.report["members"][0]["final"].items() if k not in ("epoch", "step")}
        self.report["ensemble"] = ensemble
        self.write_metrics()
        return self.report

    def write_metrics(self, current: list[dict[str, Any]] | None = None, live: dict[str, Any] | None = None) -> None:
        """Rank 0: ``metrics.json`` with the finished members and the one in training (``current``)."""
        if not self.main:
            return
        rows = list(self.report["members"])
        if current is not None:
            rows.append({**(live or {}), "evaluations": current})
        _write_json(self.out.path / "metrics.json", {**self.report, "members": rows})  # moves with the folder at its commit

    def train_member(self, i: int) -> None:
        from transformers import set_seed

        member_dir = self.out.path / f"member-{i}"  # out.path: the staging folder until the first checkpoint
        done = member_dir / "member.json"
        if done.is_file():
            self.report["members"].append(json.loads(done.read_text(encoding="utf-8")))
            logger.info("member %d: already trained (%s), skipped", i, done)
            return
        member_seed = self.schedule["seed"] + i
        set_seed(member_seed)  # the fresh member's initial weights depend on its seed
        model, frozen = self.recipe.member_model(i)
        live = {"member": i, "seed": member_seed, "init": str(self.init) if self.init is not None else None,
                "init_member": self.recipe.init_member(i)}  # fmt: skip
        trainer = self.trainer(model, frozen, member_dir, i, member_seed, live)
        checkpoint = None
        if self.resume and any(member_dir.glob("checkpoint-*")):
            from transformers.trainer_utils import get_last_checkpoint

            checkpoint = get_last_checkpoint(str(member_dir))
        replace_at_first_checkpoint(trainer, self.out)  # --overwrite: the old folder is replaced at member 0's first checkpoint
        with _worker_errors():  # --num-workers: a worker's one-line error, not its traceback
            result = trainer.train(resume_from_checkpoint=checkpoint)
        member_dir, done = self.out.path / member_dir.name, self.out.path / member_dir.name / "member.json"
        history = evaluations(trainer.state.log_history)
        if not history or history[-1]["step"] != trainer.state.global_step:
            trainer.evaluate()  # the end of a run that stopped inside an epoch
            history = evaluations(trainer.state.log_history)
        trainer.save_model(str(member_dir))
        self.recipe.save_member(member_dir, self.main)
        train_metrics = dict(result.metrics)
        if "train_samples_per_second" in train_metrics:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            train_metrics["train_positions_per_second"] = round(
                train_metrics["train_samples_per_second"] * self.recipe.positions_per_example * world, 1)
        entry = {**live, "steps": trainer.state.global_step, "lr_decay": getattr(trainer, "decay", self.schedule["lr_decay"]),
                 "evaluations": history, "final": history[-1], "train": train_metrics}  # fmt: skip
        if self.main:
            _write_json(done, entry)
        self.report["members"].append(entry)
        self.write_metrics()
        finish_distributed()

    def trainer(self, model: torch.nn.Module, frozen: list[torch.nn.Module], member_dir: Path, i: int, member_seed: int,
                live: dict[str, Any]) -> Any:  # fmt: skip
        """The ``Trainer`` of member ``i``: Adam without weight decay or clipping, an evaluation
        every epoch, the class-weighted loss and the schedule."""
        args = training_arguments(member_dir, seed=member_seed, weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.999,
                                  adam_epsilon=1e-8, optim="adamw_torch", max_grad_norm=0.0, eval_strategy="epoch",
                                  **self.args)  # fmt: skip
        recipe = self.recipe
        trainer = recipe.trainer_class(
            model=model, args=args, train_dataset=recipe.train_set, eval_dataset=recipe.val_set, data_collator=recipe.collate,
            compute_metrics=SpliceMetrics(), preprocess_logits_for_metrics=acceptor_donor,
            callbacks=[JsonLogCallback(member_dir / "log.jsonl"),
                       _MetricsFileCallback(lambda current: self.write_metrics(current, live), i, self.disable_tqdm)],
            class_weights=self.weights, lr_floor=self.schedule["lr_floor"], lr_decay=self.schedule["lr_decay"],
            frozen_norms=frozen, trace_dir=member_dir / "trace" if self.trace_batches else None, member=i,
        )  # fmt: skip
        quiet_trainer(trainer, self.disable_tqdm)
        return trainer


class _MetricsFileCallback(TrainerCallback):
    """After every evaluation, rewrite ``OUT/metrics.json`` (rank 0) with the runs so far and,
    unless quiet, print one line of validation metrics above the progress bar."""

    def __init__(self, write: Callable[[list[dict[str, Any]]], None], member: int, quiet: bool) -> None:
        self.write, self.member, self.quiet = write, member, quiet

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
        if not state.is_world_process_zero:
            return
        self.write(evaluations(state.log_history))
        if not self.quiet and metrics:
            from tqdm.auto import tqdm

            def show(key: str) -> str:
                value = metrics.get(f"eval_{key}")
                return "nan" if value is None or not math.isfinite(value) else f"{value:.4f}"

            tqdm.write(f"member {self.member} epoch {state.epoch:.2f} step {state.global_step}: validation acceptor "
                       f"top-k {show('acceptor_topk')} PR-AUC {show('acceptor_pr_auc')} | donor top-k "
                       f"{show('donor_topk')} PR-AUC {show('donor_pr_auc')} | loss {show('loss')}", file=sys.stderr)  # fmt: skip


def _json_safe(value: Any) -> Any:
    """NaN/inf -> None (metrics.json stays standard JSON), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def _worker_errors() -> Iterator[None]:
    """A :class:`NucleoforgeError` raised in a dataloader worker comes back wrapped with the
    worker's traceback in its message; re-raise it with the original one-line message."""
    try:
        yield
    except NucleoforgeError as exc:
        text = str(exc)
        marker = f"{NucleoforgeError.__module__}.{NucleoforgeError.__name__}: "
        if text.startswith("Caught ") and marker in text:
            raise NucleoforgeError(text.rsplit(marker, 1)[1].strip()) from None
        raise


@contextlib.contextmanager
def _removed_if_untrained(folder: Path, new_run: bool, *, keep_folder: bool) -> Iterator[None]:
    """On an error (or an interrupt) of a ``new_run``, remove what it wrote into ``folder`` unless a
    member has a checkpoint or is finished (then the run is resumable); the folder itself stays
    when ``keep_folder`` (it existed, empty, before the run). Rank 0 only."""
    try:
        yield
    except BaseException:
        if new_run and _is_main() and folder.is_dir() and not any(folder.glob("member-*/checkpoint-*")) \
                and not any(folder.glob("member-*/member.json")):  # fmt: skip
            if keep_folder:
                for item in folder.iterdir():
                    shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
            else:
                shutil.rmtree(folder, ignore_errors=True)
        raise


def _is_main() -> bool:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def reuse_freed_cpu_memory() -> bool:
    """Let glibc serve large CPU tensors from its heap and keep freed memory for reuse.

    By default glibc ``mmap``s every allocation over 32 MB and unmaps it when freed, so each
    training step page-faults (and zero-fills) its activations again: at batch 64 that doubles the
    step time of SpliceAI-400 on CPU (``bench/train_splice.py``). This sets ``mallopt(M_MMAP_MAX,
    0)`` and ``mallopt(M_TRIM_THRESHOLD, 2**31 - 1)`` for the process (the environment variables
    ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=…`` do the same at start-up); the resident memory
    then stays near the peak of a step. ``nucleoforge train-splice`` calls it on CPU. Returns
    whether it applied (glibc Linux only).
    """
    import ctypes
    import platform

    if platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, …)
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(mallopt(m_mmap_max, 0) == 1 and mallopt(m_trim_threshold, 2**31 - 1) == 1)
