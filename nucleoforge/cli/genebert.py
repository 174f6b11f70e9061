"""``nucleoforge genebert build-regions``, ``promoters`` and ``pretrain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from nucleoforge.cli.app import genebert_app
from nucleoforge.cli.boundary import check_device, is_quiet, set_quiet


@genebert_app.command("build-regions")
def build_regions(
    output: Path = typer.Option(..., "--output", "-o", help="Dataset folder to write (Parquet shards + genebert_regions.json)."),
    peaks: Optional[Path] = typer.Option(None, "--peaks", help="BED file of regions (plain or .gz); needs --reference."),
    reference: Optional[Path] = typer.Option(None, "--reference", help="Indexed reference FASTA for --peaks."),
    sequences: Optional[list[Path]] = typer.Option(None, "--sequences", help="FASTA of peak sequences with chrom:start-end headers (repeatable)."),
    condition: Optional[list[str]] = typer.Option(None, "--condition", help="Condition / cell type of each --sequences file (default: file name up to the first '_' or '.'), or of every BED region."),
    condition_column: Optional[int] = typer.Option(None, "--condition-column", min=1, help="1-based BED column holding the condition / cell type."),
    motifs: str = typer.Option("JASPAR2018", "--motifs", help="JASPAR release from pyjaspar's offline databases."),
    collection: str = typer.Option("CORE", "--collection"),
    tax_group: str = typer.Option("vertebrates", "--tax-group", help="JASPAR taxonomic group ('all' for every group)."),
    group_size: int = typer.Option(10, "--group-size", min=1, help="Consecutive regions per sample (paper: 10)."),
    aggregation: str = typer.Option("max", "--aggregation", help="Affinity per (region, motif): max, logsumexp or count."),
    pseudocount: str = typer.Option("sqrt", "--pseudocount", help="'sqrt' (JASPAR: √(mean column count)) or a number (total per column)."),
    pvalue: float = typer.Option(1e-4, "--pvalue", min=0.0, max=1.0, help="Per-motif p-value of the score threshold (--aggregation count)."),
    shard_size: int = typer.Option(5000, "--shard-size", min=1, help="Samples per Parquet shard."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Regions scanned per convolution batch."),
    device: str = typer.Option("cpu", "--device", help="torch device for scanning (cpu, cuda)."),
    scan_crop: Optional[int] = typer.Option(None, "--scan-crop", min=1, help="Keep the central N bp of every region, for the "
                                            "motif scan and the stored sequence (what pretraining reads; see --region-crop)."),
    max_gap: Optional[int] = typer.Option(None, "--max-gap", min=0, help="Group only regions at most N bp apart (genomic "
                                          "neighbours; default: any distance on one chromosome)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or warnings (errors only)."),
) -> None:
    """Scan regions with JASPAR motifs and group them into GeneBERT samples (sequence + region × TF matrix)."""
    if quiet:
        set_quiet()
    import itertools

    from rich.progress import Progress

    from nucleoforge.regions.motifs import load_jaspar
    from nucleoforge.regions.datasets import build_region_dataset, regions_from_bed, regions_from_fasta

    check_device(device)
    if (peaks is None) == (not sequences):
        raise typer.BadParameter("give either --peaks (with --reference) or one or more --sequences")
    if peaks is not None:
        if reference is None:
            raise typer.BadParameter("--peaks needs --reference (an indexed FASTA)")
        if condition and len(condition) > 1:
            raise typer.BadParameter("with --peaks, give at most one --condition (or use --condition-column)")
        regions = regions_from_bed(peaks, reference, condition_column, condition[0] if condition else "all")
        inputs = {"peaks": str(peaks), "reference": str(reference), "condition_column": condition_column}
    else:
        names = list(condition or [])
        if names and len(names) != len(sequences):
            raise typer.BadParameter(f"{len(names)} --condition for {len(sequences)} --sequences files")
        if not names:
            names = [p.name.split("_")[0].split(".")[0] for p in sequences]
        regions = itertools.chain.from_iterable(regions_from_fasta(p, c) for p, c in zip(sequences, names))
        inputs = {"sequences": [str(p) for p in sequences], "conditions": names}
    try:
        pc: float | str = float(pseudocount)
    except ValueError:
        pc = pseudocount
    found = load_jaspar(motifs, collection, None if tax_group == "all" else tax_group)
    typer.echo(f"{len(found)} {motifs} {collection} motifs ({tax_group})")
    with Progress(disable=is_quiet()) as progress:
        task = progress.add_task("scanning + writing samples", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        import datasets

        datasets.disable_progress_bars()
        meta = build_region_dataset(
            regions, found, output, group_size=group_size, aggregation=aggregation, pseudocount=pc, pvalue=pvalue,
            shard_size=shard_size, batch_size=batch_size, device=device, progress=update, scan_crop=scan_crop, max_gap=max_gap,
            source={"release": motifs, "collection": collection, "tax_group": tax_group, **inputs},
        )  # fmt: skip
    typer.echo(
        f"wrote {meta['num_samples']} samples ({meta['num_regions']} regions, {len(meta['shards'])} shard(s)) "
        f"of {group_size} regions × {len(found)} motifs to {output}; per condition: {json.dumps(meta['conditions'])}"
    )


@genebert_app.command("promoters")
def promoters(
    reference: Path = typer.Option(..., "--reference", "-R", help="Reference FASTA (chromosome records at true coordinates)."),
    annotation: str = typer.Option(..., "--annotation", "-A", help="Gene table: grch37, grch38, a SpliceAI-style table, a GTF or a GFF3."),
    output: Path = typer.Option(..., "--output", "-o", help="TSV to write: sequence, label, id (what `nucleoforge finetune` reads)."),
    core: int = typer.Option(70, "--core", min=2, help="Window width in bp (paper: 70)."),
    upstream: int = typer.Option(34, "--upstream", min=0, help="Bases before the TSS inside the window (−34 … +35 by default)."),
    negatives: int = typer.Option(10, "--negatives", min=0, help="GC-matched non-promoter windows per promoter."),
    min_tss_distance: int = typer.Option(2000, "--min-tss-distance", min=0, help="Negatives lie at least this far (bp) from every TSS."),
    seed: int = typer.Option(0, "--seed"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line or warnings (errors only)."),
) -> None:
    """Promoter cores (TSS −34 … +35) and GC-matched intronic/intergenic windows, as a labelled TSV."""
    if quiet:
        set_quiet()
    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.genome import Genome
    from nucleoforge.io.outputs import atomic_path, check_not_input
    from nucleoforge.regions.promoters import promoter_windows, write_promoter_table

    if upstream >= core:
        raise typer.BadParameter(f"--upstream {upstream} must be less than --core {core} (the TSS is inside the window)")
    check_not_input(output, reference, option="--output")
    genome, genes = Genome(reference), GeneTable.load(annotation)
    windows = promoter_windows(genome, genes, core=core, upstream=upstream, negatives_per_promoter=negatives,
                               min_tss_distance=min_tss_distance, seed=seed)  # fmt: skip
    with atomic_path(output) as tmp:  # a failed run leaves an earlier file whole
        summary = write_promoter_table(windows, tmp)
    kinds = ", ".join(f"{n} {k}" for k, n in summary["kinds"].items())
    gc_neg = f"{summary['gc_negative']:.3f}" if summary["gc_negative"] is not None else "–"
    if not is_quiet():
        typer.echo(f"wrote {summary['windows']} windows of {core} bp ({kinds}) to {output}; "
                   f"mean GC promoters {summary['gc_promoter']:.3f}, negatives {gc_neg}")  # fmt: skip


@genebert_app.command("pretrain")
def pretrain(
    dataset: Path = typer.Option(..., "--dataset", "-d", help="Folder written by `genebert build-regions`."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder (model, checkpoints, sequence/ encoder)."),
    config: str = typer.Option("tiny", "--config", help="Preset (tiny, small, base) or a GeneBertConfig-like JSON file."),
    k: int = typer.Option(6, "--k", min=1, help="k-mer size of the sequence encoder."),
    region_encoder: str = typer.Option("swin", "--region-encoder", help="swin, vit or deit."),
    region_weights: Optional[Path] = typer.Option(None, "--region-weights", help="Local transformers Swin/ViT/DeiT folder to start the region encoder from."),
    srm_weight: float = typer.Option(0.5, "--srm-weight", min=0.0, help="λ of the sequence-region matching loss (0: uni-modal ablation)."),
    srm_loss: str = typer.Option("infonce", "--srm-loss", help="infonce (symmetric, CLIP) or pooled (the paper's Eq. 3)."),
    max_steps: int = typer.Option(1000, "--max-steps", min=1),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    learning_rate: float = typer.Option(4e-4, "--lr", min=0.0),
    warmup_steps: int = typer.Option(100, "--warmup-steps", min=0),
    mask_rate: float = typer.Option(0.15, "--mask-rate", min=0.0, max=1.0),
    final_mask_rate: float = typer.Option(0.20, "--final-mask-rate", min=0.0, max=1.0),
    final_mask_steps: Optional[int] = typer.Option(None, "--final-mask-steps", min=0, help="Steps at --final-mask-rate at the end (default: last 1/6, as 20k of 120k)."),
    max_segment_tokens: Optional[int] = typer.Option(None, "--max-segment-tokens", min=1, help="Truncate each of the two segments to this many k-mers."),
    region_crop: Optional[int] = typer.Option(None, "--region-crop", min=1, help="Crop each region to its central N bp "
                                              "(refused unless the dataset was built with --scan-crop N)."),
    ngsp_negatives: str = typer.Option("any", "--ngsp-negatives", help="any, or same-condition: NGSP's random second "
                                       "segments come from the same condition (cell type / TF)."),
    streaming: bool = typer.Option(False, "--streaming", help="Stream the Parquet shards instead of memory-mapping them."),
    seed: int = typer.Option(42, "--seed"),
    bf16: bool = typer.Option(False, "--bf16"),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint in --output."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty --output folder (kept until the new run's first checkpoint)."),
    logging_steps: int = typer.Option(20, "--logging-steps", min=1),
    save_steps: int = typer.Option(500, "--save-steps", min=1),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or warnings (errors only)."),
) -> None:
    """Pretrain GeneBERT (masked genome modelling + next segment + sequence-region matching); torchrun works."""
    if quiet:
        set_quiet()  # the Trainer's bars go with transformers' verbosity
    from nucleoforge.training.genebert import genebert_preset, pretrain_genebert

    cfg = genebert_preset(config, k=k, region_encoder=region_encoder, srm_weight=srm_weight, srm_loss=srm_loss)
    metrics = pretrain_genebert(
        dataset, output, cfg, max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
        warmup_steps=warmup_steps, mask_rate=mask_rate, final_mask_rate=final_mask_rate,
        final_mask_steps=final_mask_steps, max_segment_tokens=max_segment_tokens, region_crop=region_crop,
        ngsp_negatives=ngsp_negatives, streaming=streaming, seed=seed, bf16=bf16, resume=resume, logging_steps=logging_steps,
        save_steps=save_steps, region_weights=region_weights, overwrite=overwrite,
    )  # fmt: skip
    typer.echo(json.dumps({k2: round(v, 4) if isinstance(v, float) else v for k2, v in metrics.items()}))
    typer.echo(f"model: {output}; sequence encoder alone: {output / 'sequence'}")
