"""``nucleoforge serve``: a local SpliceAI lookup (web page + REST API) on your reference and annotation."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nucleoforge.cli.app import app
from nucleoforge.cli.spliceai import _MODEL_HELP, _load_model, _setup_logging


def _genomes(reference: Optional[Path], annotation: Optional[str], hg: str, genome: list[str]):
    """The served genomes from ``-R/-A`` (named ``--hg``) and/or ``--genome NAME=FASTA,ANNOTATION``."""
    from nucleoforge.io.outputs import check_paths
    from nucleoforge.serve.service import GenomeSpec

    specs = []
    if reference is not None or annotation is not None:
        if reference is None or annotation is None:
            raise typer.BadParameter("-R/--reference and -A/--annotation go together (or use --genome NAME=FASTA,ANNOTATION)")
        specs.append(GenomeSpec(hg, str(reference), annotation))
    for text in genome:
        name, _, rest = text.partition("=")
        fasta, _, ann = rest.partition(",")
        if not name or not fasta or not ann:
            raise typer.BadParameter(f"--genome {text!r}: expected NAME=FASTA,ANNOTATION (e.g. 38=GRCh38.fa,grch38)")
        specs.append(GenomeSpec(name, fasta, ann))
    if not specs:
        raise typer.BadParameter("give -R/--reference FASTA -A/--annotation ANNOTATION, or --genome NAME=FASTA,ANNOTATION")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise typer.BadParameter(f"genome names must differ, got {names}")
    for s in specs:
        check_paths({"-R/--reference": s.reference, "-A/--annotation": s.annotation if Path(s.annotation).is_file() else None}, {})
    return specs


@app.command("serve")
def serve(
    reference: Optional[Path] = typer.Option(None, "-R", "--reference", help="reference FASTA of the genome named by --hg"),
    annotation: Optional[str] = typer.Option(None, "-A", "--annotation", help="grch37, grch38, a SpliceAI table or a GTF/GFF3 "
                                             "(with transcript IDs the scores are per canonical transcript)"),
    hg: str = typer.Option("37", "--hg", help="the name clients use for -R/-A (the API's hg=)"),
    genome: list[str] = typer.Option([], "--genome", help="another served genome: NAME=FASTA,ANNOTATION (repeatable)"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="SQLite score cache (that of `variants --cache`): read "
                                         "first, and every computed score is added"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (default: this machine only)"),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    model_name: str = typer.Option("spliceai-10k", "--model", help=_MODEL_HELP),
    max_batch: int = typer.Option(64, "--max-batch", min=1, help="most variants per scorer call and per POST /spliceai/batch"),
    max_distance: int = typer.Option(4999, "--max-distance", min=0, max=4999, help="largest distance= a request may ask"),
    timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="seconds a request may wait for its scores (then HTTP 408)"),
    device: Optional[str] = typer.Option(None, help="torch device (cpu, cuda, ...)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no start-up line or progress bar, errors only"),
) -> None:
    """Serve a SpliceAI lookup page and a SpliceAI-lookup-compatible REST API (GET /spliceai/?hg=37&variant=chr8-140300616-T-G&distance=50&mask=0)."""
    from nucleoforge.cli.boundary import is_quiet

    _setup_logging(quiet)
    specs = _genomes(reference, annotation, hg, genome)
    try:
        import uvicorn

        from nucleoforge.serve.app import create_app
        from nucleoforge.serve.service import LookupService
    except ImportError as exc:
        raise typer.BadParameter(f"serve needs its extra: pip install 'nucleoforge[serve]' ({exc})") from None
    model = _load_model(model_name, device)
    service = LookupService(specs, model, cache=str(cache) if cache else None, max_distance=max_distance, device=device)
    application = create_app(service, max_batch=max_batch, timeout=timeout)
    if not is_quiet():
        typer.echo(f"serving {', '.join(f'hg{s.name}' for s in specs)} on http://{host}:{port}/ (API: /spliceai/, "
                   f"/spliceai/batch, /health, /openapi.json)", err=True)
    uvicorn.run(application, host=host, port=port, log_level="warning")
