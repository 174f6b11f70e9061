"""The typer apps the command modules attach their commands to (no commands here)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="nucleoforge",
    help="Nucleic-acid foundation models: embed, fill masks, predict splice sites, score variants, train.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # click's plain help (inherited by every command and sub-app): option and command names are
    # never cut, whatever the width; rich's panels cut them to `--activation-m…` at 80 columns
    rich_markup_mode=None,
)
convert_app = typer.Typer(help="Convert an original checkpoint into a nucleoforge folder.", no_args_is_help=True)
app.add_typer(convert_app, name="convert")
genebert_app = typer.Typer(help="GeneBERT: build region x motif datasets, pretrain, evaluate.", no_args_is_help=True)
app.add_typer(genebert_app, name="genebert")
reference_app = typer.Typer(help="Prepare reference FASTA files (place excerpts at their chromosome coordinates).", no_args_is_help=True)
app.add_typer(reference_app, name="reference")
