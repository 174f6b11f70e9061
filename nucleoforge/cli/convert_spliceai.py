"""``nucleoforge convert spliceai [SRC ...] DST`` (Keras h5), ``convert openspliceai SRC [OUT]`` and
``convert pangolin SRC [OUT]`` (PyTorch state dicts): splice models -> nucleoforge folders."""

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


_GPL_NOTE = "GPL-3.0: keep the converted folder (a derived work) under the same licence"


def _wrote(folder: Path, terms: str) -> None:
    """The one line a converter prints: the folder, its files, the weights' licence and its terms."""
    from nucleoforge.models.spliceai import SpliceAIConfig, licence_notice

    typer.echo(f"wrote {folder} (config.json, model.safetensors, conversion.json, LICENSE); "
               f"{licence_notice(SpliceAIConfig.from_pretrained(folder))}; {terms}")


@convert_app.command("openspliceai")
def convert_openspliceai_command(
    src: Path = typer.Argument(..., help="One OpenSpliceAI context folder of model_<N>nt_rs<seed>.pt files "
                               "(e.g. models/openspliceai-mane/10000nt of its repository)."),
    out: Path | None = typer.Argument(None, help="Output folder; default the cache folder of the published name "
                                      "(openspliceai-mane-10k, ...), which `--model NAME` then loads."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty OUT."),
) -> None:
    """OpenSpliceAI (PyTorch state dicts, read with torch.load(weights_only=True)): every seed becomes an ensemble member."""
    from nucleoforge.models.spliceai.convert_pytorch import convert_openspliceai

    _wrote(convert_openspliceai(src, out, overwrite=force), _GPL_NOTE)


@convert_app.command("pangolin")
def convert_pangolin_command(
    src: Path = typer.Argument(..., help="Folder holding Pangolin's final.{1,2,3}.{0,2,4,6}.3.v2 "
                               "(pangolin/models of its repository; other files there are ignored)."),
    out: Path | None = typer.Argument(None, help="Output folder; default the cache folder that `--model pangolin` loads."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty OUT."),
) -> None:
    """Pangolin's 12 models (4 tissues × 3 replicates) as one 12-member ensemble with Pangolin's 12-channel head."""
    from nucleoforge.models.spliceai.convert_pytorch import convert_pangolin

    _wrote(convert_pangolin(src, out, overwrite=force), _GPL_NOTE)


@convert_app.command("cispliceai")
def convert_cispliceai_command(
    out: Path | None = typer.Argument(None, help="Output folder; default the cache folder that `--model cispliceai` loads."),
    source: Path | None = typer.Option(None, "--source", help="A CI-SpliceAI.pb graph (default: the installed cispliceai wheel's)."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty OUT."),
) -> None:
    """CI-SpliceAI (the cispliceai wheel's frozen TensorFlow graph, read without TensorFlow) as a 5-member SpliceAI-10k ensemble."""
    from nucleoforge.models.spliceai.convert_cispliceai import convert_cispliceai
    from nucleoforge.models.spliceai.pretrained import cache_folder

    if out is None:
        out, force = cache_folder("cispliceai"), True
    _wrote(convert_cispliceai(out, source, overwrite=force), "CC BY 4.0: attribution required")
