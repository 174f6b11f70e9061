"""OpenSpliceAI's published weights, converted: per-seed and ensemble outputs equal the original's.

Goldens: ``tests/fixtures/openspliceai/`` (``windows.json`` says how they were made: the original
``SpliceAI`` class of OpenSpliceAI on a real stretch of the bundled chr22 block, real flanks).
The weights come from ``../shared/weights/openspliceai`` (GPL-3.0) and are converted into a
temporary folder, never into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.alphabet import one_hot
from nucleoforge.models.spliceai import SpliceAIModel
from nucleoforge.models.spliceai.convert_pytorch import convert_openspliceai
from tests.conftest import shared_weights

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openspliceai"
BLOCK_FIRST = 20_000_001  # chr22 position of base 0 of the bundled block
FOLDERS = ["mane-80nt", "mane-400nt", "mane-2000nt", "mane-10000nt",
           "mouse-10000nt", "zebrafish-10000nt", "honeybee-10000nt", "arabidopsis-10000nt"]  # fmt: skip
TOLERANCE = 1e-5


def _fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"golden fixture {path} is absent (written by tests/fixtures/openspliceai/make_golden.py)")
    return path


@pytest.fixture(scope="module")
def windows() -> dict:
    return json.loads(_fixture("windows.json").read_text())


def _convert(folder: str, tmp_path_factory: pytest.TempPathFactory) -> SpliceAIModel:
    species, context = folder.split("-")
    src = shared_weights("openspliceai", f"openspliceai-{species}", context)
    out = convert_openspliceai(src, tmp_path_factory.mktemp(folder) / "model")
    return SpliceAIModel.from_pretrained(out).eval()


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_seed_and_the_ensemble_match_the_original(folder, windows, chr22_block, tmp_path_factory):
    """Per seed (each a member) and the mean of the seeds: max abs difference <= 1e-5 on real sequence."""
    golden = np.load(_fixture(f"{folder}.npy"))  # (5 seeds, L, 3)
    spec = windows["inputs"][folder]
    start = spec["input_first"] - BLOCK_FIRST
    x = torch.from_numpy(one_hot(chr22_block[start : start + spec["input_length"]]))[None]
    model = _convert(folder, tmp_path_factory)
    assert (model.config.activation, model.config.activation_slope, model.config.batch_norm_eps) == ("leaky_relu", 0.1, 1e-5)
    assert model.config.context == spec["flanking_size"] and model.config.num_members == golden.shape[0]
    with torch.inference_mode():
        out = model(x, output_members=True)
    members = out.member_probabilities[0].numpy()
    assert members.shape == golden.shape
    seed_diff = float(np.abs(members - golden).max())
    ensemble_diff = float(np.abs(out.probabilities[0].numpy() - golden.mean(axis=0)).max())
    assert seed_diff <= TOLERANCE, f"{folder}: per-seed max abs diff {seed_diff:.3g}"
    assert ensemble_diff <= TOLERANCE, f"{folder}: ensemble max abs diff {ensemble_diff:.3g}"


def test_member_path_with_leaky_relu_matches_the_fused_path(windows, chr22_block, tmp_path_factory):
    """The per-member (training) modules honour LeakyReLU too: same numbers as the fused eval path."""
    golden = np.load(_fixture("mane-400nt.npy"))
    spec = windows["inputs"]["mane-400nt"]
    start = spec["input_first"] - BLOCK_FIRST
    x = torch.from_numpy(one_hot(chr22_block[start : start + spec["input_length"]]))[None]
    model = _convert("mane-400nt", tmp_path_factory)
    with torch.inference_mode():
        modular = model(x, output_members=True, use_fused=False).member_probabilities[0].numpy()
    assert float(np.abs(modular - golden).max()) <= TOLERANCE


@pytest.mark.parametrize("folder", ["mane-400nt", "mane-10000nt"])
def test_n_padded_flanks_match_the_original_predict_function(folder, windows, chr22_block, tmp_path_factory):
    """OpenSpliceAI's ``predict()`` pads ``flank/2`` N each side: zeros in the one-hot, the same outputs."""
    api = windows.get("predict_api", {})
    golden = np.load(_fixture(f"predict_api_{folder}.npy"))  # (L, 3), mean of the seeds
    window = api["window"]
    start = window["start"] - BLOCK_FIRST
    model = _convert(folder, tmp_path_factory)
    pad = "N" * (model.config.flank)
    x = torch.from_numpy(one_hot(pad + chr22_block[start : start + window["length"]] + pad))[None]
    with torch.inference_mode():
        probs = model(x).probabilities[0].numpy()
    assert float(np.abs(probs - golden).max()) <= TOLERANCE
