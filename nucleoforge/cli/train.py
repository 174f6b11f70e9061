"""``nucleoforge pretrain`` and ``nucleoforge finetune`` (run them under ``torchrun`` for DDP)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from nucleoforge.cli.app import app
from nucleoforge.cli.boundary import check_model_name, check_model_type, is_quiet, model_type_choices, set_quiet
from nucleoforge.cli.config_options import parse_config_overrides

_CONFIG_HELP = "config override: key=value[,key=value…], a JSON object or a JSON file (repeatable)"
#: what --model-type accepts and lists: the registry's BERT-family model types
_MODEL_TYPES = model_type_choices("bert")
_QUIET_HELP = "errors only: no progress bar, log lines, size line, warnings or summary (metrics.json has it)"


def _announce(line: str) -> None:
    """The size line before training starts (stderr: stdout keeps the JSON summary)."""
    typer.echo(line, err=True)


def _quiet(quiet: bool) -> bool:
    if quiet:
        set_quiet()
    return is_quiet()


def _threads(threads: Optional[int]) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


@app.command()
def pretrain(
    train: list[Path] = typer.Option(..., "--train", help="training corpus FASTA (.fa or .fa.gz; repeatable)"),
    output: Path = typer.Option(..., "--output", "-o", help="output folder (checkpoints, final model, log.jsonl, metrics.json)"),
    model_type: Optional[str] = typer.Option(None, "--model-type", help=f"fresh model: {', '.join(_MODEL_TYPES)}"),
    model: Optional[Path] = typer.Option(None, "--model", help="continue pretraining a saved nucleoforge model folder"),
    config: list[str] = typer.Option([], "--config", help=_CONFIG_HELP),
    eval_files: list[Path] = typer.Option([], "--eval", help="held-out FASTA (masked once with a fixed seed)"),
    min_length: int = typer.Option(510, min=1, help="shortest chunk (nt)"),
    max_length: int = typer.Option(510, min=1, help="longest chunk (nt); > --min-length gives variable-length chunks"),
    eval_length: Optional[int] = typer.Option(None, min=1, help="evaluation chunk length (default --max-length)"),
    eval_max_examples: int = typer.Option(2000, min=1, help="cap on evaluation chunks"),
    masking: str = typer.Option("base", help="base (BERT / whole-k-mer), span (4-8 nt) or motif"),
    schedule: Optional[str] = typer.Option(None, help="masking by stage, e.g. '0:base,10000:span,20000:motif' or '0:base@0.15,50000:base@0.2'"),
    motifs: Optional[Path] = typer.Option(None, help="motif list for motif masking (one motif per line)"),
    mlm_probability: float = typer.Option(0.15, min=0.0, max=1.0, help="fraction of tokens masked"),
    batch_size: int = typer.Option(16, min=1, help="per-device batch size"),
    gradient_accumulation_steps: int = typer.Option(1, "--grad-accum", min=1, help="gradient accumulation steps"),
    learning_rate: float = typer.Option(1e-4, "--lr", min=0.0),
    weight_decay: float = typer.Option(0.01, min=0.0),
    warmup_steps: float = typer.Option(0, min=0, help="warm-up steps (or a fraction < 1 of max steps)"),
    lr_scheduler: str = typer.Option("linear", help="transformers scheduler name (linear, cosine, constant, …)"),
    max_steps: int = typer.Option(1000, min=1, help="optimizer steps"),
    logging_steps: int = typer.Option(50, min=1),
    eval_steps: Optional[int] = typer.Option(None, min=1, help="evaluate every N steps (default --save-steps)"),
    save_steps: int = typer.Option(500, min=1, help="checkpoint every N steps"),
    seed: int = typer.Option(42),
    shuffle_buffer: int = typer.Option(2048, min=0, help="chunks held for shuffling and length bucketing (0: no shuffling)"),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--no-bf16", help="bf16 autocast (default: on for GPUs that support it)"),
    num_workers: int = typer.Option(0, min=0, help="dataloader workers"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last checkpoint in --output"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --output folder (kept until the new run's first checkpoint)"),
    trace_batches: bool = typer.Option(False, help="write per-rank batch checksums to OUTPUT/trace/"),
    threads: Optional[int] = typer.Option(None, min=1, help="torch CPU threads"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=_QUIET_HELP),
) -> None:
    """Pretrain (or continue pretraining) a masked language model on FASTA corpora."""
    quiet = _quiet(quiet)
    check_model_type(model_type, _MODEL_TYPES)
    model = check_model_name(model)  # a name or hub id: the hub cache's folder
    _threads(threads)
    from nucleoforge.training.pretrain import pretrain as run

    overrides = parse_config_overrides(config)
    motif_list = [line.strip() for line in open(motifs, encoding="utf-8") if line.strip() and not line.startswith("#")] if motifs else []
    metrics = run(
        [str(p) for p in train], output, model_type=model_type, config_overrides=overrides, init_model=model,
        eval_files=[str(p) for p in eval_files], min_length=min_length, max_length=max_length,
        eval_length=eval_length, eval_max_examples=eval_max_examples, masking=masking, schedule=schedule,
        motifs=motif_list, mlm_probability=mlm_probability, batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps, learning_rate=learning_rate,
        weight_decay=weight_decay, warmup_steps=warmup_steps, lr_scheduler_type=lr_scheduler, max_steps=max_steps,
        logging_steps=logging_steps, eval_steps=eval_steps, save_steps=save_steps, seed=seed,
        shuffle_buffer=shuffle_buffer, bf16=bf16, num_workers=num_workers, resume=resume, overwrite=overwrite,
        trace_batches=trace_batches, disable_tqdm=quiet, announce=None if quiet else _announce,
    )  # fmt: skip
    import os

    from nucleoforge.training.pretrain import exit_distributed

    if int(os.environ.get("RANK", "0")) == 0 and not quiet:
        typer.echo(json.dumps(metrics.get("eval", metrics.get("train")), default=float))
    exit_distributed()


@app.command()
def finetune(
    train: Path = typer.Option(..., "--train", help="training file: .csv, .tsv, .parquet or .fa (see docs/how-to/training.md)"),
    output: Path = typer.Option(..., "--output", "-o", help="output folder (best model, metrics.json, log.jsonl)"),
    task: str = typer.Option("sequence", help="sequence, token or contact"),
    problem_type: str = typer.Option("binary", help="binary, multiclass, multilabel or regression"),
    eval_file: Optional[Path] = typer.Option(None, "--eval", help="validation file (best checkpoint, early stopping)"),
    test: Optional[Path] = typer.Option(None, "--test", help="test file (metrics of the best model)"),
    model: Optional[Path] = typer.Option(None, "--model", help="pretrained nucleoforge model folder"),
    model_type: Optional[str] = typer.Option(None, "--model-type", help=f"fresh model instead: {', '.join(_MODEL_TYPES)}"),
    config: list[str] = typer.Option([], "--config", help=_CONFIG_HELP),
    sequence_column: str = typer.Option("sequence"),
    label_column: str = typer.Option("label"),
    epochs: float = typer.Option(10, min=0.0, help="training epochs (> 0)"),
    batch_size: int = typer.Option(16, min=1),
    learning_rate: float = typer.Option(5e-5, "--lr", min=0.0),
    weight_decay: float = typer.Option(0.01, min=0.0),
    warmup_steps: float = typer.Option(0, min=0),
    gradient_accumulation_steps: int = typer.Option(1, "--grad-accum", min=1),
    metric: Optional[str] = typer.Option(None, help="metric for the best checkpoint (default: auroc/mcc/f1/spearman by problem type; top_l_precision for contact)"),
    patience: int = typer.Option(3, min=0, help="early-stopping patience in evaluations (0 = off)"),
    seed: int = typer.Option(42),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--no-bf16"),
    logging_steps: int = typer.Option(50, min=1),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --output folder (kept until the new run's first checkpoint)"),
    threads: Optional[int] = typer.Option(None, min=1, help="torch CPU threads"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=_QUIET_HELP),
) -> None:
    """Fine-tune a sequence, token or contact head; writes metrics.json (eval and test)."""
    quiet = _quiet(quiet)
    if epochs <= 0:
        raise typer.BadParameter(f"{epochs:g} is not > 0", param_hint="'--epochs'")
    check_model_type(model_type, _MODEL_TYPES)
    model = check_model_name(model)  # a name or hub id: the hub cache's folder
    _threads(threads)
    from nucleoforge.training.finetune import finetune as run

    metrics = run(
        train, output, task=task, problem_type=problem_type, eval=eval_file, test=test, model=model,
        model_type=model_type, config_overrides=parse_config_overrides(config), sequence_column=sequence_column,
        label_column=label_column, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        weight_decay=weight_decay, warmup_steps=warmup_steps, gradient_accumulation_steps=gradient_accumulation_steps,
        metric=metric, patience=patience or None, seed=seed, bf16=bf16, logging_steps=logging_steps, disable_tqdm=quiet,
        overwrite=overwrite, announce=None if quiet else _announce,
    )  # fmt: skip
    from nucleoforge.training.pretrain import exit_distributed

    summary = {k: metrics[k] for k in ("eval", "test") if k in metrics} or {"train": metrics["train"]}
    if not quiet:
        json.dump(summary, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
    exit_distributed()
