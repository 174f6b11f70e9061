"""Masked-language-model pretraining on ``transformers.Trainer`` (one CPU, one GPU or DDP via torchrun).

:func:`build_trainer` is the reusable piece (model + datasets + collator + ``TrainingArguments``
→ a :class:`NucleoTrainer`); :func:`pretrain` wires it to FASTA corpora for the ``nucleoforge
pretrain`` command. Under ``torchrun --nproc_per_node=N`` nothing changes: accelerate shards the
batches of the streaming dataset so each rank trains on different chunks, and only rank 0 saves.

Exact resumption: the training stream depends only on the seed and epoch, masks depend only on
per-chunk seeds, and the Trainer restores optimizer, scheduler and RNG state, so a run resumed
from ``checkpoint-N`` sees the same batches with the same masks as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from nucleoforge import registry
from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.output_folders import OutputFolder, prepare_output_folder
from nucleoforge.training.arguments import training_arguments
from nucleoforge.tokenization import IGNORE_INDEX
from nucleoforge.training.collators import MaskingCollator, build_collator
from nucleoforge.training.schedules import MaskingSchedule, StepMasking, parse_schedule
from nucleoforge.training.data import FastaChunkDataset, PaddingCollator, _world, masked_eval_examples
from nucleoforge.training.metrics import MLMAccuracy, argmax_logits

logger = logging.getLogger(__name__)

#: model types ``--model-type`` accepts: every BERT-family entry of the registry
MODEL_TYPES = tuple(f.model_type for f in registry.families(kind="bert"))


def bert_family(model_type: str) -> registry.ModelFamily:
    """The registry entry of a BERT-family model type; other types are refused naming the known ones."""
    entry = registry.family(model_type)
    if entry.kind != "bert":
        raise NucleoforgeError(f"model type {model_type!r} is not a BERT-family language model; expected one of "
                         f"{', '.join(f.model_type for f in registry.families(kind='bert'))}")
    return entry


def _figure(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def size_line(model: torch.nn.Module) -> str:
    """One line on what a training run will hold: ``model: splicebert, 1.2 M parameters, checkpoints ~14 MB each``.

    A checkpoint holds the weights and buffers (in their dtype) plus AdamW's two moments of every
    trainable parameter; the scheduler, RNG and trainer state add a few kB.
    """
    params = list(model.parameters())
    count = sum(p.numel() for p in params)
    weights = sum(p.numel() * p.element_size() for p in params) + sum(b.numel() * b.element_size() for b in model.buffers())
    moments = 2 * sum(p.numel() * p.element_size() for p in params if p.requires_grad)
    size = float(weights + moments)
    unit = next((u for u, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)) if size >= f), "B")
    scale = {"GB": 1e9, "MB": 1e6, "kB": 1e3, "B": 1.0}[unit]
    number = next((f"{_figure(count / f)} {u}" for u, f in (("B", 1e9), ("M", 1e6), ("k", 1e3)) if count >= f), str(count))
    name = getattr(getattr(model, "config", None), "model_type", None) or type(model).__name__
    return f"model: {name}, {number} parameters, checkpoints ~{_figure(size / scale)} {unit} each"


def new_model(model_type: str, overrides: dict[str, Any] | None = None, head: str = "ForMaskedLM") -> tuple[Any, Any]:
    """A freshly initialised ``(model, tokenizer)`` of ``model_type`` with config ``overrides``.

    ``head``: ``ForMaskedLM``, ``ForSequencePrediction``, ``ForTokenPrediction`` or ``ForContactPrediction``.
    """
    from nucleoforge.tokenization import NucleotideTokenizer

    entry = bert_family(model_type)
    config = entry.config_cls()(**(overrides or {}))
    tokenizer = NucleotideTokenizer.for_config(config)
    if len(tokenizer) != config.vocab_size:
        raise NucleoforgeError(f"config vocab_size {config.vocab_size} differs from the {model_type} vocabulary ({len(tokenizer)})")
    model = entry.model_class(head)(config)
    return model, tokenizer


#: weights a model loaded for training may lack in its folder (a new head, initialised): the MLM head,
#: the prediction/contact heads and the [CLS] pooler of sequence prediction
NEW_HEAD_PREFIXES = ("lm_head.", "head.", "bert.pooler.")


def load_model(path: str | os.PathLike, head: str = "ForMaskedLM", **kwargs: Any) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a saved nucleoforge folder, with the requested head.

    Weights the head does not have (e.g. the MLM head when loading for sequence prediction) are
    dropped; new head weights are initialised. ``kwargs`` update the config (num_labels, problem_type, …).
    """
    from transformers import AutoConfig, AutoTokenizer

    from nucleoforge.io.checkpoints import folder_model_type, load_model_folder

    path = registry.locate(path)  # a short name or hub id: the hub cache's folder
    found = folder_model_type(path)  # first: a missing or foreign folder is one clear error
    try:
        entry = bert_family(found)
    except ValueError as exc:
        raise NucleoforgeError(f"{path}: {exc}") from None
    registry.register_auto_classes()
    config = AutoConfig.from_pretrained(path, **kwargs)

    # Only a head the folder does not have may start new (initialised); every encoder weight must load.
    model = load_model_folder(entry.model_class(head).from_pretrained, path, model_types=[entry.model_type],
                              what=f"a {entry.name} model", allow_missing=NEW_HEAD_PREFIXES, config=config)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model, tokenizer


