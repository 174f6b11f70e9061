"""Incremental SpliceAI predictions for substitutions against full forward passes of the ALT window."""

from __future__ import annotations

import pytest
import torch

from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.models.spliceai.incremental import activation_bytes, reference_pass, substitution_probabilities
from tests.conftest import spliceai_pretrained


def _model(stages, members=2, seed=0, temperatures=None):
    torch.manual_seed(seed)
    model = SpliceAIModel(SpliceAIConfig(stages=stages, channels=6, num_members=members,
                                         calibration_temperatures=temperatures)).eval()
    for p in model.parameters():  # smaller weights: the residual sums stay out of softmax saturation
        p.data.mul_(0.6)
    for m in model.modules():  # non-trivial BatchNorm statistics, folded by the fused path
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
    return model


def _windows(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (batch, length), generator=g), 4).float()
    x[:, :7] = 0  # some N, as outside a transcript
    return x


def _full(model, x, window, center, alt, distance, calibrated=False):
    """The ALT window itself through the model: outputs centre ± distance."""
    flank = model.config.flank
    xa = x[window : window + 1].clone()
    xa[0, center] = alt
    xa = xa[:, center - flank - distance : center + flank + distance + 1]
    return model(xa, calibrated=calibrated).probabilities[0]


STAGES = [(2, 3, 1), (2, 5, 2), (1, 7, 3), (2, 3, 5)]  # every unit in the cone a different width


@pytest.mark.parametrize("distance", [0, 3, 40])
def test_cones_equal_full_alt_passes(distance):
    model = _model(STAGES)
    flank = model.config.flank
    x = _windows(3, 2 * flank + 2 * distance + 90)
    ref = reference_pass(model, x)
    assert torch.equal(ref.probabilities, model(x).probabilities)  # the reference pass is the forward
    lo, hi = flank + distance, x.shape[1] - flank - distance - 1
    centers = torch.tensor([lo, hi, lo + 17, (lo + hi) // 2, lo + 1, hi - 2])  # first/last allowed and between
    windows = torch.tensor([0, 1, 2, 2, 1, 0])
    shift = torch.tensor([1, 2, 3, 1, 2, 3])  # another base than the reference's
    alts = torch.eye(4)[(x[windows, centers].argmax(-1) + shift) % 4]
    alts[3] = 0  # an N
    with torch.inference_mode():
        cone = substitution_probabilities(model, ref, windows, centers, alts, distance=distance)
    assert cone.shape == (6, 2 * distance + 1, 3)
    for i in range(6):
        full = _full(model, x, int(windows[i]), int(centers[i]), alts[i], distance)
        torch.testing.assert_close(cone[i], full, atol=1e-6, rtol=0)  # float32 sums over other widths
    # the substitution matters (a cone equal to the reference would be a vacuous check)
    changes = [(cone[i] - ref.probabilities[int(w), int(c) - flank - distance : int(c) - flank + distance + 1]).abs().max()
               for i, (w, c) in enumerate(zip(windows, centers))]
    assert sum(bool(c > 1e-3) for c in changes) >= 3


def test_cones_with_calibration_and_one_member():
    model = _model([(1, 5, 2), (2, 3, 4)], members=1, temperatures=[1.3, 0.8, 2.0])
    flank, distance = model.config.flank, 5
    x = _windows(1, 2 * flank + 40)
    with torch.inference_mode():
        ref = reference_pass(model, x, calibrated=True)
        cone = substitution_probabilities(model, ref, torch.tensor([0]), torch.tensor([flank + 20]),
                                          torch.eye(4)[[2]], distance=distance, calibrated=True)
    torch.testing.assert_close(cone[0], _full(model, x, 0, flank + 20, torch.eye(4)[2], distance, calibrated=True),
                               atol=2e-6, rtol=0)


def test_outputs_outside_the_window_are_refused():
    model = _model([(1, 3, 1)])
    x = _windows(1, 30)
    ref = reference_pass(model, x)
    with pytest.raises(ValueError, match=r"outputs ±3 must lie in the windows' outputs \[2, 28\)"):
        substitution_probabilities(model, ref, torch.tensor([0]), torch.tensor([4]), torch.eye(4)[[0]], distance=3)


def test_training_mode_is_refused():
    model = _model([(1, 3, 1)]).train()
    with pytest.raises(ValueError, match="eval mode"):
        reference_pass(model, _windows(1, 30))


def test_activation_bytes_counts_what_is_kept():
    model = _model(STAGES)
    x = _windows(2, 2 * model.config.flank + 33)
    ref = reference_pass(model, x)
    kept = sum(t.numel() * t.element_size() for t in ref.trunk)
    assert activation_bytes(model.config, x.shape[1]) * 2 == kept
    # the 10k ensemble (5 x 32 channels) at -D 50: one 10,101-position window
    assert activation_bytes(SpliceAIConfig.from_variant("spliceai-10k", num_members=5), 10_101) == 87_550_080  # 83.5 MiB


def test_real_ensemble_cones_equal_full_passes():
    model = spliceai_pretrained("spliceai-10k")
    flank, distance = model.config.flank, 50
    x = _windows(1, 2 * flank + 2 * distance + 1 + 40, seed=3)
    with torch.inference_mode():
        ref = reference_pass(model, x)
        centers = torch.tensor([flank + distance, flank + distance + 40])
        cone = substitution_probabilities(model, ref, torch.tensor([0, 0]), centers, torch.eye(4)[[1, 3]],
                                          distance=distance)
        for i in range(2):
            full = _full(model, x, 0, int(centers[i]), torch.eye(4)[[1, 3][i]], distance)
            torch.testing.assert_close(cone[i], full, atol=1e-6, rtol=0)
