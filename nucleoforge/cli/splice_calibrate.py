"""``calibrate-splice``: per-class temperature scaling of a SpliceAI model on a ``splice-data`` validation split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from nucleoforge.cli.app import app
from nucleoforge.cli.boundary import check_device, is_quiet, set_quiet


@app.command("calibrate-splice")
def calibrate_splice(
    data: Path = typer.Option(..., "--data", "-d", help="a `nucleoforge splice-data` folder (dataset.json + validation.h5)"),
    model_dir: str = typer.Option(..., "--model", "-m", help="saved SpliceAI folder: its config.json gets the temperatures "
                                  "(a name such as spliceai-10k needs --output)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write a calibrated copy (weights copied) into this "
                                          "new folder instead of changing MODEL_DIR"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --output folder (the new one is "
                                   "written beside it and swapped in when complete)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="reliability diagram (.png; default: reliability.png in the "
                                        "folder written)"),
    max_negatives: int = typer.Option(200_000, "--max-negatives", min=1, help="negatives (W=1) sampled for the fit; "
                                      "all positives are used, negatives are re-weighted"),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", min=1, help="use at most this many validation rows "
                                           "(random, --seed)"),
    seed: int = typer.Option(0, "--seed", help="seed of the position (and row) sampling"),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="rows per model call"),
    device: Optional[str] = typer.Option(None, "--device", help="torch device (cpu, cuda, ...)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Fit one temperature per class (neither, acceptor, donor) on the validation split and store them.

    Calibrated output = softmax(log(p) / T), p the (ensemble's) probabilities. Writes
    calibration_temperatures and calibration (data identity, ECE before/after, positions)
    into config.json atomically, and a reliability diagram; prints a table and a JSON line.
    Use the temperatures with --calibrated on splice, variants and evaluate-splice.
    """
    from nucleoforge.splicing.calibration import calibrate_model

    if quiet:
        set_quiet()
    check_device(device)
    result = calibrate_model(model_dir, data, output_dir=output, overwrite=overwrite, plot=plot, max_negatives=max_negatives, seed=seed,
                             max_rows=max_rows, batch_size=batch_size, device=device, progress=not is_quiet())
    typer.echo(f"wrote {result.config} and {result.plot}", err=True)
    typer.echo(result.table())
    typer.echo(json.dumps(result.summary()))
