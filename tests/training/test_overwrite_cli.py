"""Output folders on the command line: ``pretrain``, ``finetune``, ``train-splice``,
``calibrate-splice --output``, ``splice-data`` (and ``genebert pretrain``) refuse a non-empty
folder that is not their own resumable run in one line naming it, what it holds and
``--overwrite``, and leave it untouched; ``--overwrite`` ends with only the new run's files; a run
that fails or is interrupted before its first checkpoint leaves the old folder as it was; a
command's own run is still resumed. Tiny models, a few steps each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nucleoforge.io.output_folders import STAGING_SUFFIX
from tests.cli.runner import EXE, invoke
from tests.training.conftest import TINY_ARG


pytestmark = pytest.mark.usefixtures("one_thread")


def _foreign(folder: Path) -> dict[str, str]:
    """A folder that belongs to nobody's run: a file and a sub-folder; returns what it holds."""
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "data.txt").write_text("keep me")
    (folder / "notes.txt").write_text("mine")
    return _contents(folder)


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _error_line(result) -> str:
    """The one stderr line of a user error (exit status 2)."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _foreign_line(folder: Path) -> str:
    return (f"error: --output {folder}: folder exists and is not empty (it holds notes.txt, sub/); "
            "pass --overwrite to replace it, or choose another folder")


def _steps(log: Path) -> list[int]:
    return [row["step"] for row in map(json.loads, log.read_text().splitlines()) if "loss" in row]


# ---------------------------------------------------------------------------- pretrain
def _pretrain(train: Path, out: Path, max_steps: int, *extra: str) -> list[str]:
    return ["pretrain", "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(train), "--output", str(out),
            "--min-length", "64", "--max-length", "96", "--batch-size", "4", "--max-steps", str(max_steps),
            "--save-steps", "3", "--logging-steps", "1", "--shuffle-buffer", "64", "--quiet", *extra]  # fmt: skip


def test_pretrain_refuses_overwrites_and_still_resumes(tmp_path, chr22_corpus):
    # items: refuse a foreign folder (exact line, untouched); --overwrite leaves only the new run's files;
    # its own run is refused without --resume (offered) and resumed with it
    train, _ = chr22_corpus
    out = tmp_path / "out"
    before = _foreign(out)
    assert _error_line(invoke(_pretrain(train, out, 3))) == _foreign_line(out)
    assert _contents(out) == before
    result = invoke(_pretrain(train, out, 3, "--overwrite"))
    assert result.exit_code == 0, result.output
    assert _names(out) == ["checkpoint-3", "config.json", "log.jsonl", "metrics.json", "model.safetensors",
                           "tokenizer_config.json", "training_args.bin", "vocab.txt"]  # fmt: skip
    assert _steps(out / "log.jsonl") == [1, 2, 3]
    assert _names(tmp_path) == ["out"]  # no staging or old folder left beside it
    line = _error_line(invoke(_pretrain(train, out, 6)))
    assert line == (f"error: --output {out} already holds a pretrain run (checkpoint-3/, config.json, log.jsonl, "
                    "metrics.json and 4 more); pass --resume to continue it, or --overwrite to replace it")
    result = invoke(_pretrain(train, out, 6, "--resume"))
    assert result.exit_code == 0, result.output
    assert _steps(out / "log.jsonl") == [1, 2, 3, 4, 5, 6]  # continued from checkpoint-3
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-6"]
    line = _error_line(invoke(_pretrain(train, out, 6, "--resume", "--overwrite")))
    assert line == (f"error: --resume and --overwrite cannot be combined: --resume continues the run in {out}, "
                    "--overwrite replaces it")


@pytest.mark.slow  # a fresh process: ~25 s on 2 shared cores (the in-process failures below cover the same item)
def test_pretrain_interrupted_before_its_first_checkpoint_keeps_the_old_folder(tmp_path, chr22_corpus):
    # item: an interrupted --overwrite run (Ctrl-C while it trains, no checkpoint yet) leaves the old folder intact;
    # the exit status is the boundary's 130 for an interrupt
    train, _ = chr22_corpus
    out = tmp_path / "out"
    before = _foreign(out)
    staging = tmp_path / ("out" + STAGING_SUFFIX)
    args = _pretrain(train, out, 100_000, "--overwrite")
    args[args.index("--save-steps") + 1] = "100000"
    env = {**{k: v for k, v in os.environ.items() if k != "NUCLEOFORGE_DEBUG"}, "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-c", "from nucleoforge.cli import main; main()"]
    proc = subprocess.Popen([*cmd, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (staging / "log.jsonl").exists():  # the new run is training, in the staging folder
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        assert _contents(out) == before
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert _contents(out) == before
    assert _names(tmp_path) == ["out"]


# ---------------------------------------------------------------------------- finetune
@pytest.fixture()
def peaks_csv(tmp_path) -> Path:
    """16 real peaks from the bundled test files (Oct4 = 1, MafK = 0), cut to 80 nt."""
    from nucleoforge.io.fasta import read_fasta
    from tests.conftest import DATA

    rows = [(r.sequence[:80], 1) for r in read_fasta(DATA / "oct4_peaks_test.fa")][:8]
    rows += [(r.sequence[:80], 0) for r in read_fasta(DATA / "mafk_peaks_test.fa")][:8]
    path = tmp_path / "peaks.csv"
    path.write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows[::2] + rows[1::2]))
    return path


def _finetune(data: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return ["finetune", "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(data), "--eval", str(data),
            "--output", str(out), "--epochs", str(epochs), "--batch-size", "8", "--logging-steps", "1", "--quiet",
            *extra]  # fmt: skip


def test_finetune_refuses_and_overwrite_leaves_no_old_checkpoint_or_log(tmp_path, peaks_csv):
    # items: refuse a foreign folder; --overwrite of an earlier finetune run: no old checkpoint-N, no appended log
    out = tmp_path / "out"
    before = _foreign(out)
    assert _error_line(invoke(_finetune(peaks_csv, out, 1))) == _foreign_line(out)
    assert _contents(out) == before
    assert invoke(_finetune(peaks_csv, out, 3, "--overwrite")).exit_code == 0
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-6"]
    line = _error_line(invoke(_finetune(peaks_csv, out, 1)))
    assert line == (f"error: --output {out}: folder exists and is not empty (it holds checkpoint-4/, checkpoint-6/, "
                    "config.json, log.jsonl and 5 more); pass --overwrite to replace it, or choose another folder")
    result = invoke(_finetune(peaks_csv, out, 1, "--overwrite"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]
    assert _steps(out / "log.jsonl") == [1, 2]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_checkpoint"] == str(out / "checkpoint-2")  # not the staging folder it was saved in
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["best_model_checkpoint"] == str(out / "checkpoint-2")
    assert _names(tmp_path) == ["out", "peaks.csv"]


def test_finetune_failing_before_its_first_checkpoint_keeps_the_old_folder(tmp_path, peaks_csv):
    # item: an --overwrite run that fails before its first checkpoint leaves the old folder intact: --metric
    # auroc on an eval set of one class (no AUROC is defined) fails at the first evaluation, after an epoch
    # trained in the staging folder and before the first save (an unknown --metric is refused up front)
    out = tmp_path / "out"
    before = _foreign(out)
    one_class = tmp_path / "one_class.csv"
    lines = peaks_csv.read_text().splitlines()
    one_class.write_text("\n".join([lines[0], *(line for line in lines[1:] if line.endswith(",1"))]) + "\n")
    args = _finetune(peaks_csv, out, 1, "--overwrite", "--metric", "auroc")
    args[args.index("--eval") + 1] = str(one_class)
    result = invoke(args)
    assert result.exit_code != 0
    assert "eval_auroc" in result.output  # it failed at the evaluation, not on the folder or the option
    assert _contents(out) == before
    assert _names(tmp_path) == ["one_class.csv", "out", "peaks.csv"]


# ---------------------------------------------------------------------------- train-splice
TINY_SPLICE = json.dumps({"stages": [[1, 3, 1]], "channels": 4})


@pytest.fixture(scope="module")
def splice_data(tmp_path_factory) -> Path:
    from tests.splicing.conftest import write_dataset

    return write_dataset(tmp_path_factory.mktemp("splice_data") / "data")


def _train_splice(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train-splice", "--data", str(data), "--output", str(out), "--config", TINY_SPLICE, "--batch-size", "4",
            "--max-steps", "2", "--logging-steps", "1", "-q", *extra]  # fmt: skip


def test_train_splice_refuses_overwrites_and_resumes(tmp_path, splice_data):
    # items: refuse a foreign folder; --overwrite leaves only the new run's files; its own run: --resume offered
    out = tmp_path / "out"
    before = _foreign(out)
    assert _error_line(invoke(_train_splice(splice_data, out))) == _foreign_line(out)
    assert _contents(out) == before
    result = invoke(_train_splice(splice_data, out, "--overwrite"))
    assert result.exit_code == 0, result.output
    assert _names(out) == ["config.json", "member-0", "metrics.json", "model.safetensors", "training.json",
                           "training.manifest.json"]  # fmt: skip
    assert _names(out / "member-0") == ["checkpoint-2", "config.json", "log.jsonl", "member.json", "model.safetensors",
                                        "training_args.bin"]  # fmt: skip
    assert _steps(out / "member-0" / "log.jsonl") == [1, 2]
    assert _names(tmp_path) == ["out"]
    line = _error_line(invoke(_train_splice(splice_data, out)))
    assert line == (f"error: --output {out} already holds a train-splice run (config.json, member-0/, metrics.json, "
                    "model.safetensors and 2 more); pass --resume to continue it, or --overwrite to replace it")
    weights = (out / "model.safetensors").read_bytes()
    result = invoke(_train_splice(splice_data, out, "--resume"))  # the finished member is kept
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").read_bytes() == weights


def test_train_splice_failing_before_its_first_checkpoint_keeps_the_old_folder(tmp_path, splice_data):
    # item: an --overwrite run that fails while training, before its first checkpoint, leaves the old folder
    # intact: --lr 1e30 trains step 1 in the staging folder, and step 2's loss is not finite, which stops it
    out = tmp_path / "out"
    before = _foreign(out)
    result = invoke(_train_splice(splice_data, out, "--overwrite", "--lr", "1e30"))
    assert result.exit_code == 2 and "stopped at step 2 (member 0)" in result.stderr  # in training, not on the folder
    assert _contents(out) == before
    assert _names(tmp_path) == ["out"]


# ---------------------------------------------------------------------------- calibrate-splice --output
def test_calibrate_splice_output_refuses_and_overwrites(tmp_path):
    # items: refuse a foreign --output folder; --overwrite: only the calibrated copy's files
    from tests.splicing.test_calibration import tiny_model, write_splice_data

    data = write_splice_data(tmp_path / "data", rows=2, block=500)
    model = tmp_path / "model"
    tiny_model().save_pretrained(model)
    out = tmp_path / "out"
    before = _foreign(out)
    args = ["calibrate-splice", "-d", data, "-m", model, "-o", out, "--max-rows", "2", "-q"]
    assert _error_line(invoke(args)) == _foreign_line(out)
    assert _contents(out) == before
    result = invoke([*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert _names(out) == ["config.json", "model.safetensors", "reliability.png"]
    assert "calibration_temperatures" in json.loads((out / "config.json").read_text())
    assert _names(tmp_path) == ["data", "model", "out"]
    line = _error_line(invoke([*args[:-1], "--overwrite", "-o", data, "-q"]))  # replacing would delete the data
    assert line == f"error: --output {data} holds the input {data}; writing the folder would delete it: choose another output folder"


# ---------------------------------------------------------------------------- splice-data
def test_splice_data_refuses_and_overwrites(tmp_path, chr22_block):
    # items: refuse a foreign folder; --overwrite: only the dataset's files
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\n" + chr22_block[40_000:41_000] + "\n>chr2\n" + chr22_block[60_000:61_000] + "\n")
    table = tmp_path / "genes.txt"
    table.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                     "A\t1\t+\t100\t900\t100,600,\t400,900,\nB\t2\t-\t100\t900\t100,600,\t400,900,\n")
    out = tmp_path / "out"
    before = _foreign(out)
    args = ["splice-data", "-R", fa, "-A", table, "-o", out, "--context", "80", "--train-chroms", "chr1",
            "--test-chroms", "chr2", "--validation-fraction", "0", "-q"]  # fmt: skip
    assert _error_line(invoke(args)) == _foreign_line(out)
    assert _contents(out) == before
    result = invoke([*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert _names(out) == ["dataset.json", "test.h5", "train.h5"]
    assert [n for n in _names(tmp_path) if n != "g.fa.fai"] == ["g.fa", "genes.txt", "out"]  # (.fai: the reference's index)


# ---------------------------------------------------------------------------- genebert pretrain
def test_genebert_pretrain_refuses_a_foreign_folder_first(tmp_path):
    # item: refuse a foreign folder, before the dataset is read
    out = tmp_path / "out"
    before = _foreign(out)
    result = invoke(["genebert", "pretrain", "--dataset", tmp_path / "no_dataset", "--output", out, "-q"])
    assert _error_line(result) == _foreign_line(out)
    assert _contents(out) == before
    assert _names(tmp_path) == ["out"]


@pytest.mark.slow  # two torchrun workers: ~40 s on 2 shared cores
def test_pretrain_overwrite_under_torchrun(tmp_path, chr22_corpus):
    # item: --overwrite under DDP: both ranks write into the staging folder until the first checkpoint,
    # rank 0 swaps it in between barriers, and both go on in the real folder (their traces are whole)
    from tests.conftest import run_torchrun

    train, _ = chr22_corpus
    out = tmp_path / "ddp"
    _foreign(out)
    args = _pretrain(train, out, 4, "--overwrite", "--trace-batches")
    args[args.index("--save-steps") + 1] = "2"
    run_torchrun(*args, TOKENIZERS_PARALLELISM="false")
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert not (out / "notes.txt").exists() and not (out / "sub").exists()
    for rank in (0, 1):
        steps = [line.split()[0] for line in (out / "trace" / f"rank{rank}.txt").read_text().splitlines()]
        assert steps == ["0", "1", "2", "3"]
    assert _steps(out / "log.jsonl") == [1, 2, 3, 4]
    assert _names(tmp_path) == ["ddp"]
