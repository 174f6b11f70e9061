"""Damaged and out-of-range splice-data files under ``train-splice``, ``evaluate-splice --data`` and
``calibrate-splice`` (issue 21, items A and B), and an empty ``splice --fasta`` (item C).

The datasets are real: ``splice-data`` output (gzip chunks of one row) built from the bundled chr22
block, then damaged the way a bad copy damages a file: 4,000 bytes of a split's X (or Y) chunks
zeroed, or the file cut in half. Each fault is one ``error:`` line naming the file (exit status 2),
and no output folder or file is left behind.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from tests.cli.runner import invoke

#: a one-stage SpliceAI (context 4): a few CPU steps take milliseconds
TINY = json.dumps({"stages": [[1, 3, 1]], "channels": 4})
DAMAGED = "; the file is damaged: rebuild the dataset with nucleoforge splice-data"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, chr22_block) -> Path:
    """``splice-data`` of 12 kb of real chr22 (10 two-intron genes, both strands) as chr1 for
    train/validation and 2 kb as chr2 for test: 40 / 10 / 9 blocks of 200 positions, context 80."""
    from nucleoforge.splicing.dataset import build_splice_dataset

    root = tmp_path_factory.mktemp("h5_faults")
    chr1, chr2 = chr22_block[40_000:52_000], chr22_block[60_000:62_000]
    assert "N" not in chr1 + chr2
    (root / "g.fa").write_text(f">chr1\n{chr1}\n>chr2\n{chr2}\n")
    rows = ["#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"]
    for i in range(10):
        s = 200 + i * 1100
        rows.append(f"G{i}\t1\t{'+-'[i % 2]}\t{s}\t{s + 900}\t{s},{s + 300},{s + 700},\t{s + 100},{s + 450},{s + 900},\n")
    rows.append("T0\t2\t+\t100\t1900\t100,800,1500,\t300,1000,1900,\n")
    (root / "genes.txt").write_text("".join(rows))
    meta = build_splice_dataset(root / "g.fa", root / "genes.txt", root / "data", context=80, block=200,
                                train_chroms=["chr1"], test_chroms=["chr2"], validation_fraction=0.2, seed=0)
    assert [meta["summary"][s]["blocks"] for s in ("train", "validation", "test")] == [40, 10, 9]
    return root / "data"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_spliceai")
    SpliceAIModel(SpliceAIConfig(stages=[(1, 3, 1)], channels=4, num_members=1)).save_pretrained(path)
    return path


def _copy(dataset: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "bad"
    shutil.copytree(dataset, bad)
    return bad


def _zero_chunks(path: Path, name: str, n: int = 4000) -> None:
    """Zero ``n`` bytes in the middle of dataset ``name``'s chunks (all of them when they are
    shorter): the gzip streams of those rows no longer decode."""
    with h5py.File(path) as h5:
        ds = h5[name]
        chunks = [ds.id.get_chunk_info(i) for i in range(ds.id.get_num_chunks())]
    lo, hi = min(c.byte_offset for c in chunks), max(c.byte_offset + c.size for c in chunks)
    start = max(lo, (lo + hi) // 2 - n // 2)
    data = bytearray(path.read_bytes())
    end = min(start + n, hi)
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))


def _error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _read_error(line: str, path: Path, rows: str, name: str) -> None:
    """``line`` is the one read error of ``path``: the rows (a regex), the dataset, HDF5's reason."""
    found = re.fullmatch(rf"error: {re.escape(str(path))}: cannot read (?:{rows}) of {name} \((?P<reason>.+)\)"
                         + re.escape(DAMAGED), line)  # fmt: skip
    assert found, line
    assert "filter returned failure" in found.group("reason"), line


def _train(data: Path, out: Path, *extra: str) -> list[object]:
    return ["train-splice", "--data", data, "--output", out, "--config", TINY, "--batch-size", "4", "--max-steps", "3",
            "--logging-steps", "1", "-q", *extra]  # fmt: skip


# ---------------------------------------------------------------------------- A: damaged files
def test_train_splice_damaged_train_rows_one_line_and_no_folder_left(dataset, tmp_path):
    # item A: X chunks of train.h5 zeroed: read while training (not when opened), one line naming the
    # file and X, exit 2 (main: "unexpected failure: OSError", exit 1); the new --output is removed,
    # so a plain rerun on good data starts (main: refused, the folder held a half-made run)
    bad = _copy(dataset, tmp_path)
    _zero_chunks(bad / "train.h5", "X")
    out = tmp_path / "out"
    _read_error(_error_line(invoke(_train(bad, out))), bad / "train.h5", r"row \d+", "X")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]
    result = invoke(_train(dataset, out))
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file()


def test_train_splice_damaged_rows_with_dataloader_workers(dataset, tmp_path):
    # item A: the same read error in a dataloader worker: still the one line, not the worker's traceback
    bad = _copy(dataset, tmp_path)
    _zero_chunks(bad / "train.h5", "X")
    out = tmp_path / "out"
    _read_error(_error_line(invoke(_train(bad, out, "--num-workers", "1"))), bad / "train.h5", r"row \d+", "X")
    assert not out.exists()


def test_train_splice_damaged_labels_found_when_opened(dataset, tmp_path):
    # item A: Y chunks of train.h5 zeroed: found when the split is opened (its labels are counted)
    bad = _copy(dataset, tmp_path)
    _zero_chunks(bad / "train.h5", "Y")
    out = tmp_path / "out"
    _read_error(_error_line(invoke(_train(bad, out))), bad / "train.h5", "rows 0-39", "Y")
    assert not out.exists()


