"""``nucleoforge train-splice``: train SpliceAI-80/400/2k/10k on a ``splice-data`` folder (run it under ``torchrun`` for DDP)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from nucleoforge import registry
from nucleoforge.cli.app import app
from nucleoforge.cli.boundary import check_model_name, check_model_type, is_quiet, model_type_choices, set_quiet

#: what --model-type accepts and lists: SpliceAI, then the registry's BERT-family model types
_MODEL_TYPES = model_type_choices("spliceai", "bert")


def _size_line(context: Optional[int], overrides: dict, model_type: Optional[str], init: Optional[str]) -> Optional[str]:
    """The size line of the model one member will train (built on the meta device: no memory, no
    weights read), or None where the options do not describe one (train_splice reports why)."""
    import torch

    from nucleoforge.training.pretrain import new_model, size_line

    head = {"num_labels": 3}
    try:
        with torch.device("meta"):
            if model_type not in (None, "spliceai"):
                model = new_model(model_type, {**overrides, **head}, head="ForTokenPrediction")[0]
            elif init is None:
                from nucleoforge.models.spliceai import SpliceAIModel
                from nucleoforge.splicing.training import splice_config

                model = SpliceAIModel(splice_config(context, overrides))
            else:
                from transformers import AutoConfig

                from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

                named = registry.family_of_name(init)
                if named is not None and named.kind == "spliceai" and not Path(init).exists():
                    from nucleoforge.models.spliceai.pretrained import cache_folder

                    folder = cache_folder(init)  # converted named weights; else SpliceAI-10k's shape
                    config = SpliceAIConfig.from_pretrained(folder) if (folder / "config.json").is_file() else \
                        SpliceAIConfig.from_variant("spliceai-10k")
                    config.num_members = 1
                    model = SpliceAIModel(_trained_config(config))
                else:
                    registry.register_auto_classes()
                    config = AutoConfig.from_pretrained(init)
                    entry = registry.family_of_config(config)
                    if entry.kind == "spliceai":
                        config.num_members = 1
                        model = SpliceAIModel(_trained_config(config))
                    else:
                        config.num_labels = 3
                        model = entry.model_class("ForTokenPrediction")(config)
    except (ValueError, OSError, TypeError):
        return None
    return size_line(model)


def _trained_config(config):
    """The config a member trained from ``config`` has: a per-tissue (Pangolin) head becomes SpliceAI's 3-class one."""
    if getattr(config, "head", "softmax") == "softmax":
        return config
    from nucleoforge.splicing.training.spliceai import trunk_config

    return trunk_config(config)


def _init_notes(init: str, init_member: Optional[int]) -> list[str]:
    """The licence line of a SpliceAI ``--init`` model (its weights carry over) and, for a per-tissue
    (Pangolin) head, one line saying that its classifier does not; none for any other init."""
    from nucleoforge.models.spliceai import SpliceAIConfig, licence_notice
    from nucleoforge.models.spliceai.pretrained import NAMED_WEIGHTS, fill_provenance, resolve_named

    named = init in NAMED_WEIGHTS and not Path(init).exists()
    try:
        if not named and json.loads((Path(init) / "config.json").read_text()).get("model_type") != "spliceai":
            return []
        config = SpliceAIConfig.from_pretrained(resolve_named(init) if named else init)
    except (ValueError, OSError):  # training itself reports an unusable --init
        return []
    if named:
        fill_provenance(config, init)
    if config.head == "softmax":
        return [licence_notice(config)]
    copies = f"every new member copies the trunk of its member {init_member}" if init_member is not None else \
        "new member i copies the trunk of its member i"
    return [licence_notice(config),
            f"--init {init}: {copies} (all but the classifier); its per-tissue classifier ({', '.join(config.tissues)}) "
            "is not carried over: the 3-class classifier (neither, acceptor, donor) starts new"]