# ---------------------------------------------------------------------------- trainer
class PretrainCollator:
    """Masks raw examples with ``masker``; pads examples that already carry ``labels`` (the eval set).

    With a :class:`MaskingSchedule` the training batches are only padded (:meth:`MaskingSchedule.defer`):
    :class:`NucleoTrainer` masks each one at the step that trains it."""

    def __init__(self, masker: MaskingCollator | MaskingSchedule, pad_token_id: int = 0) -> None:
        self.masker = masker
        self.padder = PaddingCollator(pad_token_id)

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if "labels" in examples[0]:
            return self.padder(examples)
        if isinstance(self.masker, MaskingSchedule):
            return self.masker.defer(examples)
        return self.masker(examples)


class NucleoTrainer(StepMasking, Trainer):
    """``Trainer`` with masked-token accuracy in the training logs and an optional batch trace.

    * ``mlm_accuracy`` of the training batches since the last log is added to each training log
      when the labels are token ids (MLM).
    * ``trace_dir``: every rank appends ``step crc32(input_ids) crc32(labels) BxT masked`` per batch to
      ``trace_dir/rank{R}.txt`` — to check sharding across ranks and identical order on resume.
    * The loss is the model's own mean loss; gradient accumulation averages over micro-batches.
    * A masking schedule (:attr:`masking`) masks each deferred batch at its step (:class:`StepMasking`).
    """

    def __init__(self, *args: Any, trace_dir: str | os.PathLike | None = None, track_mlm_accuracy: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # our models return a mean loss and ignore num_items_in_batch
        self.model_accepts_loss_kwargs = False
        self.trace_dir = Path(trace_dir) if trace_dir else None
        self.track_mlm_accuracy = track_mlm_accuracy
        self._correct = torch.zeros((), dtype=torch.long)
        self._total = torch.zeros((), dtype=torch.long)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        inputs = self.mask_scheduled(inputs)
        if self.trace_dir is not None and model.training:
            self._trace(inputs)
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        labels = inputs.get("labels")
        if self.track_mlm_accuracy and model.training and labels is not None and labels.dim() == 2 and not labels.is_floating_point():
            logits = outputs["logits"] if isinstance(outputs, dict) else outputs[1]
            if logits.dim() == 3 and logits.shape[:2] == labels.shape:
                with torch.no_grad():
                    keep = labels != IGNORE_INDEX
                    self._correct = self._correct.to(labels.device) + (logits.argmax(-1)[keep] == labels[keep]).sum()
                    self._total = self._total.to(labels.device) + keep.sum()
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self.track_mlm_accuracy and int(self._total) > 0:
            correct, total = self._correct.clone(), self._total.clone()
            if self.args.world_size > 1 and torch.distributed.is_initialized():
                torch.distributed.all_reduce(correct)
                torch.distributed.all_reduce(total)
            logs["mlm_accuracy"] = round(float(correct) / max(1, int(total)), 4)
            self._correct.zero_()
            self._total.zero_()
        super().log(logs, start_time)

    def _trace(self, inputs: dict[str, torch.Tensor]) -> None:
        self.trace_dir.mkdir(parents=True, exist_ok=True)
        ids = inputs["input_ids"].detach().cpu().numpy().astype(np.int64)
        labels = inputs.get("labels")
        lab = labels.detach().cpu().numpy().astype(np.int64) if labels is not None else np.zeros(0, np.int64)
        with open(self.trace_dir / f"rank{self.args.process_index}.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{self.state.global_step} {zlib.crc32(ids.tobytes())} {zlib.crc32(lab.tobytes())} {ids.shape[0]}x{ids.shape[1]} "
                     f"{int((lab != IGNORE_INDEX).sum())}\n")


class JsonLogCallback(TrainerCallback):
    """Append every log dict (with its step) to ``path`` as JSON lines, on the main process."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if state.is_world_process_zero and logs:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": state.global_step, **logs}) + "\n")


class ReplaceAtFirstCheckpoint(TrainerCallback):
    """Swap an ``--overwrite`` run's staging folder in place of the old folder once the first
    checkpoint is saved (:class:`~nucleoforge.io.output_folders.OutputFolder`), then point the trainer at
    the real folder (:func:`follow_output_folder`)."""

    def __init__(self, trainer: Trainer, out: OutputFolder) -> None:
        self.trainer = trainer
        self.out = out

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.out.staged:
            self.out.commit()
            follow_output_folder(self.trainer, self.out)


def follow_output_folder(trainer: Trainer, out: OutputFolder) -> None:
    """After :meth:`OutputFolder.commit`: the trainer's paths that pointed into the staging folder
    (checkpoints, the best checkpoint, the JSON log, the batch trace) point into the real folder;
    the saved checkpoints' ``trainer_state.json`` name the best checkpoint there too."""
    args, state = trainer.args, trainer.state
    staged_best = state.best_model_checkpoint
    args.output_dir = str(out.relocate(args.output_dir))
    if staged_best:
        state.best_model_checkpoint = str(out.relocate(staged_best))
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, JsonLogCallback):
            callback.path = out.relocate(callback.path)
    if getattr(trainer, "trace_dir", None) is not None:
        trainer.trace_dir = out.relocate(trainer.trace_dir)
    if staged_best and state.best_model_checkpoint != staged_best and trainer.is_world_process_zero():
        for saved in Path(args.output_dir).glob("checkpoint-*/trainer_state.json"):
            data = json.loads(saved.read_text(encoding="utf-8"))
            if data.get("best_model_checkpoint") == staged_best:
                data["best_model_checkpoint"] = state.best_model_checkpoint
                saved.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def replace_at_first_checkpoint(trainer: Trainer, out: OutputFolder) -> Trainer:
    """Make ``trainer`` swap ``out``'s staging folder in at its first checkpoint (nothing to do
    when ``out`` has none); returns ``trainer``."""
    if out.staged:
        trainer.add_callback(ReplaceAtFirstCheckpoint(trainer, out))
    return trainer


