"""Calibration of SpliceAI (``calibrate-splice``, ``--calibrated``): per-class temperature scaling.

* the fit recovers known temperatures from synthetic logits (labels drawn from softmax(z / T));
* the ECE is exact on a hand-made example and drops after fitting on a miscalibrated set;
* temperatures survive save_pretrained/from_pretrained, invalid ones are refused;
* ``calibrated=True`` changes the output exactly as softmax(log p / T) predicts (model, predict_flanked,
  predict_sequence), the default stays bit-identical, an uncalibrated model is refused in one line;
* the reliability diagram is written; the command end to end on a tiny dataset and a tiny saved model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.models.spliceai.modeling_spliceai import apply_temperatures, ensemble_log_probabilities
from nucleoforge.splicing.calibration import (
    DATA_FORMAT,
    calibrate_model,
    expected_calibration_error,
    fit_model_temperatures,
    fit_temperatures,
    reliability_bins,
)
from tests.cli.runner import assert_user_error, run_main

STAGES = [(1, 5, 2), (1, 3, 3)]  # context 28
DATA_CONTEXT = 40  # > 28: the model reads the centre of X


def _synthetic(n: int, temps, seed: int = 0):
    """Normalised log-probabilities z and labels drawn from softmax(z / temps)."""
    rng = np.random.default_rng(seed)
    z = torch.log_softmax(torch.from_numpy(rng.normal(size=(n, 3)) * 2.5 + np.array([3.0, 0.0, 0.0])), -1).numpy()
    q = torch.softmax(torch.from_numpy(z / np.asarray(temps)), -1).numpy()
    y = (rng.random(n)[:, None] > np.cumsum(q, 1)).sum(1).clip(0, 2)
    return z, y


def write_splice_data(folder: Path, *, rows: int = 5, block: int = 5000, context: int = DATA_CONTEXT, seed: int = 0) -> Path:
    """A tiny ``nucleoforge splice-data`` folder in the fixed format (until the builder lands)."""
    import h5py

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.json").write_text(json.dumps({"format": DATA_FORMAT, "context": context, "block": block}))
    for k, split in enumerate(("train", "validation", "test")):
        x = rng.integers(1, 5, size=(rows, block + context), dtype=np.uint8)
        x[:, : context // 2] = 0  # N flanks at the transcript start
        y = np.zeros((rows, block), np.int8)
        for r in range(rows):
            pos = rng.choice(block, size=60, replace=False)
            y[r, pos[:30]], y[r, pos[30:]] = 1, 2
        w = np.ones((rows, block), np.uint8)
        y[-1, block - 700 :], w[-1, block - 700 :] = -1, 0  # padding at the end of the last block
        w[0, :100] = 0  # positions that do not count
        with h5py.File(folder / f"{split}.h5", "w") as fh:
            fh["X"], fh["Y"], fh["W"] = x, y, w
    return folder


def tiny_model(seed: int = 0, members: int = 2) -> SpliceAIModel:
    torch.manual_seed(seed)
    model = SpliceAIModel(SpliceAIConfig(stages=STAGES, channels=8, num_members=members)).eval()
    for p in model.parameters():
        p.data.mul_(1.5)
    return model


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_splice_data(tmp_path_factory.mktemp("splice_data") / "data")


@pytest.fixture()
def model_dir(tmp_path) -> Path:
    path = tmp_path / "model"
    tiny_model().save_pretrained(path)
    return path


# ---------------------------------------------------------------------------- the fit and the ECE
def test_fit_recovers_the_temperatures_of_synthetic_logits():
    true = [0.8, 1.6, 2.5]
    z, y = _synthetic(100_000, true)
    np.testing.assert_allclose(fit_temperatures(z, y), true, rtol=0.05)  # stated tolerance: 5 %
    # the same with 10 % of the negatives, re-weighted as calibrate-splice does
    rng = np.random.default_rng(1)
    neg = np.flatnonzero(y == 0)
    sample = rng.choice(neg, size=len(neg) // 10, replace=False)
    keep = np.concatenate([np.flatnonzero(y > 0), sample])
    w = np.where(y[keep] == 0, len(neg) / len(sample), 1.0)
    np.testing.assert_allclose(fit_temperatures(z[keep], y[keep], w), true, rtol=0.05)


def test_fit_is_deterministic_and_weights_equal_duplicates():
    z, y = _synthetic(5_000, [1.3, 0.7, 1.1], seed=3)
    a, b = fit_temperatures(z, y), fit_temperatures(z, y)
    assert np.array_equal(a, b)
    w = np.where(np.arange(len(y)) % 2 == 0, 2.0, 1.0)
    dup = np.concatenate([np.arange(len(y)), np.arange(0, len(y), 2)])
    np.testing.assert_allclose(fit_temperatures(z, y, w), fit_temperatures(z[dup], y[dup]), rtol=1e-6)


def test_fit_refuses_a_missing_class():
    z, y = _synthetic(1_000, [1, 1, 1])
    with pytest.raises(ValueError, match="no position of class donor"):
        fit_temperatures(z[y != 2], y[y != 2])


def test_ece_on_a_hand_made_example():
    p = np.array([0.05, 0.05, 0.95, 0.5, 0.55])
    y = np.array([0, 1, 1, 0, 1])
    # bins: 0 {0.05, 0.05} acc 0.5 -> 0.45 x 2/5; 14 {0.95} -> 0.05; 7 {0.5} -> 0.5; 8 {0.55} -> 0.45 (x 1/5 each)
    assert expected_calibration_error(p, y) == pytest.approx(0.4 * 0.45 + 0.2 * (0.05 + 0.5 + 0.45), abs=1e-12)
    assert expected_calibration_error(p, y) == 0.38
    # weights: the second 0.05 and the 0.95 count twice (W = 7): bin 0 |(0 + 2) - (0.05 + 0.1)| = 1.85,
    # bin 14 |2 - 1.9| = 0.1, then 0.5 and 0.45 -> 2.9 / 7
    assert expected_calibration_error(p, y, np.array([1, 2, 2, 1, 1])) == pytest.approx(2.9 / 7, abs=1e-12)
    # 1.0 falls in the last bin, 0.0 in the first; a perfectly calibrated set has ECE 0
    bins = reliability_bins(np.array([0.0, 1.0, 1.0]), np.array([0, 1, 1]))
    assert bins["count"][0] == 1 and bins["count"][-1] == 2 and bins["ece"] == 0.0
    assert len(bins["edges"]) == 16


def test_ece_decreases_after_fitting_a_miscalibrated_set():
    z, y = _synthetic(50_000, [0.6, 2.0, 3.0], seed=5)
    temps = fit_temperatures(z, y)
    before = torch.softmax(torch.from_numpy(z), -1).numpy()
    after = apply_temperatures(torch.from_numpy(z), temps).numpy()
    for c in (1, 2):
        e0, e1 = expected_calibration_error(before[:, c], y == c), expected_calibration_error(after[:, c], y == c)
        assert e1 < e0 / 5 and e1 < 0.01, (c, e0, e1)


# ---------------------------------------------------------------------------- config and model
def test_temperatures_round_trip_and_validation(tmp_path):
    model = tiny_model()
    assert model.config.calibration_temperatures is None and model.config.calibration is None
    model.config.calibration_temperatures = [1.5, 0.5, 2.0]
    model.config.calibration = {"ece_after": {"acceptor": 0.01}}
    model.save_pretrained(tmp_path)
    loaded = SpliceAIModel.from_pretrained(tmp_path)
    assert loaded.config.calibration_temperatures == [1.5, 0.5, 2.0]
    assert loaded.config.calibration == {"ece_after": {"acceptor": 0.01}}
    x = torch.rand(2, 60, 4)
    assert torch.equal(loaded(x, calibrated=True).probabilities, model(x, calibrated=True).probabilities)
    for bad in ([1.0, 2.0], [1.0, -1.0, 1.0], [1.0, float("nan"), 1.0], ["1", 1, 1], 3.0):
        with pytest.raises(ValueError, match="calibration_temperatures must be 3 positive finite numbers"):
            SpliceAIConfig(stages=STAGES, calibration_temperatures=bad)
    with pytest.raises(ValueError, match="calibration must be a dict"):
        SpliceAIConfig(stages=STAGES, calibration=[1])


@pytest.mark.parametrize("members", [1, 2])
def test_calibrated_output_is_softmax_of_log_p_over_t_and_default_is_unchanged(members):
    plain = tiny_model(members=members)
    calibrated = tiny_model(members=members)
    temps = [1.7, 0.6, 2.5]
    calibrated.config.calibration_temperatures = temps
    x = torch.from_numpy(np.eye(5, dtype=np.float32)[np.random.default_rng(0).integers(0, 5, (3, 228))][..., 1:])
    with torch.no_grad():
        _check_calibrated_outputs(plain, calibrated, temps, x)


def _check_calibrated_outputs(plain, calibrated, temps, x):
    from nucleoforge.pipelines.splice_predict import predict_flanked, predict_sequence

    out = plain(x, output_members=True)
    # the default is bit-identical, with or without temperatures in the config
    assert torch.equal(calibrated(x).probabilities, out.probabilities)
    assert np.array_equal(predict_flanked(calibrated, x), predict_flanked(plain, x))
    got = calibrated(x, calibrated=True).probabilities
    z = torch.log(out.probabilities.double())
    expected = torch.softmax(z / torch.tensor(temps, dtype=torch.float64), -1)
    torch.testing.assert_close(got.double(), expected, atol=2e-6, rtol=0)
    torch.testing.assert_close(ensemble_log_probabilities(out.member_logits).double(), z, atol=2e-6, rtol=1e-6)
    assert not torch.allclose(got, out.probabilities, atol=1e-3)  # it does change the output
    np.testing.assert_array_equal(predict_flanked(calibrated, x, calibrated=True), got.numpy())
    seq = "".join(np.random.default_rng(1).choice(list("ACGT"), 300))
    p_plain = predict_sequence(plain, seq, chunk_size=100)
    p_cal = predict_sequence(calibrated, seq, chunk_size=100, calibrated=True)
    assert np.array_equal(predict_sequence(calibrated, seq, chunk_size=100), p_plain)
    np.testing.assert_allclose(p_cal, torch.softmax(torch.log(torch.from_numpy(p_plain).double()) / torch.tensor(temps, dtype=torch.float64), -1).numpy(),
                               atol=2e-6, rtol=0)


def test_calibrated_needs_temperatures(capsys, model_dir):
    model = tiny_model()
    with pytest.raises(ValueError, match="not calibrated: its config has no calibration_temperatures"):
        model(torch.rand(1, 40, 4), calibrated=True)
    result = run_main(capsys, "splice", "ACGT" * 20, "--model", model_dir, "--calibrated", "--device", "cpu", "-q")
    assert_user_error(result, "--calibrated", str(model_dir), "no calibration temperatures", "calibrate-splice")


# ---------------------------------------------------------------------------- the job on a tiny dataset
def test_fit_on_the_dataset_reads_the_model_window(data_dir):
    """ECE before from the library equals the ECE of predict_flanked on X cropped by hand."""
    import h5py

    from nucleoforge.pipelines.splice_predict import predict_flanked

    model = tiny_model()
    result = fit_model_temperatures(model, data_dir, max_negatives=10**9)
    with h5py.File(data_dir / "validation.h5") as fh:
        x, y, w = fh["X"][:], fh["Y"][:], fh["W"][:]
    off = (DATA_CONTEXT - model.config.context) // 2
    onehot = np.eye(5, dtype=np.float32)[x[:, off : off + 5000 + model.config.context]][..., 1:]
    probs = predict_flanked(model, onehot)
    keep = w == 1
    for c, name in ((1, "acceptor"), (2, "donor")):
        assert result.ece_before[name] == pytest.approx(expected_calibration_error(probs[keep][:, c], y[keep] == c), abs=1e-6)
        assert result.ece_after[name] < result.ece_before[name]
    assert result.positions["fitted"] == int(keep.sum()) == result.positions["positives"] + result.positions["negatives"]
    assert result.nll_after < result.nll_before
    # subsampled negatives: deterministic for a seed, re-weighted to the full count
    a = fit_model_temperatures(model, data_dir, max_negatives=2_000, seed=7)
    b = fit_model_temperatures(model, data_dir, max_negatives=2_000, seed=7)
    assert a.temperatures == b.temperatures and a.positions["negatives_sampled"] == 2_000
    assert a.positions["negative_weight"] == pytest.approx(a.positions["negatives"] / 2_000)


def test_reliability_diagram_draws_the_bins_of_the_models_outputs(tmp_path, data_dir):
    """The bins are those of the model's own probabilities at the counted validation positions
    (computed here from the file and the model), and the diagram draws exactly them: per class
    the curves of the non-empty bins before and after, the weighted positions per bin, the ECEs."""
    import h5py
    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    from nucleoforge.splicing.calibration import reliability_bins
    from nucleoforge.splicing.plots import plot_reliability, reliability_figure

    model = tiny_model()
    result = fit_model_temperatures(model, data_dir)
    with h5py.File(data_dir / "validation.h5") as fh:
        x, y, w = fh["X"][:], fh["Y"][:], fh["W"][:]
    lo = (DATA_CONTEXT - model.config.context) // 2
    with torch.no_grad():
        p = model(torch.nn.functional.one_hot(torch.from_numpy(x[:, lo : x.shape[1] - lo]).long(), 5)[..., 1:].float())
    p = p.probabilities.numpy()
    keep = (w == 1) & (y >= 0)  # < 200,000 negatives: every counted position, each of weight 1
    assert result.positions["fitted"] == keep.sum() and result.positions["negative_weight"] == 1.0
    for c, kind in ((1, "acceptor"), (2, "donor")):
        expected = reliability_bins(p[..., c][keep], y[keep] == c)
        got = result.bins["before"][kind]
        assert got["count"].tolist() == expected["count"].tolist()
        for key in ("weight", "confidence", "accuracy"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)

    fig = reliability_figure(result.bins["before"], result.bins["after"], title="tiny")
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:2]] == ["acceptor", "donor"]
    for col, kind in enumerate(("acceptor", "donor")):
        top, bottom = axes[col], axes[2 + col]
        diagonal, *curves = top.get_lines()
        assert diagonal.get_xydata().tolist() == [[0, 0], [1, 1]]
        heights = [bar.get_height() for bar in bottom.patches]
        for k, (when, curve) in enumerate(zip(("before", "after"), curves)):
            bins = result.bins[when][kind]
            filled = bins["weight"] > 0
            assert filled.sum() >= 2
            np.testing.assert_array_equal(curve.get_xdata(), bins["confidence"][filled])
            np.testing.assert_array_equal(curve.get_ydata(), bins["accuracy"][filled])
            np.testing.assert_array_equal(heights[15 * k : 15 * (k + 1)], np.where(filled, bins["weight"], np.nan))
        labels = [t.get_text() for t in top.get_legend().get_texts()]
        assert labels[1:] == [f"uncalibrated (ECE {result.bins['before'][kind]['ece']:.2e})",
                              f"calibrated (ECE {result.bins['after'][kind]['ece']:.2e})"]
    plt.close(fig)
    path = tmp_path / "reliability.png"
    plot_reliability(result.bins["before"], result.bins["after"], path, title="tiny")
    assert imread(path).shape == (round(6.6 * 110), round(2 * 5.2 * 110), 4)  # the figure at 110 dpi


def test_cli_calibrate_in_place_then_predict_calibrated(capsys, tmp_path, data_dir, model_dir):
    before = (model_dir / "config.json").read_text()
    weights = (model_dir / "model.safetensors").read_bytes()
    result = run_main(capsys, "calibrate-splice", "--data", data_dir, "--model", model_dir, "--max-negatives", 5000, "-q")
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert lines[0].split() == ["class", "temperature", "positions", "ECE", "before", "ECE", "after"]
    assert len(summary["temperatures"]) == 3 and all(t > 0 for t in summary["temperatures"])
    for name in ("acceptor", "donor"):
        assert summary["ece_after"][name] < summary["ece_before"][name]
    config = json.loads((model_dir / "config.json").read_text())
    assert config["calibration_temperatures"] == summary["temperatures"]
    meta = config["calibration"]
    assert meta["data"]["format"] == DATA_FORMAT and meta["data"]["split"] == "validation"
    assert meta["data"]["file"]["sha256"] and meta["ece_before"] == summary["ece_before"]
    assert meta["positions"]["negatives_sampled"] == 5000 and meta["settings"]["seed"] == 0
    assert {k: v for k, v in config.items() if not k.startswith("calibration")} == \
        {k: v for k, v in json.loads(before).items() if not k.startswith("calibration")}
    assert (model_dir / "model.safetensors").read_bytes() == weights
    assert (model_dir / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in model_dir.iterdir()) == ["config.json", "model.safetensors", "reliability.png"]

    seq = "".join(np.random.default_rng(2).choice(list("ACGT"), 200))
    plain = run_main(capsys, "splice", seq, "--model", model_dir, "--device", "cpu", "-q")
    cal = run_main(capsys, "splice", seq, "--model", model_dir, "--device", "cpu", "-q", "--calibrated")
    assert plain.code == cal.code == 0, plain.err + cal.err
    rows = [np.array([[float(v) for v in ln.split("\t")[2:4]] for ln in r.out.splitlines()[1:]]) for r in (plain, cal)]
    model = SpliceAIModel.from_pretrained(model_dir)
    from nucleoforge.pipelines.splice_predict import predict_sequence

    p = predict_sequence(model, seq)
    np.testing.assert_allclose(rows[0], p[:, 1:], atol=5.1e-5)  # the TSV has 4 decimals
    t = torch.tensor(summary["temperatures"], dtype=torch.float64)
    expected = torch.softmax(torch.log(torch.from_numpy(p).double()) / t, -1).numpy()[:, 1:]
    np.testing.assert_allclose(rows[1], expected, atol=5.1e-5)
    assert not np.allclose(rows[0], rows[1], atol=1e-4)


def test_cli_calibrate_into_a_new_folder(capsys, tmp_path, data_dir, model_dir):
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    out = tmp_path / "calibrated"
    result = run_main(capsys, "calibrate-splice", "-d", data_dir, "-m", model_dir, "-o", out, "--max-rows", 3,
                      "--plot", out / "diagram.png", "-q")
    assert result.code == 0, result.err
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before  # the source is untouched
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "diagram.png", "model.safetensors"]
    assert (out / "model.safetensors").read_bytes() == before["model.safetensors"]
    loaded = SpliceAIModel.from_pretrained(out)
    assert loaded.config.calibration_temperatures == json.loads(result.out.splitlines()[-1])["temperatures"]
    assert loaded.config.calibration["positions"]["rows"] == 3
    assert not any(p.name.startswith("calibrated.tmp") for p in tmp_path.iterdir())
    # a non-empty --output is refused before anything runs; so is a bad --plot name
    again = run_main(capsys, "calibrate-splice", "-d", data_dir, "-m", model_dir, "-o", out, "-q")
    assert_user_error(again, "--output", str(out), "folder exists and is not empty")
    bad = run_main(capsys, "calibrate-splice", "-d", data_dir, "-m", model_dir, "--plot", tmp_path / "r.txt", "-q")
    assert_user_error(bad, "--plot", ".png")


def test_cli_errors_leave_the_config_untouched(capsys, tmp_path, data_dir, model_dir, monkeypatch):
    config = (model_dir / "config.json").read_bytes()
    # data of another format, a context shorter than the model's, a model name without --output
    other = tmp_path / "other"
    shutil.copytree(data_dir, other)
    (other / "dataset.json").write_text(json.dumps({"format": "something/2", "context": 40, "block": 5000}))
    assert_user_error(run_main(capsys, "calibrate-splice", "--data", other, "--model", model_dir, "-q"),
                      "dataset.json", "something/2", DATA_FORMAT)
    short = write_splice_data(tmp_path / "short", rows=1, context=10)
    assert_user_error(run_main(capsys, "calibrate-splice", "--data", short, "--model", model_dir, "-q"),
                      "10 nt of context", "needs 28")
    assert_user_error(run_main(capsys, "calibrate-splice", "--data", data_dir, "--model", "spliceai-10k", "-q"),
                      "--model spliceai-10k", "--output")
    # a failure while drawing (after the fit) leaves config.json as it was and no temporary file
    import nucleoforge.splicing.plots as plots

    def broken(*args, **kwargs):
        from nucleoforge.errors import NucleoforgeError

        raise NucleoforgeError("plot failed")

    monkeypatch.setattr(plots, "plot_reliability", broken)
    assert_user_error(run_main(capsys, "calibrate-splice", "--data", data_dir, "--model", model_dir, "-q"), "plot failed")
    assert (model_dir / "config.json").read_bytes() == config
    assert sorted(p.name for p in model_dir.iterdir()) == ["config.json", "model.safetensors"]


def test_calibrated_variants_and_evaluate(capsys, tmp_path, data_dir, model_dir, tiny_genome):
    """--calibrated reaches variants (and its manifest) and evaluate-splice."""
    from tests.splicing.conftest import VCF_HEADER, synthetic_vcf_lines

    calibrate_model(model_dir, data_dir, max_negatives=2000)
    fa, table, seq = tiny_genome
    vcf = tmp_path / "in.vcf"
    vcf.write_text(VCF_HEADER + "".join(synthetic_vcf_lines(seq)))
    outs = {}
    for flag in ([], ["--calibrated"]):
        out = tmp_path / f"out{len(flag)}.vcf"
        r = run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", fa, "-A", table, "-D", 4, "--model", model_dir,
                     "--device", "cpu", "-q", *flag)
        assert r.code == 0, r.err
        outs[bool(flag)] = (out.read_text(), json.loads(Path(str(out) + ".manifest.json").read_text())["parameters"])
    assert outs[False][0] != outs[True][0]
    assert "calibration_temperatures" not in outs[False][1]
    assert outs[True][1]["calibration_temperatures"] == SpliceAIModel.from_pretrained(model_dir).config.calibration_temperatures
    evals = [run_main(capsys, "evaluate-splice", "-R", fa, "-A", table, "-g", "PLUS", "--model", model_dir, "-q", *flag)
             for flag in ([], ["--calibrated"])]
    assert all(e.code == 0 for e in evals), [e.err for e in evals]
    assert json.loads(evals[0].out.splitlines()[-1])["genes"] == 1
