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


def _pangolin_name(pangolin: Optional[str], no_pangolin: bool) -> Optional[str]:
    """What ``--pangolin``/``--no-pangolin`` ask for: a name or folder to load, or None (no Pangolin).
    Without either, the named model ``pangolin`` when it is converted in the cache, else None."""
    if no_pangolin:
        if pangolin is not None:
            raise typer.BadParameter("--pangolin and --no-pangolin contradict each other: give one")
        return None
    from nucleoforge.models.spliceai.pretrained import NAMED_WEIGHTS, is_converted, resolve_named

    if pangolin is not None:  # missing weights are one line before anything loads
        if pangolin in NAMED_WEIGHTS:
            resolve_named(pangolin)
        elif not Path(pangolin).is_dir():
            from nucleoforge.errors import MissingPathError

            raise MissingPathError(f"--pangolin {pangolin}: no such folder (give 'pangolin' after `nucleoforge convert "
                                   "pangolin SRC`, or the folder `nucleoforge convert pangolin SRC OUT` wrote)")
        return pangolin

    return "pangolin" if is_converted("pangolin") else None


def _load_pangolin(name: str, device: Optional[str]):
    """The Pangolin model of ``--pangolin NAME_OR_FOLDER`` (one error line when it is missing or not Pangolin's)."""
    from nucleoforge.serve.pangolin import check_pangolin

    return check_pangolin(_load_model(name, device), f"--pangolin {name}")


def check_served_builds(specs, allow: bool = False) -> None:
    """The build check of :func:`nucleoforge.io.builds.check_build` on each served genome's FASTA and annotation."""
    from nucleoforge.io.builds import check_build

    for spec in specs:
        check_build(spec.reference, spec.annotation, allow=allow, action="serve")


@app.command("serve")
def serve(
    reference: Optional[Path] = typer.Option(None, "-R", "--reference", help="reference FASTA of the genome named by --hg"),
    annotation: Optional[str] = typer.Option(None, "-A", "--annotation", help="grch37, grch38, a SpliceAI table or a GTF/GFF3 "
                                             "(with transcript IDs the scores are per canonical transcript)"),
    hg: str = typer.Option("37", "--hg", help="the name clients use for -R/-A (the API's hg=)"),
    genome: list[str] = typer.Option([], "--genome", help="another served genome: NAME=FASTA,ANNOTATION (repeatable)"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="SQLite score cache (that of `variants --cache`): read "
                                         "first, and every computed score is added; checked at start-up, and opened "
                                         "read-only (lookups only) when it or its folder is not writable"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (default: this machine only; any "
                                                         "address beyond loopback needs --allow-remote)"),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="allow a --host beyond loopback. The server has no "
                                      "authentication: anyone who can reach the address can run the model on this "
                                      "machine, read /health (reference and annotation paths) and add scores to --cache"),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    model_name: str = typer.Option("spliceai-10k", "--model", help=_MODEL_HELP),
    pangolin: Optional[str] = typer.Option(None, "--pangolin", metavar="NAME_OR_FOLDER", help="also serve Pangolin "
                                           "(GET /pangolin/, a column of the page): 'pangolin' (the folder `nucleoforge "
                                           "convert pangolin SRC` writes) or a converted folder. Default: 'pangolin' "
                                           "when it is converted, else none"),
    no_pangolin: bool = typer.Option(False, "--no-pangolin", help="serve SpliceAI only, even when Pangolin is converted"),
    max_batch: int = typer.Option(64, "--max-batch", min=1, help="most variants per scorer call and per POST /spliceai/batch"),
    max_distance: int = typer.Option(4999, "--max-distance", min=0, max=4999, help="largest distance= a request may ask"),
    timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="seconds a request may wait for its scores (then HTTP 408)"),
    allow_build_mismatch: bool = typer.Option(False, "--allow-build-mismatch", help="serve (with one warning per "
                                              "genome) a reference and annotation that look like different genome "
                                              "builds"),
    device: Optional[str] = typer.Option(None, help="torch device (cpu, cuda, ...)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no start-up line or progress bar, errors only"),
) -> None:
    """Serve a SpliceAI lookup page and a SpliceAI-lookup-compatible REST API (GET /spliceai/?hg=37&variant=chr8-140300616-T-G&distance=50&mask=0),
    with Pangolin next to SpliceAI when it is converted or --pangolin names it (GET /pangolin/?...)."""
    from nucleoforge.cli.boundary import is_quiet

    _setup_logging(quiet)
    specs = _genomes(reference, annotation, hg, genome)
    pangolin_name = _pangolin_name(pangolin, no_pangolin)
    try:
        import uvicorn

        from nucleoforge.serve.app import create_app
        from nucleoforge.serve.service import LookupService
    except ImportError as exc:
        raise typer.BadParameter(f"serve needs its extra: pip install 'nucleoforge[serve]' ({exc})") from None
    check_served_builds(specs, allow=allow_build_mismatch)  # before the model loads
    from nucleoforge.io.score_cache import check_cache_path
    from nucleoforge.serve.bind import EXPOSES, is_loopback, listen, url_of

    writable = check_cache_path(cache) if cache else True  # before the model loads: an unusable cache is one line
    listener = listen(host, port, allow_remote=allow_remote)  # likewise a refused host or a port in use
    try:
        if not is_quiet():
            if not writable:
                typer.echo(f"warning: --cache {cache} is not writable: it is read for lookups and new scores are not "
                           "stored", err=True)
            if not is_loopback(host):
                typer.echo(f"warning: serving on {host} without authentication: {EXPOSES}", err=True)
        model = _load_model(model_name, device)
        pangolin_model = _load_pangolin(pangolin_name, device) if pangolin_name else None
        if not is_quiet():
            from nucleoforge.models.spliceai import licence_notice

            typer.echo(licence_notice(model), err=True)
            if pangolin_model is not None:
                typer.echo(licence_notice(pangolin_model), err=True)
        service = LookupService(specs, model, cache=str(cache) if cache else None, max_distance=max_distance,
                                device=device, cache_readonly=not writable, pangolin=pangolin_model)
        application = create_app(service, max_batch=max_batch, timeout=timeout)
        if not is_quiet():
            routes = "/spliceai/, /spliceai/batch, " + ("/pangolin/, /pangolin/batch, " if pangolin_model is not None else "")
            typer.echo(f"serving {', '.join(f'hg{s.name}' for s in specs)} on {url_of(listener)} (API: {routes}"
                       "/health, /openapi.json)", err=True)
        uvicorn.Server(uvicorn.Config(application, log_level="warning")).run(sockets=[listener])
    finally:
        listener.close()
