"""The ``nucleoforge`` command line: one typer app, one command per library function.

Command modules live beside this file and register themselves on the apps of
:mod:`nucleoforge.cli.app` (``app``, ``convert_app``, ``genebert_app``, ``reference_app``); heavy imports (torch, transformers) happen inside
the commands so that ``nucleoforge --help`` stays fast.
"""

from __future__ import annotations

from nucleoforge.cli.app import app, convert_app, genebert_app, reference_app  # noqa: F401  (re-exported)

# Command modules register on the apps above when imported.
from nucleoforge.cli import (  # noqa: E402,F401
    boundary,
    convert,
    convert_spliceai,
    genebert,
    lm,
    pipelines,
    reference,
    serve,
    spliceai,
    splice_data,
    splice_train,
    train,
)
from nucleoforge.cli import splice_calibrate  # noqa: E402,F401  (calibrate-splice)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: the app inside the one error boundary (:mod:`nucleoforge.cli.boundary`).

    A user error prints one ``error: …`` line and exits with status 2, an internal error (a bug
    or an environment failure) exits with 1 (``--debug`` prints its traceback).
    """
    raise SystemExit(boundary.run(argv))
