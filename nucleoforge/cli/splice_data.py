"""``nucleoforge splice-data``: a splice-site training dataset (SpliceAI's recipe) from a reference
and an annotation (the library function is :func:`nucleoforge.splicing.dataset.build_splice_dataset`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from nucleoforge.cli.app import app
from nucleoforge.cli.boundary import is_quiet, set_quiet


@app.command("splice-data")
def splice_data(
    reference: Path = typer.Option(..., "--reference", "-R", help="reference FASTA (plain, gzip or bgzip) whose coordinates match the annotation"),
    annotation: str = typer.Option(..., "--annotation", "-A", help="grch37, grch38, a SpliceAI-style table, a GTF or a GFF3 file (gzip ok)"),
    output: Path = typer.Option(..., "--output", "-o", help="dataset folder to write (dataset.json, train.h5, validation.h5, test.h5)"),
    context: int = typer.Option(10_000, "--context", help="flank kept around each block of 5,000 labelled positions: C/2 nt each side (even)"),
    transcripts: str = typer.Option("canonical", "--transcripts", help="'canonical': one per gene (canonical tag, else longest); 'all': every transcript"),
    split: Optional[str] = typer.Option(None, "--split", help="named chromosome split: 'human' (SpliceAI card: train chr1-19, X, Y; test chr20)"),
    train_chroms: Optional[list[str]] = typer.Option(None, "--train-chroms", help="training chromosomes, comma-separated (repeatable); default with --test-chroms: all others"),
    test_chroms: Optional[list[str]] = typer.Option(None, "--test-chroms", help="test chromosomes, comma-separated (repeatable)"),
    train_region: Optional[list[str]] = typer.Option(None, "--train-region", help="chrom:start-end (1-based): transcripts wholly inside train/validate (repeatable); default with --test-region: every transcript not overlapping one"),
    test_region: Optional[list[str]] = typer.Option(None, "--test-region", help="chrom:start-end (1-based): transcripts wholly inside are the test set (repeatable)"),
    validation_fraction: float = typer.Option(0.05, "--validation-fraction", help="fraction of training transcripts held out for validation (groups of overlapping ones)"),
    seed: int = typer.Option(0, "--seed", help="seed of the validation hold-out"),
    overwrite: bool = typer.Option(False, "--overwrite", "--force", help="replace a non-empty output folder (the new one is "
                                   "written beside it and swapped in when complete; --force is the older name)"),
    allow_build_mismatch: bool = typer.Option(False, "--allow-build-mismatch", help="go on (with one warning) when the "
                                              "reference and annotation look like different genome builds"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Write a splice-site training dataset: one transcript per gene, labels neither/acceptor/donor
    (the site convention of evaluate-splice), blocks of 5,000 positions with C/2 nt of context each
    side (N outside the transcript), minus-strand transcripts reverse-complemented, weight 0
    within 50 nt of a transcript end or of a run of more than 10 N; split by chromosome or by
    region, 5 % of training transcripts held out for validation. Prints the summary (also stored
    in DIR/dataset.json); the format is described in nucleoforge.splicing.dataset.
    """
    from nucleoforge.io.builds import check_build
    from nucleoforge.splicing.dataset import build_splice_dataset, summary_table

    if quiet:
        set_quiet()
    check_build(reference, annotation, allow=allow_build_mismatch, action="build the dataset")
    meta = build_splice_dataset(
        reference, annotation, output, context=context, transcripts=transcripts, split=split,
        train_chroms=train_chroms or (), test_chroms=test_chroms or (), train_regions=train_region or (),
        test_regions=test_region or (), validation_fraction=validation_fraction, seed=seed, overwrite=overwrite,
        progress=not is_quiet(),
    )
    typer.echo(summary_table(meta))
    typer.echo(json.dumps(meta["summary"]))
