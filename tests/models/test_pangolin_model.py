"""Pangolin's 12 published models as one SpliceAI ensemble with the ``pangolin`` head.

Goldens: ``tests/fixtures/pangolin/`` (``windows.json``: the original ``Pangolin`` class on a real
stretch of the bundled chr22 block, both strands, the command line's 10,000-nt real flanks).
The weights come from ``../shared/weights/pangolin`` (GPL-3.0), converted into a temporary folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.alphabet import one_hot
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.models.spliceai.convert_pytorch import convert_pangolin
from nucleoforge.models.spliceai.incremental import reference_pass, substitution_probabilities
from tests.conftest import shared_weights

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pangolin"
BLOCK_FIRST = 20_000_001
TOLERANCE = 1e-5


def _fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"golden fixture {path} is absent (written by tests/fixtures/pangolin/make_golden.py)")
    return path


@pytest.fixture(scope="module")
def pangolin(tmp_path_factory) -> SpliceAIModel:
    out = convert_pangolin(shared_weights("pangolin"), tmp_path_factory.mktemp("pangolin") / "model")
    return SpliceAIModel.from_pretrained(out).eval()


@pytest.fixture(scope="module")
def outputs(pangolin, chr22_block) -> tuple[dict, dict]:
    """The golden window and our member outputs ``{strand: (12, L, 12)}``, output reversed back on '-'."""
    window = json.loads(_fixture("windows.json").read_text())["windows"][0]
    start = window["input_first_position_1based"] - BLOCK_FIRST
    x = torch.from_numpy(one_hot(chr22_block[start : start + window["input_length"]]))[None]
    found = {}
    with torch.inference_mode():
        for strand, inputs in (("+", x), ("-", x.flip(1, 2))):  # '-': reverse complement (A<->T, C<->G)
            out = pangolin(inputs, output_members=True)
            members = out.member_probabilities[0]
            found[strand] = (members if strand == "+" else members.flip(1), out.probabilities[0] if strand == "+"
                             else out.probabilities[0].flip(0))
    return window, found


def test_config_is_pangolins(pangolin):
    c = pangolin.config
    assert (c.head, c.activation, c.batch_norm_eps, c.num_members, c.weights_family) == ("pangolin", "relu", 1e-5, 12, "pangolin")
    assert c.tissues == ["heart", "liver", "brain", "testis"] and c.member_tissues == [t for t in range(4) for _ in range(3)]


def test_the_channel_each_model_is_read_for_matches_the_original(outputs):
    """Every model's P(splice) of its tissue (channel 1, 4, 7 or 10), both strands: max abs diff <= 1e-5."""
    golden = np.load(_fixture("per_position.npy"))  # (12 models, 2 strands, L)
    _, found = outputs
    for s, strand in enumerate("+-"):
        members = found[strand][0].numpy()
        ours = np.stack([members[m, :, 3 * (m // 3) + 1] for m in range(12)])
        diff = float(np.abs(ours - golden[:, s]).max())
        assert diff <= TOLERANCE, f"strand {strand}: max abs diff {diff:.3g}"


def test_all_twelve_channels_of_one_model_match_the_original(outputs):
    """The head: softmax pairs and sigmoid usage of final.1.0.3.v2, all 12 channels, both strands."""
    golden = np.load(_fixture("full_channels.npy")).reshape(2, -1, 12)  # (2 strands, L, 12)
    _, found = outputs
    for s, strand in enumerate("+-"):
        diff = float(np.abs(found[strand][0][0].numpy() - golden[s]).max())
        assert diff <= TOLERANCE, f"strand {strand}: max abs diff {diff:.3g}"


def test_probabilities_are_per_tissue_means_of_the_read_channels(outputs):
    """``probabilities[..., t]`` = the mean over tissue t's 3 replicates of their P(splice) channel."""
    golden = np.load(_fixture("per_position.npy"))
    _, found = outputs
    for s, strand in enumerate("+-"):
        expected = golden[:, s].reshape(4, 3, -1).mean(axis=1).T  # (L, 4)
        assert float(np.abs(found[strand][1].numpy() - expected).max()) <= TOLERANCE


def _small_pangolin(slope_activation: str = "relu") -> SpliceAIModel:
    torch.manual_seed(0)
    config = SpliceAIConfig(stages=[(2, 3, 1), (2, 3, 2)], channels=4, num_members=4, head="pangolin",
                            member_tissues=[0, 1, 2, 3], activation=slope_activation, batch_norm_eps=1e-5)
    model = SpliceAIModel(config)
    for buffer_name, buffer in model.named_buffers():  # non-trivial BatchNorm statistics
        if buffer_name.endswith("running_mean"):
            buffer.normal_()
        elif buffer_name.endswith("running_var"):
            buffer.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_fused_member_and_incremental_paths_agree(activation):
    """The pangolin head and both activations in the fused, per-member and substitution-cone paths."""
    model = _small_pangolin(activation)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 80)), 4).float()
    with torch.no_grad():
        fused = model(x, output_members=True)
        modular = model(x, output_members=True, use_fused=False)
        assert fused.probabilities.shape == (1, 80 - model.config.context, 4)
        assert torch.allclose(fused.member_probabilities, modular.member_probabilities, atol=1e-6)
        assert torch.allclose(fused.probabilities, modular.probabilities, atol=1e-6)
        ref = reference_pass(model, x)
        assert torch.equal(ref.probabilities, fused.probabilities)
        alt = x.clone()
        alt[0, 40] = torch.roll(x[0, 40], 1)
        cone = substitution_probabilities(model, ref, torch.tensor([0]), torch.tensor([40]), alt[:, 40], distance=5)
        full = model(alt).probabilities[:, 40 - model.config.flank - 5 : 40 - model.config.flank + 6]
    assert torch.allclose(cone, full, atol=1e-6)


def test_a_leaky_slope_changes_the_outputs():
    """LeakyReLU is applied (not ReLU) when configured: with negative pre-activations the outputs differ."""
    relu, leaky = _small_pangolin("relu"), _small_pangolin("leaky_relu")
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 60)), 4).float()
    with torch.no_grad():
        assert not torch.allclose(relu(x).probabilities, leaky(x).probabilities)
        assert not torch.allclose(relu(x, use_fused=False).probabilities, leaky(x, use_fused=False).probabilities)
