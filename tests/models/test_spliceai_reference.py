"""Independent NumPy references for SpliceAI tests (Keras semantics, no nucleoforge code).

* :func:`keras_forward`: the original network as Keras computes it — every convolution
  'same'-padded with zeros, BatchNorm eps 1e-3, ReLU, skip sum cropped at the end — from a
  ``{"layer/weight:0": array}`` dict as stored in the h5 files.
* :func:`write_keras_h5`: a Keras-2-layout h5 file (``model_weights/<layer>/<layer>/<w>:0``).
* :func:`blockwise_predict`: the original SpliceAI's block-wise scheme (N-pad by ``flank``
  and to a multiple of the block, one ``block + context`` window per block).

Also the fixtures shared by the SpliceAI test modules (they import them from here).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "spliceai"
RECORD_START = 20_000_001  # chr22 position of base 0 of the bundled FASTA record
SPLICEAI_10K = [(4, 11, 1), (4, 11, 4), (4, 21, 10), (4, 41, 25)]


def _conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, dilation: int) -> np.ndarray:
    """Keras Conv1D, padding='same' (odd kernels): x (L, Cin), kernel (K, Cin, Cout)."""
    k = kernel.shape[0]
    pad = (k - 1) * dilation // 2
    xp = np.pad(x.astype(np.float64), ((pad, pad), (0, 0)))
    out = np.zeros((x.shape[0], kernel.shape[2]), dtype=np.float64)
    for t in range(k):
        out += xp[t * dilation : t * dilation + x.shape[0]] @ kernel[t].astype(np.float64)
    return out + bias


def keras_forward(weights: dict[str, np.ndarray], stages, x: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """Softmax output ``(L - context, classes)`` of one network for one-hot ``x`` ``(L, 4)``."""
    conv, bn = iter(range(1, 10_000)), iter(range(1, 10_000))

    def c(h, dilation=1):
        n = next(conv)
        return _conv_same(h, weights[f"conv1d_{n}/kernel:0"], weights[f"conv1d_{n}/bias:0"], dilation)

    def b(h):
        n = next(bn)
        g, be, mu, var = (weights[f"batch_normalization_{n}/{w}:0"] for w in ("gamma", "beta", "moving_mean", "moving_variance"))
        return (h - mu) / np.sqrt(var + eps) * g + be

    h = c(x)
    skip = c(h)
    context = 0
    for num_blocks, _, dilation in stages:
        for _ in range(num_blocks):
            y = c(np.maximum(b(h), 0), dilation)
            y = c(np.maximum(b(y), 0), dilation)
            h = h + y
        skip = skip + c(h)
    context = sum(n * 2 * (k - 1) * d for n, k, d in stages)
    flank = context // 2
    logits = c(skip[flank : len(skip) - flank])
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def random_keras_weights(stages, channels: int, rng: np.random.Generator, inputs: int = 4, classes: int = 3):
    """Random weights with Keras names and shapes for ``stages`` (BN stats away from 0/1)."""
    w: dict[str, np.ndarray] = {}
    conv, bn = iter(range(1, 10_000)), iter(range(1, 10_000))

    def add_conv(k, cin, cout):
        n = next(conv)
        w[f"conv1d_{n}/kernel:0"] = rng.normal(0, 0.4, (k, cin, cout)).astype(np.float32)
        w[f"conv1d_{n}/bias:0"] = rng.normal(0, 0.1, cout).astype(np.float32)

    def add_bn():
        n = next(bn)
        w[f"batch_normalization_{n}/gamma:0"] = rng.uniform(0.5, 1.5, channels).astype(np.float32)
        w[f"batch_normalization_{n}/beta:0"] = rng.normal(0, 0.1, channels).astype(np.float32)
        w[f"batch_normalization_{n}/moving_mean:0"] = rng.normal(0, 0.2, channels).astype(np.float32)
        w[f"batch_normalization_{n}/moving_variance:0"] = rng.uniform(0.5, 2.0, channels).astype(np.float32)

    add_conv(1, inputs, channels)
    add_conv(1, channels, channels)
    for num_blocks, k, _ in stages:
        for _ in range(num_blocks):
            add_bn()
            add_conv(k, channels, channels)
            add_bn()
            add_conv(k, channels, channels)
        add_conv(1, channels, channels)
    add_conv(1, channels, classes)
    return w


def write_keras_h5(path, weights: dict[str, np.ndarray]) -> None:
    """Write ``weights`` in the Keras 2 full-model layout that the SpliceAI wheel uses."""
    import h5py

    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights")
        layers: dict[str, list[str]] = {}
        for key in weights:
            layer, name = key.split("/")
            layers.setdefault(layer, []).append(name)
        root.attrs["layer_names"] = np.array([n.encode() for n in layers])
        for layer, names in layers.items():
            group = root.create_group(layer)
            group.attrs["weight_names"] = np.array([f"{layer}/{n}".encode() for n in names])
            inner = group.create_group(layer)
            for n in names:
                inner.create_dataset(n, data=weights[f"{layer}/{n}"])


def blockwise_predict(predict_window: Callable[[np.ndarray], np.ndarray], onehot: np.ndarray, flank: int,
                      block: int = 5000) -> np.ndarray:
    """The original SpliceAI scheme: N-pad, cut ``block``-position windows with ``flank`` context each."""
    length = len(onehot)
    n_blocks = -(-length // block)
    padded = np.zeros((n_blocks * block + 2 * flank, onehot.shape[1]), dtype=onehot.dtype)
    padded[flank : flank + length] = onehot
    windows = np.stack([padded[i * block : i * block + block + 2 * flank] for i in range(n_blocks)])
    out = predict_window(windows)  # (n_blocks, block, classes)
    return out.reshape(n_blocks * block, -1)[:length]


# --------------------------------------------------------------------------- shared fixtures
@pytest.fixture(scope="session")
def wheel_h5_files() -> list[Path]:
    """The five original h5 models of the installed ``spliceai`` wheel (skip when absent; fail under CI=true)."""
    from tests.conftest import spliceai_wheel_h5_files

    return spliceai_wheel_h5_files()


@pytest.fixture(scope="session")
def golden() -> dict:
    """Outputs of the original Keras models on the fixture windows (see tests/fixtures/spliceai)."""
    info = json.loads((GOLDEN / "windows.json").read_text())
    arrays = {f"member{n}": np.load(GOLDEN / f"member{n}.npy") for n in range(1, 6)}
    arrays["ensemble"] = np.load(GOLDEN / "ensemble.npy")
    return {"info": info, **arrays}


@pytest.fixture(scope="session")
def spliceai_10k(wheel_h5_files):
    """The published 5-member ensemble, converted in memory from the wheel (no cache writes)."""
    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel, convert_keras_h5

    model = SpliceAIModel(SpliceAIConfig(num_members=5))
    model.load_state_dict(convert_keras_h5(wheel_h5_files), strict=True)
    return model.eval()


def golden_inputs(chr22_block: str, golden: dict) -> tuple[list[str], np.ndarray]:
    """The fixture windows' input sequences (checked against the stored MD5) and one-hot batch."""
    import hashlib

    from nucleoforge.alphabet import one_hot

    info = golden["info"]
    seqs = []
    for w in info["windows"]:
        offset = w["start"] - RECORD_START
        seq = chr22_block[offset - info["flank"] : offset + w["length"] + info["flank"]]
        assert hashlib.md5(seq.encode()).hexdigest() == w["input_md5"], f"input of window {w['name']} changed"
        seqs.append(seq)
    return seqs, np.stack([one_hot(s) for s in seqs])


# --------------------------------------------------------------------------- self-check
def test_reference_matches_original_keras_member(wheel_h5_files, chr22_block, golden) -> None:
    """The NumPy reference reproduces the original Keras model 1 on a real fixture window."""
    from nucleoforge.alphabet import one_hot
    from nucleoforge.models.spliceai.convert import read_keras_h5

    info = golden["info"]
    window = info["windows"][0]
    offset = window["start"] - RECORD_START
    x = one_hot(chr22_block[offset - 5000 : offset + window["length"] + 5000])
    probs = keras_forward(read_keras_h5(wheel_h5_files[0]), SPLICEAI_10K, x)
    np.testing.assert_allclose(probs, golden["member1"][0, 0], atol=1e-5, rtol=0)
