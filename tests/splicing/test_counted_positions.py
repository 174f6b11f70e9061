"""One rule for the counted positions (W = 1 and Y >= 0): training's class counts and labels,
``evaluate-splice --data`` and ``calibrate-splice`` count the same positions of a real split, also
where W and Y disagree (W = 1 on padding, W = 0 on sites); values out of range are refused when
the split is opened."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from nucleoforge.io.splice_h5 import read_splice_dataset
from tests.splicing.test_h5_faults import dataset, model  # noqa: F401  (the real splice-data fixture, a tiny model)


@pytest.fixture(scope="module")
def mixed(dataset, tmp_path_factory):  # noqa: F811
    """The real dataset with its validation split's W changed where it matters: W = 1 on the
    padding (Y = -1) of its last row, W = 0 on its first three acceptors and first two donors."""
    folder = tmp_path_factory.mktemp("counted") / "data"
    shutil.copytree(dataset, folder)
    with h5py.File(folder / "validation.h5", "r+") as h5:
        y, w = h5["Y"][:], h5["W"][:]
        assert (y[-1] == -1).any()
        w[-1][y[-1] == -1] = 1
        for label, n in ((1, 3), (2, 2)):
            rows, cols = np.nonzero((y == label) & (w == 1))
            w[rows[:n], cols[:n]] = 0
        h5["W"][...] = w
    return folder


def _expected(folder) -> list[int]:
    with h5py.File(folder / "validation.h5") as h5:
        y, w = h5["Y"][:], h5["W"][:]
    return [int(((w == 1) & (y == c)).sum()) for c in range(3)]


@pytest.mark.parametrize("which", ["real", "mixed"])
def test_training_evaluation_and_calibration_count_the_same_positions(which, dataset, mixed, model):  # noqa: F811
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.splicing.calibration import fit_model_temperatures
    from nucleoforge.splicing.split_evaluation import evaluate_split
    from nucleoforge.splicing.training import SpliceBlockDataset, class_counts

    folder = dataset if which == "real" else mixed
    expected = _expected(folder)  # [neither, acceptors, donors] with W = 1 and a label
    if which == "real":
        s = read_splice_dataset(folder).summary["validation"]
        assert expected == [s["positions"] - s["acceptors"] - s["donors"], s["acceptors"], s["donors"]]
    ds = read_splice_dataset(folder)
    # training: the class counts and the labels of the examples (-100 where not counted)
    assert class_counts(ds, "validation").tolist() == expected
    items = SpliceBlockDataset(ds, "validation", 4)
    labels = np.stack([e["labels"] for e in items.__getitems__(list(range(len(items))))])
    assert np.bincount(labels[labels != -100], minlength=3).tolist() == expected
    # evaluate-splice --data
    spliceai = SpliceAIModel.from_pretrained(model).eval()
    metrics = evaluate_split(spliceai, folder, "validation").metrics
    assert [metrics["positions"] - metrics["acceptors"] - metrics["donors"], metrics["acceptors"], metrics["donors"]] == expected
    # calibrate-splice (fewer negatives than its sample size: every counted position is fitted)
    positions = fit_model_temperatures(spliceai, folder).positions
    assert [positions["negatives"], positions["acceptors"], positions["donors"]] == expected
    assert positions["fitted"] == sum(expected)


def test_values_out_of_range_are_refused_when_a_split_is_opened(dataset, tmp_path):  # noqa: F811
    bad = tmp_path / "bad"
    shutil.copytree(dataset, bad)
    with h5py.File(bad / "test.h5", "r+") as h5:
        h5["W"][2, 5] = 3
    with pytest.raises(ValueError) as err:
        read_splice_dataset(bad).check_split("test")
    assert str(err.value) == f"{bad / 'test.h5'}: W row 2 column 5 holds 3; expected 0 (not counted) or 1 (counted)"