def build_trainer(
    model: torch.nn.Module,
    train_dataset: Any,
    eval_dataset: Any,
    data_collator: Callable,
    args: TrainingArguments,
    *,
    compute_metrics: Callable | None = None,
    preprocess_logits_for_metrics: Callable | None = None,
    callbacks: Iterable[TrainerCallback] = (),
    trace_dir: str | os.PathLike | None = None,
    log_file: str | os.PathLike | None = None,
    track_mlm_accuracy: bool = True,
    announce: Callable[[str], None] | None = None,
) -> NucleoTrainer:
    """A :class:`NucleoTrainer` for any model/dataset/collator (MLM defaults when metrics are not given).

    With a :class:`MaskingSchedule` as (or inside) the collator, the trainer masks each batch at
    its step. ``log_file`` receives every log as JSON lines; with ``args.disable_tqdm`` the logs
    are not printed either (quiet runs print nothing). ``announce`` is called (on rank 0) with
    :func:`size_line` of the model, before any progress bar starts.
    """
    callbacks = list(callbacks)
    masker = getattr(data_collator, "masker", data_collator)
    if log_file is not None:
        callbacks.append(JsonLogCallback(log_file))
    if compute_metrics is None and track_mlm_accuracy:
        compute_metrics, preprocess_logits_for_metrics = MLMAccuracy(), argmax_logits
    trainer = NucleoTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=data_collator,
        compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=preprocess_logits_for_metrics,
        callbacks=callbacks,
        trace_dir=trace_dir,
        track_mlm_accuracy=track_mlm_accuracy,
    )
    if isinstance(masker, MaskingSchedule):
        trainer.masking = masker
    if args.disable_tqdm:  # without a bar the Trainer prints every log dict instead
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    if announce is not None and trainer.is_world_process_zero():
        announce(size_line(model))
    return trainer


