"""The typer apps the command modules attach their commands to (no commands here)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="nucleoforge",
    help="Nucleic-acid foundation models: embed, fill masks, predict splice sites, score variants, train.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
convert_app = typer.Typer(help="Convert an original checkpoint into a nucleoforge folder.", no_args_is_help=True)
app.add_typer(convert_app, name="convert")
genebert_app = typer.Typer(help="GeneBERT: build region x motif datasets, pretrain, evaluate.", no_args_is_help=True)
app.add_typer(genebert_app, name="genebert")