@app.command("train-splice")
def train_splice(
    data: Path = typer.Option(..., "--data", help="dataset folder written by `nucleoforge splice-data` (dataset.json, train.h5, validation.h5)"),
    output: Path = typer.Option(..., "--output", "-o", help="output model folder (SpliceAIModel: config.json, model.safetensors, training.json, metrics.json; member-i/ runs)"),
    context: Optional[int] = typer.Option(None, "--context", help="80, 400, 2000 or 10000 (SpliceAI-80/400/2k/10k); default 10000, "
                                          "or the --init model's; token heads: nt seen around the labelled positions (default 400)"),
    config: list[str] = typer.Option([], "--config", help="architecture override as key=value, a JSON object or file (fresh models "
                                     "only): SpliceAI stages / channels, or a BERT config (hidden_size, num_hidden_layers, ...)"),
    model_type: Optional[str] = typer.Option(None, "--model-type", help=f"{_MODEL_TYPES[0]} (default) or a BERT-family type "
                                             f"({', '.join(_MODEL_TYPES[1:])}): a token head on "
                                             "windows of the blocks; --config sets a fresh encoder's size"),
    width: Optional[int] = typer.Option(None, "--width", min=1, help="token heads: labelled positions per window "
                                        "(default: the model's longest input minus --context)"),
    init: Optional[str] = typer.Option(None, "--init", help="start from 'spliceai-10k' (the published weights, CC BY-NC 4.0), "
                                       "'spliceai-10k-N', a saved SpliceAI folder or a BERT-family folder (token head); "
                                       "'pangolin' or a per-tissue folder: its trunks, with a new 3-class classifier"),
    init_member: Optional[int] = typer.Option(None, "--init-member", min=0, help="start every member from this member (0-based) of --init; default member i from member i"),
    freeze_stages: int = typer.Option(0, "--freeze-stages", min=0, help="with --init: freeze the input convolutions and the first N stages (weights and BatchNorm statistics)"),
    members: Optional[int] = typer.Option(None, "--members", min=1, help="ensemble size: N networks with seeds SEED..SEED+N-1 (default 1, or the --init model's)"),
    epochs: float = typer.Option(4.0, "--epochs", help="passes over the training blocks (per member; the card: 4)"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="optimizer steps per member (overrides --epochs)"),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="blocks per step and device (one block = one row of the dataset)"),
    eval_batch_size: Optional[int] = typer.Option(None, "--eval-batch-size", min=1, help="validation blocks per step (default --batch-size)"),
    learning_rate: float = typer.Option(1e-3, "--lr", help="Adam learning rate at step 0"),
    lr_floor: float = typer.Option(1e-5, "--lr-floor", help="lowest learning rate: lr_t = max(floor, lr * decay^t)"),
    lr_decay: Optional[float] = typer.Option(None, "--lr-decay", help="decay factor per step (default: reach --lr-floor exactly at the last step)"),
    seed: int = typer.Option(42, "--seed"),
    save_steps: Optional[int] = typer.Option(None, "--save-steps", min=1, help="checkpoint every N steps (default: every epoch)"),
    logging_steps: int = typer.Option(50, "--logging-steps", min=1),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--no-bf16", help="bf16 autocast (default: on for GPUs that support it)"),
    num_workers: int = typer.Option(0, "--num-workers", min=0, help="dataloader workers"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --output: finished members are kept, the unfinished one continues from its last checkpoint"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --output folder (kept until the new run's first checkpoint)"),
    trace_batches: bool = typer.Option(False, "--trace-batches", help="write the trained block indices per step and rank to OUTPUT/member-i/trace/"),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch CPU threads"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="errors and the final JSON line only: no progress bar, log lines, size line or warnings"),
) -> None:
    """Train SpliceAI (from scratch or by transfer) into one model folder; prints the validation metrics as JSON.

    Class-weighted cross-entropy (positives = negatives, acceptors = donors, from the training
    split's counts), Adam with exponential decay from --lr to --lr-floor, top-k accuracy and PR-AUC
    on the validation split after every epoch (OUTPUT/metrics.json). --members N trains N seeds one
    after another and assembles them into one ensemble; the folder works with `splice`, `variants`
    and `evaluate-splice --model OUTPUT`. With --model-type (or --init) of a BERT-family model, a
    3-class token head is trained on windows of the blocks (same loss, schedule and metrics) and
    OUTPUT is that model's folder, scored with `evaluate-splice --data DIR --model OUTPUT`.
    """
    if quiet:
        set_quiet()
    quiet = is_quiet()
    check_model_type(model_type, _MODEL_TYPES, why="train-splice trains SpliceAI or a BERT-family token head; ")
    if init is not None and getattr(registry.family_of_name(init), "kind", None) != "spliceai":
        init = check_model_name(init, "--init")  # spliceai-10k names load; a language model's: its hub folder
    import torch

    if threads:
        torch.set_num_threads(threads)
    from nucleoforge.splicing.training import reuse_freed_cpu_memory
    from nucleoforge.splicing.training import train_splice as run

    if not torch.cuda.is_available():
        reuse_freed_cpu_memory()  # large activations are reused, not page-faulted again every step
    from nucleoforge.cli.config_options import parse_config_overrides
    from nucleoforge.training.pretrain import exit_distributed

    overrides = parse_config_overrides(config)
    if not quiet and int(os.environ.get("RANK", "0")) == 0:
        line = _size_line(context, overrides, model_type, init)
        if line:
            typer.echo(line, err=True)
        for notice in _init_notes(init, init_member) if init is not None else []:
            typer.echo(notice, err=True)
    metrics = run(
        data, output, context=context, config_overrides=overrides, model_type=model_type, width=width, init=init,
        init_member=init_member, freeze_stages=freeze_stages, members=members, epochs=epochs, max_steps=max_steps,
        batch_size=batch_size, eval_batch_size=eval_batch_size, learning_rate=learning_rate, lr_floor=lr_floor,
        lr_decay=lr_decay, seed=seed, save_steps=save_steps, logging_steps=logging_steps, bf16=bf16,
        num_workers=num_workers, resume=resume, overwrite=overwrite, trace_batches=trace_batches, disable_tqdm=quiet,
    )  # fmt: skip
    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(json.dumps({"output": str(output), "validation": metrics["ensemble"]}))
    exit_distributed()