# ---------------------------------------------------------------------------- the pretrain command
def pretrain(
    train: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    *,
    model_type: str | None = None,
    config_overrides: dict[str, Any] | None = None,
    init_model: str | os.PathLike | None = None,
    eval_files: Sequence[str | os.PathLike] = (),
    min_length: int = 510,
    max_length: int = 510,
    eval_length: int | None = None,
    eval_max_examples: int | None = 2000,
    masking: str = "base",
    schedule: str | None = None,
    motifs: Sequence[str] = (),
    mlm_probability: float = 0.15,
    batch_size: int = 16,
    eval_batch_size: int | None = None,
    gradient_accumulation_steps: int = 1,
    learning_rate: float = 1e-4,
    weight_decay: float = 0.01,
    warmup_steps: float = 0,
    lr_scheduler_type: str = "linear",
    max_steps: int = 1000,
    logging_steps: int = 50,
    eval_steps: int | None = None,
    save_steps: int = 500,
    seed: int = 42,
    shuffle_buffer: int = 2048,
    bf16: bool | None = None,
    num_workers: int = 0,
    resume: bool | str = False,
    overwrite: bool = False,
    trace_batches: bool = False,
    disable_tqdm: bool = False,
    announce: Callable[[str], None] | None = None,
    extra_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pretrain (or continue pretraining) a BERT-family MLM on FASTA corpora.

    Writes checkpoints (``checkpoint-N``), the final model + tokenizer, ``log.jsonl`` and
    ``metrics.json`` into ``output_dir``. Returns the final metrics. ``output_dir`` must be
    missing or empty unless ``resume`` (continue its last checkpoint) or ``overwrite`` (replace
    it; the old folder stays until the new run's first checkpoint exists).
    """
    out = prepare_output_folder(output_dir, command="pretrain", overwrite=overwrite, resume=bool(resume),
                                resumable=("checkpoint-*",), inputs=[*train, *eval_files, init_model])
    output_dir = out.path  # a staging folder beside the old one until the first checkpoint (--overwrite)
    from transformers import set_seed

    set_seed(seed)  # the fresh model's initial weights depend on the seed too
    if init_model is not None:
        model, tokenizer = load_model(init_model, "ForMaskedLM", **(config_overrides or {}))
    else:
        if model_type is None:
            raise NucleoforgeError("pass --model-type (fresh model) or --model DIR (continue pretraining)")
        model, tokenizer = new_model(model_type, config_overrides)
    limit = model.config.max_nucleotides
    if max_length > limit:
        raise NucleoforgeError(f"--max-length {max_length} exceeds the model's {limit} nucleotides (max_position_embeddings - 2 + k - 1)")
    eval_length = eval_length or max_length
    _, world = _world()
    common = dict(mlm_probability=mlm_probability)
    masker = (parse_schedule(schedule, tokenizer, motifs, **common) if schedule
              else build_collator(masking, tokenizer, motifs, **common))  # fmt: skip
    collator = PretrainCollator(masker, tokenizer.pad_token_id)
    train_set = FastaChunkDataset(train, tokenizer, min_length, max_length, seed=seed, shuffle_buffer=shuffle_buffer,
                                  bucket_size=batch_size * world)  # fmt: skip
    if next(iter(train_set.chunks()), None) is None:  # else the Trainer "trains" on nothing and saves an untrained model
        raise NucleoforgeError(
            f"training corpus {', '.join(map(str, train_set.paths))} gave no chunk of at least {min_length} nt with at "
            f"most {train_set.max_n_fraction:.0%} non-ACGT/U letters (empty file, or only shorter sequences?)"
        )
    eval_set = None
    if eval_files:
        first = masker.stages[0][1] if isinstance(masker, MaskingSchedule) else masker
        eval_set = masked_eval_examples(list(eval_files), tokenizer, first, eval_length, eval_max_examples, seed=seed)
    args = training_arguments(
        output_dir, batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed, bf16=bf16, num_workers=num_workers,
        disable_tqdm=disable_tqdm, extra_args=extra_args, gradient_accumulation_steps=gradient_accumulation_steps,
        learning_rate=learning_rate, weight_decay=weight_decay, warmup_steps=warmup_steps, lr_scheduler_type=lr_scheduler_type,
        max_steps=max_steps, logging_steps=logging_steps, eval_strategy="steps" if eval_set is not None else "no",
        eval_steps=eval_steps or save_steps, save_strategy="steps", save_steps=save_steps,
    )  # fmt: skip
    resume_from = resume if isinstance(resume, str) else (True if resume else None)
    if resume_from is True and not any(output_dir.glob("checkpoint-*")):
        raise MissingPathError(f"--resume: no checkpoint-* folder in {output_dir}")
    with out:  # an error before the first checkpoint removes the staging folder; the old one stays
        trainer = build_trainer(model, train_set, eval_set, collator, args,
                                trace_dir=output_dir / "trace" if trace_batches else None,
                                log_file=output_dir / "log.jsonl", announce=announce)  # fmt: skip
        replace_at_first_checkpoint(trainer, out)
        result = trainer.train(resume_from_checkpoint=resume_from)
    follow_output_folder(trainer, out)
    output_dir = out.target
    metrics: dict[str, Any] = {"train": result.metrics}
    if eval_set is not None:
        metrics["eval"] = trainer.evaluate()
    save_run(trainer, tokenizer, output_dir, metrics)
    return metrics


def save_run(trainer: Trainer, tokenizer: Any, output_dir: Path, metrics: dict[str, Any]) -> None:
    """Save the trained model, its tokenizer and ``metrics.json`` into ``output_dir`` (the main
    process writes the files), then end the process group of a distributed run."""
    trainer.save_model(str(output_dir))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(output_dir))
        with open(output_dir / "metrics.json", "w", encoding="utf-8") as fh:
            json.dump(metrics, fh, indent=2)
    finish_distributed()


def finish_distributed() -> None:
    """Wait until every rank has finished (rank 0 writes the files last).

    The process group is left alive: destroying it while the Trainer's DDP objects still exist
    deadlocked gloo now and then; the CLI ends distributed runs with :func:`exit_distributed`.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def exit_distributed() -> None:
    """End a torchrun worker right away once its work is saved (skips gloo's racy teardown at
    interpreter exit, which otherwise aborts with "terminate called without an active exception")."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
