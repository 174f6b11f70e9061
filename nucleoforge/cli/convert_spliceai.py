"""``nucleoforge convert spliceai [SRC ...] DST``: Keras h5 SpliceAI models -> nucleoforge folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nucleoforge.cli.app import convert_app


@convert_app.command("spliceai")
def convert_spliceai_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="[SRC ...] DST: optional h5 files or folders of them (default: the five models of the "
            "installed `spliceai` wheel), then the output folder.",
            show_default=False,
            metavar="[SRC]... DST",
        ),
    ],
) -> None:
    """Convert SpliceAI Keras models (h5, read with h5py; no TensorFlow) to config.json + model.safetensors.

    The SpliceAI weights are licensed CC BY-NC 4.0 (non-commercial use only); the output
    folder gets a LICENSE note. Install the wheel with `pip install --no-deps spliceai==1.3.1`.
    """
    from nucleoforge.models.spliceai.convert import convert_spliceai

    *sources, dst = paths
    out = convert_spliceai(dst, sources or None)  # a missing or unreadable source: one error line (the boundary)
    typer.echo(f"wrote {out}/config.json, model.safetensors and LICENSE (SpliceAI weights: CC BY-NC 4.0)")
