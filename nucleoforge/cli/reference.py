"""``nucleoforge reference``: prepare reference FASTA files for the other commands.

``reference place`` turns excerpt records (``22:20000001-21000000``, as ``samtools faidx``
writes them) into whole-chromosome records at their real coordinates, so that VCFs, dbSNP
and gene tables line up with the sequence (:func:`nucleoforge.io.genome.place_subsequence_records`).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from nucleoforge.cli.app import reference_app
from nucleoforge.cli.boundary import is_quiet, set_quiet


@reference_app.command("place")
def place(
    fasta: Path = typer.Argument(..., help="FASTA (plain or gzip) whose records are named chrom:start-end (1-based, inclusive)"),
    output: Path = typer.Option(..., "--output", "-o", help="placed FASTA to write: one record per chromosome, N before and between the pieces"),
    chrom_prefix: str = typer.Option("", "--chrom-prefix", help="rename chromosomes with this prefix (e.g. 'chr': 22 -> chr22)"),
    width: int = typer.Option(60, "--width", min=1, help="bases per FASTA line"),
    overwrite: bool = typer.Option(False, "--overwrite", "--force", help="replace an existing OUTPUT (--force is the older name)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print nothing (errors only)"),
) -> None:
    """Place excerpt records at their chromosome coordinates (N before each start).

    ``22:20000001-21000000`` becomes record ``22`` of 21,000,000 bases whose first 20,000,000
    are N. Several excerpts of one chromosome are joined in coordinate order (N between them);
    overlapping excerpts, or a record whose name is not ``chrom:start-end``, are refused. The
    output is written beside its target and renamed when complete.
    """
    from nucleoforge.errors import NucleoforgeError
    from nucleoforge.io.genome import place_subsequence_records
    from nucleoforge.io.outputs import atomic_path, check_paths

    if quiet:
        set_quiet()
    if str(output) == "-":
        raise NucleoforgeError("--output -: give a file name (the placed FASTA is written beside it and renamed when complete)")
    # the input exists, the output is not the input and lies in an existing folder
    check_paths({"FASTA": fasta}, {"--output": output})
    if os.path.isfile(output) and not overwrite:
        raise NucleoforgeError(f"--output {output}: file exists; pass --overwrite to replace it, or choose another file")
    with atomic_path(output) as tmp:
        lengths = place_subsequence_records(fasta, tmp, chrom_prefix=chrom_prefix, width=width)
    if not is_quiet():
        for name, length in lengths.items():
            typer.echo(f"{name}: {length:,} nt")
        records = "record" if len(lengths) == 1 else "records"
        typer.echo(f"wrote {len(lengths)} {records} to {output}")
