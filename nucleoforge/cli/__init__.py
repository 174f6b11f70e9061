"""The ``nucleoforge`` command line: one typer app, one command per library function.

Command modules live beside this file and register themselves on :data:`app` (or on a
sub-app such as :data:`convert_app`); heavy imports (torch, transformers) happen inside
the commands so that ``nucleoforge --help`` stays fast.
"""

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

# Command modules register on the apps above when imported.
from nucleoforge.cli import (  # noqa: E402,F401
    convert,
    convert_spliceai,
    genebert,
    lm,
    pipelines,
    spliceai,
    train,
)


def main() -> None:
    """Console-script entry point."""
    app()
