"""Training runs that cannot succeed stop with one line (issue 21, item B): ``train-splice`` whose
loss or gradient norm is not finite (a learning rate far too high), and ``finetune --metric`` with a
name the task does not report. No model and no output folder are left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.runner import invoke
from tests.splicing.test_h5_faults import TINY, dataset  # noqa: F401  (the real splice-data fixture)


pytestmark = pytest.mark.usefixtures("one_thread")


def _error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _train(data: Path, out: Path, *extra: str) -> list[object]:
    return ["train-splice", "--data", data, "--output", out, "--config", TINY, "--batch-size", "4", "--max-steps", "10",
            "--logging-steps", "1", "-q", *extra]  # fmt: skip


def test_train_splice_stops_at_the_first_step_that_is_not_finite(dataset, tmp_path):  # noqa: F811
    # item B: --lr 1e30: step 1 throws the weights to ~1e30, step 2's loss and gradients are NaN; the
    # run stops there, before the optimizer step, with one line naming the step and the likely causes
    # (main: trains all 10 steps on NaN and writes the model, exit 0); nothing is left in --output
    out = tmp_path / "out"
    assert _error_line(invoke(_train(dataset, out, "--lr", "1e30"))) == (
        "error: train-splice stopped at step 2 (member 0): the loss and the gradient norm are not finite "
        "(loss nan, gradient norm nan); the learning rate is likely too high (--lr 1e+30: try 10x lower) or the "
        "labels are bad (check Y and W of the training split)")
    assert not out.exists()


def test_train_splice_non_finite_after_a_checkpoint_keeps_the_checkpoint(dataset, tmp_path):  # noqa: F811
    # item B: with a checkpoint after step 1, the run still stops at step 2 and writes no model; the
    # checkpoint (the run up to there) is kept, as a checkpointed run always is
    out = tmp_path / "out"
    line = _error_line(invoke(_train(dataset, out, "--lr", "1e30", "--save-steps", "1")))
    assert line.startswith("error: train-splice stopped at step 2 (member 0): the loss and the gradient norm are not finite")
    assert not (out / "model.safetensors").exists() and not (out / "member-0" / "model.safetensors").exists()
    assert sorted(p.name for p in (out / "member-0").glob("checkpoint-*")) == ["checkpoint-1"]


def test_train_splice_with_a_sane_learning_rate_is_unaffected(dataset, tmp_path):  # noqa: F811
    # item B: the check passes every finite step (all 10 trained, the model written)
    out = tmp_path / "out"
    result = invoke(_train(dataset, out))
    assert result.exit_code == 0, result.output
    steps = [r["step"] for r in map(json.loads, (out / "member-0" / "log.jsonl").read_text().splitlines()) if "loss" in r]
    assert steps == list(range(1, 11))
    assert (out / "model.safetensors").is_file()


# ---------------------------------------------------------------------------- finetune --metric
@pytest.fixture()
def peaks_csv(tmp_path) -> Path:
    """16 real peaks from the bundled test files (Oct4 = 1, MafK = 0), cut to 80 nt."""
    from nucleoforge.io.fasta import read_fasta
    from tests.conftest import DATA

    rows = [(r.sequence[:80], 1) for r in read_fasta(DATA / "oct4_peaks_test.fa")][:8]
    rows += [(r.sequence[:80], 0) for r in read_fasta(DATA / "mafk_peaks_test.fa")][:8]
    path = tmp_path / "peaks.csv"
    path.write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    return path


@pytest.mark.parametrize(("extra", "line"), [
    ((), "--metric no_such_metric: not a metric of a binary sequence task; expected one of loss, accuracy, f1, mcc, "
         "auroc, auprc"),
    (("--problem-type", "regression"), "--metric no_such_metric: not a metric of a regression sequence task; expected "
                                       "one of loss, pearson, spearman, rmse, r2"),
])  # fmt: skip
def test_finetune_unknown_metric_is_refused_up_front(tmp_path, peaks_csv, extra, line):
    # item B: checked before anything is loaded or written (main: KeyError at the first evaluation, exit 1,
    # after a whole epoch of training); the valid names are listed
    from tests.training.conftest import TINY_ARG

    out = tmp_path / "out"
    args = ["finetune", "--model-type", "splicebert", "--config", TINY_ARG, "--train", peaks_csv, "--eval", peaks_csv,
            "--output", out, "--epochs", "1", "--batch-size", "8", "--metric", "no_such_metric", "--quiet", *extra]
    assert _error_line(invoke(args)) == f"error: {line}"
    assert not out.exists()
    args[args.index("no_such_metric")] = "eval_mcc" if not extra else "eval_spearman"  # the Trainer's own spelling is valid
    result = invoke(args)
    assert result.exit_code == 0, result.output
    shutil.rmtree(out)