def test_train_splice_empty_output_folder_stays_empty(dataset, tmp_path):
    # item A: an existing empty --output (made by the user) is kept, and holds nothing after the failure
    bad = _copy(dataset, tmp_path)
    _zero_chunks(bad / "train.h5", "X")
    out = tmp_path / "out"
    out.mkdir()
    _read_error(_error_line(invoke(_train(bad, out))), bad / "train.h5", r"row \d+", "X")
    assert out.is_dir() and not any(out.iterdir())


def test_evaluate_splice_truncated_test_split(dataset, model, tmp_path):
    # item A: test.h5 cut in half: one line naming it (main: "unexpected failure: OSError", exit 1)
    bad = _copy(dataset, tmp_path)
    path = bad / "test.h5"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    line = _error_line(invoke(["evaluate-splice", "--data", bad, "--model", model, "-q"]))
    found = re.fullmatch(rf"error: {re.escape(str(path))}: not a readable HDF5 file \((.+)\){re.escape(DAMAGED)}", line)
    assert found and "truncated file" in found.group(1), line


def test_evaluate_splice_damaged_rows_read_while_scoring(dataset, model, tmp_path):
    # item A: X of test.h5 zeroed: the first batch read fails, one line naming the file and the rows
    bad = _copy(dataset, tmp_path)
    _zero_chunks(bad / "test.h5", "X")
    result = invoke(["evaluate-splice", "--data", bad, "--model", model, "--batch-size", "4", "-q"])
    _read_error(_error_line(result), bad / "test.h5", "rows 0-3", "X")
    assert result.stdout == ""


def test_calibrate_splice_damaged_validation_rows(dataset, model, tmp_path):
    # item A: X of validation.h5 zeroed: calibrate-splice stops with one line; no --output folder,
    # and an in-place run leaves the model's config.json as it was
    bad = _copy(dataset, tmp_path)
    _zero_chunks(bad / "validation.h5", "X")
    out = tmp_path / "out"
    _read_error(_error_line(invoke(["calibrate-splice", "-d", bad, "-m", model, "-o", out, "-q"])),
                bad / "validation.h5", "row 0", "X")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]
    config = (model / "config.json").read_bytes()
    _read_error(_error_line(invoke(["calibrate-splice", "-d", bad, "-m", model, "-q"])),
                bad / "validation.h5", "row 0", "X")
    assert (model / "config.json").read_bytes() == config
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "model.safetensors"]


# ---------------------------------------------------------------------------- B: labels out of range
def _set(path: Path, name: str, row: int, col: int, value: int) -> None:
    with h5py.File(path, "r+") as h5:
        h5[name][row, col] = value


def test_train_splice_label_out_of_range_in_validation(dataset, tmp_path):
    # item B: Y = 7 in validation.h5 is found when the split is opened (main: IndexError mid-run, exit 1)
    bad = _copy(dataset, tmp_path)
    _set(bad / "validation.h5", "Y", 3, 10, 7)
    out = tmp_path / "out"
    assert _error_line(invoke(_train(bad, out))) == (
        f"error: {bad / 'validation.h5'}: Y row 3 column 10 holds 7; "
        "expected -1 (padding), 0 (neither), 1 (acceptor) or 2 (donor)")
    assert not out.exists()


def test_weight_out_of_range_in_train_and_label_in_test(dataset, model, tmp_path):
    # item B: W = 2 in train.h5 (main: trains on, weighting nothing wrong), Y = -5 in test.h5 under
    # evaluate-splice (main: scored as if the position were padding)
    bad = _copy(dataset, tmp_path)
    _set(bad / "train.h5", "W", 12, 0, 2)
    _set(bad / "test.h5", "Y", 0, 199, -5)
    out = tmp_path / "out"
    assert _error_line(invoke(_train(bad, out))) == (
        f"error: {bad / 'train.h5'}: W row 12 column 0 holds 2; expected 0 (not counted) or 1 (counted)")
    assert not out.exists()
    assert _error_line(invoke(["evaluate-splice", "--data", bad, "--model", model, "-q"])) == (
        f"error: {bad / 'test.h5'}: Y row 0 column 199 holds -5; "
        "expected -1 (padding), 0 (neither), 1 (acceptor) or 2 (donor)")


def test_label_counts_of_the_real_dataset(dataset):
    # item B: the one label pass gives the counts of splice-data's summary (counted positions per class)
    from nucleoforge.io.splice_h5 import read_splice_dataset

    ds = read_splice_dataset(dataset)
    for split in ("train", "validation", "test"):
        s = ds.summary[split]
        counts = ds.label_counts(split)
        assert counts.tolist() == [s["positions"] - s["acceptors"] - s["donors"], s["acceptors"], s["donors"]]
        with ds.open(split) as h5:
            y, w = h5["Y"][:], h5["W"][:]
        assert counts.tolist() == np.bincount(y[(w == 1) & (y >= 0)], minlength=3).tolist()


# ---------------------------------------------------------------------------- C: splice --fasta
@pytest.mark.parametrize("text", ["", "\n\n", "; a comment only\n"])
def test_splice_empty_fasta(model, tmp_path, text):
    # item C: a FASTA without a record is one line naming it, exit 2, no output file
    # (main: exit 0 and an empty output without its header line)
    fasta = tmp_path / "empty.fa"
    fasta.write_text(text)
    out = tmp_path / "out.tsv"
    result = invoke(["splice", "--fasta", fasta, "--model", model, "-o", out, "-q"])
    assert _error_line(result) == (f"error: --fasta {fasta}: the file holds no FASTA record; expected '>name' header "
                                   "lines, each followed by its sequence")
    assert not out.exists()
    result = invoke(["splice", "--fasta", fasta, "--model", model, "-q"])  # to stdout: nothing written either
    assert result.exit_code == 2 and result.stdout == ""
