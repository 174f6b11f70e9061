"""Safe loading of original weight files: the restricted Paddle unpickler, torch weights_only, safetensors."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.io.checkpoints import (
    CheckpointError,
    UnsafeCheckpointError,
    load_hf_folder_weights,
    load_paddle_state_dict,
    load_torch_state_dict,
    save_paddle_state_dict,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "rnaernie"


class _RunsCode:
    """Unpickling this runs a shell command — the classic malicious pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# ------------------------------------------------------------------------------ Paddle
def test_real_paddle_pickle_loads() -> None:
    """The fixture was pickled by PaddlePaddle 3.3.1 (protocol 4, numpy._core names)."""
    state = load_paddle_state_dict(FIXTURE / "model_state.pdparams")
    assert len(state) == 46 and "StructuredToParameterName@@" not in state
    assert state["ernie.encoder.layers.0.linear1.weight"].shape == (32, 64)  # Paddle Linear: [in, out]
    assert state["ernie.embeddings.position_embeddings.weight"].shape == (513, 32)
    assert all(v.dtype == np.float32 for v in state.values())
    np.testing.assert_array_equal(state["cls.predictions.decoder.weight"], state["ernie.embeddings.word_embeddings.weight"])


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_code_execution_is_refused(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model_state.pdparams"
    with open(path, "wb") as fh:
        pickle.dump({"w": np.ones(2, np.float32), "evil": _RunsCode(marker)}, fh, protocol=protocol)
    with pytest.raises(UnsafeCheckpointError, match=rf"{path}: the pickle asks for {os.system.__module__}\.system"):
        load_paddle_state_dict(path)
    assert not marker.exists()
    # the same pickle really does run code when unpickled without restriction
    pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(
    "global_name", [b"builtins\neval\n", b"os\nsystem\n", b"subprocess\nPopen\n", b"numpy\nload\n", b"torch\nload\n"]
)
def test_only_array_globals_resolve(global_name: bytes) -> None:
    blob = b"\x80\x02c" + global_name + b"."  # protocol 2: GLOBAL module\nname\n, STOP
    module, name = global_name.decode().split()
    with pytest.raises(UnsafeCheckpointError, match=rf"asks for {module}\.{name}"):
        load_paddle_state_dict(io.BytesIO(blob))


def test_codecs_encode_only_as_latin1_bytes() -> None:
    """Protocol 2 spells array bytes as _codecs.encode(text, 'latin1'); any other codec use is refused."""
    blob = pickle.dumps({"w": np.arange(4, dtype=np.int16)}, protocol=2)
    assert b"_codecs" in blob
    np.testing.assert_array_equal(load_paddle_state_dict(io.BytesIO(blob))["w"], np.arange(4, dtype=np.int16))
    rot13 = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(UnsafeCheckpointError, match=r"codecs.encode\(str, 'rot13'\)"):
        load_paddle_state_dict(io.BytesIO(rot13))


def test_numpy1_module_names_and_paddle21_tuples() -> None:
    """Pickles written under NumPy 1.x name numpy.core.multiarray; Paddle 2.1 stored (name, ndarray) tuples."""

    class TensorAsTuple:  # what Paddle's reduce_varbase produces
        def __init__(self, name: str, data: np.ndarray) -> None:
            self.name, self.data = name, data

        def __reduce__(self):
            return (tuple, ((self.name, self.data),))

    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    blob = pickle.dumps({"a.weight": TensorAsTuple("linear_0.w_0", w), "b": np.ones(3)}, protocol=2)
    blob = blob.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct" in blob and b"c__builtin__\ntuple" in blob
    state = load_paddle_state_dict(io.BytesIO(blob))
    np.testing.assert_array_equal(state["a.weight"], w)
    assert state["b"].dtype == np.float64


def test_split_big_parameters_are_joined() -> None:
    """Protocol 2/3 files split arrays over 1 GiB into slices listed under UnpackBigParamInfor@@."""
    full = np.arange(12, dtype=np.float32).reshape(3, 4)
    flat = full.ravel()
    obj = {
        "w@@.0": flat[:5], "w@@.1": flat[5:], "b": np.zeros(2, np.float32),
        "UnpackBigParamInfor@@": {"w": {"OriginShape": (3, 4), "slices": ["w@@.0", "w@@.1"]}},
        "StructuredToParameterName@@": {"w": "w_0", "b": "b_0"},
    }  # fmt: skip
    state = load_paddle_state_dict(io.BytesIO(pickle.dumps(obj, protocol=2)))
    assert sorted(state) == ["b", "w"]
    np.testing.assert_array_equal(state["w"], full)


def test_object_arrays_and_non_arrays_are_refused() -> None:
    with pytest.raises(UnsafeCheckpointError, match=r"entry 'o' is an object array"):
        load_paddle_state_dict(io.BytesIO(pickle.dumps({"o": np.array([1, "a"], dtype=object)})))
    with pytest.raises(CheckpointError, match=r"entry 'lr' is a float, expected a NumPy array"):
        load_paddle_state_dict(io.BytesIO(pickle.dumps({"lr": 0.1})))
    with pytest.raises(CheckpointError, match=r"expected a pickled dict of parameters, found list"):
        load_paddle_state_dict(io.BytesIO(pickle.dumps([np.zeros(1)])))


def test_truncated_and_garbage_pdparams(tmp_path: Path) -> None:
    path = tmp_path / "model_state.pdparams"
    path.write_bytes((FIXTURE / "model_state.pdparams").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=rf"{path}: not a readable Paddle state dict \(truncated or corrupt\?\)"):
        load_paddle_state_dict(path)
    path.write_bytes(b"this is not a pickle")
    with pytest.raises(CheckpointError, match=r"not a readable Paddle state dict"):
        load_paddle_state_dict(path)


def test_save_paddle_state_dict_round_trip(tmp_path: Path) -> None:
    state = {"x.weight": np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32), "x.bias": np.zeros(5, np.float32)}
    save_paddle_state_dict(state, tmp_path / "m.pdparams")
    raw = pickle.loads((tmp_path / "m.pdparams").read_bytes())  # what paddle.load sees
    assert raw["StructuredToParameterName@@"] == {"x.weight": "x.weight", "x.bias": "x.bias"}
    back = load_paddle_state_dict(tmp_path / "m.pdparams")
    assert back.keys() == state.keys()
    for key in state:
        np.testing.assert_array_equal(back[key], state[key])


