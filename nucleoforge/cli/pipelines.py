"""Language-model commands: ``fill-mask``, ``embed``, ``variant-effect`` and ``attention``.

Each command loads a nucleoforge model folder (``AutoModelForMaskedLM`` + ``AutoTokenizer``),
reads its inputs (sequence strings, FASTA — plain or gzip — or Stockholm alignments, whose
gaps are removed), and calls the matching pipeline of :mod:`nucleoforge.pipelines`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from nucleoforge.cli.app import app
from nucleoforge.cli.boundary import check_device, check_model_name, is_quiet, set_quiet

_MODEL_HELP = ("a model folder (nucleoforge's, e.g. from `nucleoforge convert`, or one written by MultiMolecule), a hub "
               "id (multimolecule/splicebert) or a name `nucleoforge info` lists (splicebert, utrbert-3mer, rnaernie)")
_log = logging.getLogger("nucleoforge.cli.pipelines")


# ---------------------------------------------------------------------------- helpers
def _device(device: Optional[str]) -> str:
    import torch

    return check_device(device) or ("cuda" if torch.cuda.is_available() else "cpu")


def _make_pipeline(cls_path: str, model_dir: Path, device: Optional[str]) -> Any:
    import importlib

    import torch

    from nucleoforge.pipelines._common import load_masked_lm

    # `--model splicebert` / a hub id: the hub cache's folder; `--model spliceai-10k`: what to pass instead
    model_dir = Path(check_model_name(model_dir))
    if not (model_dir / "config.json").is_file():
        raise typer.BadParameter(f"{model_dir} is not a model folder (no config.json)", param_hint="--model")
    device = _device(device)  # checked before the model loads
    model, tokenizer = load_masked_lm(str(model_dir))
    module, name = cls_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    return cls(model=model, tokenizer=tokenizer, device=torch.device(_device(device)))


def _quiet(quiet: bool) -> None:
    if quiet:
        set_quiet()  # every progress bar (weight loading included) and warning, until the command ends


def _setup_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)


# ---------------------------------------------------------------------------- fill-mask
@app.command("fill-mask")
def fill_mask(
    sequences: Optional[list[str]] = typer.Argument(None, help="sequences with <mask> (one per masked nucleotide)"),
    model: Path = typer.Option(..., "--model", "-m", help=_MODEL_HELP),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="FASTA/Stockholm file of masked sequences"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write a TSV instead of printing a table"),
    candidates: str = typer.Option("nucleotides", help="'nucleotides' (A/C/G/T or U only) or 'all' vocabulary tokens (single-nt models)"),
    top_k: int = typer.Option(5, min=1, help="tokens shown with --candidates all"),
    combine: str = typer.Option("mean", help="k-mer models: combine covering k-mers by 'mean' or 'product'"),
    window: Optional[int] = typer.Option(None, min=1, help="window in nucleotides for long sequences (default: the model's maximum)"),
    stride: Optional[int] = typer.Option(None, min=1, help="window stride (default: half the window)"),
    batch_size: int = typer.Option(8, min=1, help="windows per model call"),
    device: Optional[str] = typer.Option(None, help="torch device (default: cuda if available, else cpu)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars or warnings (errors only)"),
) -> None:
    """Predict masked nucleotides: per-position A/C/G/T(U) probabilities."""
    _quiet(quiet)
    if not sequences and input is None:
        raise typer.BadParameter("give sequences as arguments or --input FILE")
    from nucleoforge.io.outputs import atomic_output, check_paths
    from nucleoforge.io.sequences import open_sequences

    check_paths({"--input": input}, {"--output": output})  # before the model loads and the output opens
    pipe = _make_pipeline("nucleoforge.pipelines.fill_mask.NucleotideFillMaskPipeline", model, device)
    items: list[Any] = [(f"seq{i + 1}", s) for i, s in enumerate(sequences or [])]
    source = None if input is None else open_sequences(input)  # format and record count: one pass over the bytes
    results = pipe.iter_results(iter(items if source is None else source), candidates=candidates, top_k=top_k,
                                combine=combine, window=window, stride=stride, batch_size=batch_size,
                                progress=output is not None and input is not None and not is_quiet(),
                                total=None if source is None else source.count)
    if output is not None:
        from nucleoforge.io.tables import write_fill_mask_tsv

        with atomic_output(output) as fh:  # replaces -o only when every record is done
            write_fill_mask_tsv(results, fh, candidates)
        typer.echo(f"wrote {output}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fill-mask ({model.name})")
    table.add_column("name")
    table.add_column("position", justify="right")
    cols: Optional[list[str]] = None
    rows = []
    for masks in results:
        for m in masks:
            if cols is None:
                cols = list(m["probabilities"]) if candidates == "nucleotides" else [f"#{i + 1}" for i in range(top_k)]
                for c in cols:
                    table.add_column(c, justify="right")
                table.add_column("prediction")
            if candidates == "nucleotides":
                values = [f"{m['probabilities'][b]:.4f}" for b in cols]
            else:
                values = [f"{t} {p:.4f}" for t, p in m["probabilities"].items()]
                values += [""] * (len(cols) - len(values))
            rows.append([m["name"], str(m["position"] + 1), *values, m["token"]])
    for row in rows:
        table.add_row(*row)
    Console().print(table)


# ---------------------------------------------------------------------------- embed
@app.command("embed")
def embed(
    model: Path = typer.Option(..., "--model", "-m", help=_MODEL_HELP),
    input: Path = typer.Option(..., "--input", "-i", help="FASTA (plain/gzip) or Stockholm file"),
    output: Path = typer.Option(..., "--output", "-o", help="out.npz (one array per sequence) or out.parquet"),
    layer: int = typer.Option(-1, help="0 = embedding output, 1..L = layer, -1 = last"),
    pool: str = typer.Option("mean", help="'mean' over nucleotides, 'cls' state, or 'none' (per nucleotide)"),
    window: Optional[int] = typer.Option(None, min=1, help="window in nucleotides for long sequences (default: the model's maximum)"),
    stride: Optional[int] = typer.Option(None, min=1, help="window stride (default: half the window)"),
    batch_size: int = typer.Option(8, min=1, help="windows per model call"),
    rows_per_group: int = typer.Option(256, min=1, help="parquet row-group size"),
    device: Optional[str] = typer.Option(None, help="torch device (default: cuda if available, else cpu)"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars or warnings (errors only)"),
) -> None:
    """Write per-sequence (pooled) or per-nucleotide embeddings, streaming."""
    _quiet(quiet)
    from nucleoforge.io.outputs import atomic_path, check_paths
    from nucleoforge.io.sequences import open_sequences
    from nucleoforge.io.tables import embedding_format, open_embedding_writer

    from nucleoforge.errors import NucleoforgeError

    try:
        kind = embedding_format(output)
    except NucleoforgeError as exc:  # the library names the file; the option is the command line's
        raise typer.BadParameter(str(exc), param_hint="--output") from exc
    check_paths({"--input": input}, {"--output": output})  # before the model loads and the output opens
    pipe = _make_pipeline("nucleoforge.pipelines.feature_extraction.NucleotideEmbeddingPipeline", model, device)
    n = 0
    source = open_sequences(input)  # format and record count: one pass over the bytes
    # Written beside -o and renamed when every sequence is done: a failure leaves -o as it was.
    with atomic_path(output) as tmp, open_embedding_writer(tmp, rows_per_group, format=kind) as writer:
        for res in pipe.iter_results(iter(source), layer=layer, pool=pool, window=window, stride=stride,
                                     batch_size=batch_size, progress=progress and not is_quiet(), total=source.count):
            writer.write(res["name"], res["embedding"], res["length"])
            n += 1
            dim = res["embedding"].shape
    shape = "-" if not n else (f"{dim[0]} values" if pool != "none" else f"length x {dim[1]} values")
    typer.echo(f"wrote {n} embeddings ({shape} each, layer {layer}, pool {pool}) to {output}")


# ---------------------------------------------------------------------------- variant-effect
@app.command("variant-effect")
def variant_effect(
    model: Path = typer.Option(..., "--model", "-m", help=_MODEL_HELP),
    input: Path = typer.Option(..., "--input", "-I", help="VCF/BCF (plain or bgzip)"),
    reference: Path = typer.Option(..., "--reference", "-R", help="reference FASTA (plain, gzip or bgzip)"),
    output: Path = typer.Option(..., "--output", "-O", help="output TSV"),
    flank: int = typer.Option(100, min=0, help="sum the KL divergence over ±flank nucleotides"),
    window: Optional[int] = typer.Option(None, min=1, help="window centred on the variant (default: the model's maximum)"),
    combine: str = typer.Option("mean", help="k-mer models: combine covering k-mers by 'mean' or 'product'"),
    batch_size: int = typer.Option(8, min=1, help="windows per model call (3 per variant)"),
    resume: bool = typer.Option(False, "--resume/--no-resume", help="continue an interrupted run: keep the complete rows of -O and "
                                "score only the rest (refused unless -O's run manifest matches this run's input, model and settings)"),
    device: Optional[str] = typer.Option(None, help="torch device (default: cuda if available, else cpu)"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars or warnings (errors only)"),
) -> None:
    """Zero-shot SNV effect: KL context score over ±flank and masked-site log-likelihood ratio.

    Writes OUTPUT and OUTPUT.manifest.json (input and reference checksums, settings, model
    identity); --resume continues an interrupted run only when they match.
    """
    from nucleoforge.io.genome import Genome
    from nucleoforge.splicing.lm_variants import score_vcf_lm

    _quiet(quiet)
    _setup_logging()
    from nucleoforge.io.outputs import check_paths, check_resumable

    check_paths({"-I/--input": input, "-R/--reference": reference}, {"-O/--output": output})  # before the model loads
    if resume:
        check_resumable({"-I/--input": input, "-R/--reference": reference})
    pipe = _make_pipeline("nucleoforge.pipelines.variant_effect.VariantEffectPipeline", model, device)
    summary = score_vcf_lm(pipe, Genome(reference), input, output, flank=flank, window=window, combine=combine,
                           batch_size=batch_size, resume=resume, progress=progress and not is_quiet())
    counts = {**summary.skipped, "resumed": summary.resumed}
    text = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items()) if v)
    typer.echo(f"scored {summary.scored} variants to {output}" + (f" ({text})" if text else ""))


# ---------------------------------------------------------------------------- attention
@app.command("attention")
def attention(
    sequence: str = typer.Argument(..., help="the sequence (must fit in one model call)"),
    model: Path = typer.Option(..., "--model", "-m", help=_MODEL_HELP),
    plot: Optional[Path] = typer.Option(None, "--plot", "-p", help="write a PNG: [CLS] attention + the full map"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="TSV of [CLS] attention per nucleotide"),
    layer: int = typer.Option(-1, help="layer of the full map (0-based; -1 = last)"),
    head: Optional[int] = typer.Option(None, min=0, help="head of the full map (0-based; default: mean of heads)"),
    top: int = typer.Option(10, min=1, help="nucleotides listed by [CLS] attention"),
    device: Optional[str] = typer.Option(None, help="torch device (default: cuda if available, else cpu)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars or warnings (errors only)"),
) -> None:
    """Attention from [CLS] per nucleotide, and the full map of one layer/head."""
    _quiet(quiet)
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from nucleoforge.io.outputs import check_paths
    from nucleoforge.pipelines.attention import plot_attention
    from nucleoforge.pipelines._common import parse_masks

    check_paths({}, {"--output": output, "--plot": plot})  # before the model loads
    pipe = _make_pipeline("nucleoforge.pipelines.attention.AttentionPipeline", model, device)
    res = pipe(sequence.strip(), layer=layer, head=head)
    plain, masked = parse_masks(res["sequence"])
    plain = "".join("N" if m else c for c, m in zip(plain, masked))  # a masked position is shown as N
    cls = res["cls_attention"]
    if plot is not None:
        plot_attention(res, plot)
    if output is not None:
        from nucleoforge.io.outputs import atomic_output
        from nucleoforge.io.tables import write_attention_tsv

        with atomic_output(output) as fh:
            write_attention_tsv(plain, cls, fh)
    table = Table(title=f"[CLS] attention (mean of {pipe.model.config.num_hidden_layers} layers x "
                        f"{pipe.model.config.num_attention_heads} heads), top {min(top, len(cls))} of {len(cls)} nt")
    for col in ("rank", "position", "base", "attention"):
        table.add_column(col, justify="right")
    for rank, i in enumerate(np.argsort(-cls, kind="stable")[:top], 1):
        table.add_row(str(rank), str(i + 1), plain[i], f"{cls[i]:.4f}")
    Console().print(table)
    full = res["attention_map"]
    typer.echo(f"layer {res['layer']}, {'mean of heads' if res['head'] is None else 'head ' + str(res['head'])}: "
               f"{full.shape[0]}x{full.shape[1]} map, row sums {full.sum(1).min():.3f}-{full.sum(1).max():.3f}"
               + (f"; plot written to {plot}" if plot else ""))
