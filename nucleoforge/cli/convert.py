"""``nucleoforge convert {splicebert,utrbert,rnaernie} SRC DST`` and ``nucleoforge export … SRC DST``.

``convert`` reads a local copy of an original release and writes a ready folder
(``config.json``, ``model.safetensors``, tokenizer files, ``conversion.json``);
``export`` writes a nucleoforge masked-LM folder back in the original layout.
(``convert spliceai`` lives in :mod:`nucleoforge.cli.convert_spliceai`.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nucleoforge.cli.app import app, convert_app

export_app = typer.Typer(help="Write a nucleoforge folder back in an original release's layout.", no_args_is_help=True)
app.add_typer(export_app, name="export")

_SRC_HELP = ("Local folder of the original release, or the https:// URL of its archive (downloaded once into the "
             "cache; end it with #FOLDER to pick one model of several).")
_DST_HELP = "Output folder (created; must be empty unless --force)."


_SHA256_HELP = "With a URL: the archive's expected sha256 (the download is refused when it differs)."


def _source(src: str, sha256: str | None) -> str:
    """``src``, or the checkpoint folder of the release archive at the URL ``src`` (downloaded once into the cache)."""
    from nucleoforge.io.downloads import is_url, release_folder

    if sha256 is not None and not is_url(src):
        raise typer.BadParameter("only with an https:// URL as SRC", param_hint="--sha256")
    return str(release_folder(src, sha256)) if is_url(src) else src


def _done(report: Any) -> None:
    for note in report.notes:
        typer.secho(f"note: {note}", err=True, fg=typer.colors.YELLOW)
    ignored = ", ".join(report.ignored_source_keys) or "none"
    typer.echo(
        f"converted {report.tensors_converted} tensors from {report.source}/{report.weights_file} "
        f"(sha256 {report.weights_sha256[:12]}…) → {report.destination}; ignored: {ignored}"
    )


@convert_app.command("splicebert")
def convert_splicebert_command(
    src: str = typer.Argument(..., help=_SRC_HELP),
    dst: Path = typer.Argument(..., help=_DST_HELP),
    variant: str | None = typer.Option(
        None, help="splicebert | splicebert.510 | splicebert-human.510; default from the config's positions "
        "(1026 → splicebert, 512 → splicebert.510; the two 510-nt models have identical configs)."
    ),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty DST."),
    sha256: str | None = typer.Option(None, "--sha256", help=_SHA256_HELP),
) -> None:
    """SpliceBERT (Zenodo SpliceBERT.1024nt / .510nt / -human.510nt: config.json, vocab.txt, pytorch_model.bin)."""
    from nucleoforge.models.splicebert.convert import convert_splicebert

    _done(convert_splicebert(_source(src, sha256), dst, variant=variant, overwrite=force))


@convert_app.command("utrbert")
def convert_utrbert_command(
    src: str = typer.Argument(..., help=_SRC_HELP),
    dst: Path = typer.Argument(..., help=_DST_HELP),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty DST."),
    sha256: str | None = typer.Option(None, "--sha256", help=_SHA256_HELP),
) -> None:
    """3UTRBERT (figshare {k}-new-12w-0: config.json, vocab.txt, pytorch_model.bin); k from the vocabulary size."""
    from nucleoforge.models.utrbert.convert import convert_utrbert

    _done(convert_utrbert(_source(src, sha256), dst, overwrite=force))


@convert_app.command("rnaernie")
def convert_rnaernie_command(
    src: str = typer.Argument(..., help=_SRC_HELP),
    dst: Path = typer.Argument(..., help=_DST_HELP),
    vocab: Path | None = typer.Option(
        None, help="RNAErnie's vocab_1MER.txt (from its code repository) if SRC has no vocab_1MER.txt/vocab.txt."
    ),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty DST."),
    sha256: str | None = typer.Option(None, "--sha256", help=_SHA256_HELP),
) -> None:
    """RNAErnie (PaddleNLP: model_state.pdparams + model_config.json); Paddle is not needed."""
    from nucleoforge.models.rnaernie.convert import convert_rnaernie

    _done(convert_rnaernie(_source(src, sha256), dst, vocab=vocab, overwrite=force))


def _export(kind: str, src: str, dst: Path, force: bool) -> None:
    import importlib

    module = importlib.import_module(f"nucleoforge.models.{kind}.convert")
    out = getattr(module, f"export_{kind}")(src, dst, overwrite=force)
    typer.echo(f"wrote {out} ({', '.join(sorted(p.name for p in Path(out).iterdir()))})")


@export_app.command("splicebert")
def export_splicebert_command(
    src: str = typer.Argument(..., help="A nucleoforge SpliceBERT folder."),
    dst: Path = typer.Argument(..., help=_DST_HELP),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty DST."),
) -> None:
    """Write config.json, vocab.txt and pytorch_model.bin as in SpliceBERT's release."""
    _export("splicebert", src, dst, force)


@export_app.command("utrbert")
def export_utrbert_command(
    src: str = typer.Argument(..., help="A nucleoforge 3UTRBERT folder."),
    dst: Path = typer.Argument(..., help=_DST_HELP),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty DST."),
) -> None:
    """Write config.json, vocab.txt and pytorch_model.bin as in 3UTRBERT's release (no pooler)."""
    _export("utrbert", src, dst, force)


@export_app.command("rnaernie")
def export_rnaernie_command(
    src: str = typer.Argument(..., help="A nucleoforge RNAErnie folder."),
    dst: Path = typer.Argument(..., help=_DST_HELP),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty DST."),
) -> None:
    """Write model_state.pdparams, model_config.json and vocab_1MER.txt as in RNAErnie's release (no pooler)."""
    _export("rnaernie", src, dst, force)