# ------------------------------------------------------------------------------ PyTorch and safetensors
def test_torch_bin_with_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.ones(2), "evil": _RunsCode(marker)}, path)
    with pytest.raises(UnsafeCheckpointError, match=rf"{path}: the file holds objects other than tensors"):
        load_torch_state_dict(path)
    assert not marker.exists()


def test_torch_bin_truncated(tmp_path: Path) -> None:
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.randn(64, 64)}, path)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(CheckpointError, match=rf"{path}: not a readable PyTorch state dict \(truncated or corrupt\?\)"):
        load_torch_state_dict(path)


def test_safetensors_preferred_and_checked(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    torch.save({"w": torch.zeros(2)}, tmp_path / "pytorch_model.bin")
    save_file({"w": torch.ones(2)}, str(tmp_path / "model.safetensors"))
    state, path = load_hf_folder_weights(tmp_path)
    assert path.name == "model.safetensors" and torch.equal(state["w"], torch.ones(2))
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(CheckpointError, match=r"model.safetensors: not a readable safetensors file"):
        load_hf_folder_weights(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "pytorch_model.bin").unlink()
    with pytest.raises(CheckpointError, match=r"no weight file \(looked for model.safetensors, pytorch_model.bin\)"):
        load_hf_folder_weights(tmp_path)
