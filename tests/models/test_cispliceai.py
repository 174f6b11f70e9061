"""CI-SpliceAI: the wheel's frozen TensorFlow graph converted (without TensorFlow) to a SpliceAI ensemble.

The graph comes from the installed ``cispliceai`` wheel (CC BY 4.0; ``make install`` installs it
with ``--no-deps``): these tests skip without it, and fail under ``CI=true``. Parity is checked
against ``tests/fixtures/cispliceai/`` (outputs of the original graph run by TensorFlow; recipe in
``tests/fixtures/README.md``).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.checkpoints import sha256
from nucleoforge.io.tf_graphdef import read_graphdef
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.models.spliceai.convert_cispliceai import convert_cispliceai, find_cispliceai_graph, graph_to_state_dict

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "cispliceai"
CHR22 = REPO / "examples" / "data" / "GRCh37_chr22_20000001-21000000.fa.gz"


def _wheel_missing(exc: BaseException):
    msg = f"CI-SpliceAI wheel not installed (`make install` installs it): {exc}"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true: golden CI-SpliceAI tests must not be skipped. {msg}", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def graph_path() -> Path:
    try:
        return find_cispliceai_graph()
    except FileNotFoundError as exc:
        _wheel_missing(exc)


@pytest.fixture(scope="module")
def nodes(graph_path):
    return read_graphdef(graph_path)


@pytest.fixture(scope="module")
def converted(graph_path, tmp_path_factory) -> Path:
    return convert_cispliceai(tmp_path_factory.mktemp("cispliceai") / "model", graph_path)


@pytest.fixture(scope="module")
def model(converted) -> SpliceAIModel:
    return SpliceAIModel.from_pretrained(converted).eval()


def test_folder_is_a_five_member_spliceai_10k_ensemble(converted, graph_path, nodes):
    config = SpliceAIConfig.from_pretrained(converted)
    assert (config.num_members, config.channels, config.stages, config.context) == (5, 32, SpliceAIConfig().stages, 10000)
    assert (config.batch_norm_eps, config.activation, config.head) == (1e-3, "relu", "softmax")
    assert (config.weights_family, config.weights_name, config.weights_licence) == ("cispliceai", "CI-SpliceAI", "CC BY 4.0")
    record = json.loads((converted / "conversion.json").read_text())
    assert record["sources"][0]["sha256"] == sha256(graph_path) and record["licence"] == "CC BY 4.0"
    assert record["members_found"] == 5 and record["graph"]["batch_norm_eps"] == 1e-3
    # every constant of the graph is a mapped tensor, a checked structural constant or ignored shape arithmetic
    accounted = len(record["mapping"]) + sum(record["checked_constants"].values()) + record["ignored_constants"]["count"]
    assert accounted == sum(n.op == "Const" for n in nodes) == 5086
    assert len(record["mapping"]) == len(set(record["mapping"].values())) == 5 * 206
    assert "CC BY 4.0" in (converted / "LICENSE").read_text()


def test_members_are_distinct_networks(model):
    classifiers = [model.members[m].classifier.weight for m in range(5)]
    assert all(not torch.equal(classifiers[0], w) for w in classifiers[1:])


def _refused(nodes, index: int, **changes) -> str:
    changed = list(nodes)
    changed[index] = dataclasses.replace(nodes[index], **changes)
    with pytest.raises(NucleoforgeError) as info:
        graph_to_state_dict(changed, "other.pb")
    message = str(info.value)
    assert message.startswith("other.pb: not the CI-SpliceAI graph") and "\n" not in message
    return message


def _find(nodes, name: str) -> int:
    return next(i for i, n in enumerate(nodes) if n.name == name)


def test_graphs_of_another_shape_are_refused_with_one_line(nodes):
    relu = _find(nodes, "model_1/activation_5/Relu_2")
    assert "unexpected Elu node" in _refused(nodes, relu, op="Elu")
    kernel = _find(nodes, "model_1/conv1d_12/conv1d_3/ExpandDims_1/ReadVariableOp/resource")
    wider = np.zeros((21, 32, 32), np.float32)
    assert "without Keras 'same' padding (40 each side)" in _refused(nodes, kernel, attr={"value": wider})
    skip = _find(nodes, "model_1/conv1d_11/conv1d_3/ExpandDims_1/ReadVariableOp/resource")
    message = _refused(nodes, skip, attr={"value": np.zeros((1, 32, 16), np.float32)})
    assert "member 3" in message and "is not a SpliceAI network" in message
    eps = _find(nodes, "model_1/batch_normalization_7/batchnorm_4/add/y")
    assert "BatchNorm epsilons [1e-05, 0.001]" in _refused(nodes, eps, attr={"value": np.array(1e-5, np.float32)})
    assert "is not Mean(Pack(members), axis 0)" in _refused(nodes, _find(nodes, "Mean"), op="Max")
    crop = _find(nodes, "model_1/cropping1d_1/strided_slice_1/stack")
    assert "Cropping1D begin" in _refused(nodes, crop, attr={"value": np.array([0, 4000], np.int32)})
    weight = nodes[_find(nodes, "model_1/conv1d_3/BiasAdd/ReadVariableOp/resource")]
    extra = [*nodes[:100], dataclasses.replace(weight, name="orphan"), *nodes[100:]]  # a constant nothing reads
    with pytest.raises(NucleoforgeError, match=r"^other.pb: .*1 constants fit no layer, e.g. orphan$"):
        graph_to_state_dict(extra, "other.pb")


def test_a_file_that_is_not_a_graph_is_one_error_line(tmp_path):
    bad = tmp_path / "CI-SpliceAI.pb"
    bad.write_text("#NAME\tCHROM\tSTRAND\n")
    with pytest.raises(NucleoforgeError, match=r"CI-SpliceAI\.pb: not a (readable )?TensorFlow GraphDef") as info:
        convert_cispliceai(tmp_path / "out", bad)
    assert "\n" not in str(info.value)


def test_cli_converts_and_refuses_a_non_empty_folder(graph_path, tmp_path):
    from tests.cli.runner import assert_user_error, invoke

    out = tmp_path / "cis"
    done = invoke(["convert", "cispliceai", out, "--source", graph_path])
    assert done.code == 0, done.err
    assert "weights: CI-SpliceAI (CC BY 4.0" in done.stdout and (out / "model.safetensors").is_file()
    assert_user_error(invoke(["convert", "cispliceai", out]), out, "--force")
    assert invoke(["convert", "cispliceai", out, "--force"]).code == 0
    assert_user_error(invoke(["convert", "cispliceai", tmp_path / "x", "--source", tmp_path / "absent.pb"]), "absent.pb")


# --- parity with the original graph run by TensorFlow ---------------------------------------
def _one_hot(sequence: str) -> np.ndarray:
    codes = np.frombuffer(sequence.upper().encode(), dtype=np.uint8)
    out = np.zeros((len(sequence), 4), np.float32)
    for channel, base in enumerate(b"ACGT"):
        out[codes == base, channel] = 1.0
    return out


def _fixture_inputs(spec: dict) -> list[tuple[np.ndarray, str]]:
    """One-hot inputs ``(length + 10000, 4)`` and strand of each window of ``windows.json``."""
    with gzip.open(CHR22, "rt") as fh:
        block = "".join(line.strip() for line in fh if not line.startswith(">")).upper()
    first = spec.get("block_first_position", 20_000_001)
    inputs = []
    for window in spec.get("windows") or [spec["window"]]:
        begin = window["start"] - first - 5000
        end = begin + window["length"] + 10000
        text = "N" * max(0, -begin) + block[max(0, begin) : end] + "N" * max(0, end - len(block))
        if "input_md5" in spec.get("input", {}):  # the exact input the original was given
            assert hashlib.md5(text.encode()).hexdigest() == spec["input"]["input_md5"]
        inputs.append((_one_hot(text), window.get("strand", "+")))
    return inputs


def test_parity_with_the_original_graph(model):
    if not (FIXTURES / "per_position.npy").is_file():
        pytest.skip(f"no golden outputs of the original CI-SpliceAI graph yet ({FIXTURES}/per_position.npy)")
    spec = json.loads((FIXTURES / "windows.json").read_text())
    expected = np.load(FIXTURES / "per_position.npy")
    members = np.load(FIXTURES / "members.npy") if (FIXTURES / "members.npy").is_file() else None
    got, got_members = [], []
    for x, strand in _fixture_inputs(spec):
        if strand == "-":
            x = x[::-1, ::-1].copy()
        with torch.no_grad():
            out = model(torch.from_numpy(x)[None], output_members=True)
        probabilities, member_p = out.probabilities[0].numpy(), out.member_probabilities[0].numpy()
        if strand == "-":
            probabilities, member_p = probabilities[::-1], member_p[:, ::-1]
        got.append(probabilities)
        got_members.append(member_p)
    got = np.concatenate(got)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5
    if members is not None:  # each recovered member against the graph pruned at its softmax
        assert np.abs(np.concatenate(got_members, axis=1) - members).max() <= 1e-5
