"""Loading a saved folder for inference is strict (nucleoforge.io.checkpoints.load_model_folder):
another model type, a missing or an unexpected weight, or a wrong shape is a CheckpointError
naming the folder and its model type — transformers alone would initialise at random."""

from __future__ import annotations

import shutil

import pytest
import torch

from nucleoforge.io.checkpoints import CheckpointError, folder_model_type
from nucleoforge.models.spliceai import SpliceAIModel
from tests.cli.runner import spliceai_folder, splicebert_folder  # noqa: F401


def test_spliceai_from_pretrained_refuses_another_model_type(splicebert_folder):
    with pytest.raises(CheckpointError) as info:
        SpliceAIModel.from_pretrained(splicebert_folder)
    assert str(splicebert_folder) in str(info.value) and "'splicebert'" in str(info.value)


def test_spliceai_from_pretrained_refuses_missing_and_unexpected_weights(tmp_path, spliceai_folder):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "partial"
    shutil.copytree(spliceai_folder, folder)
    state = load_file(folder / "model.safetensors")
    dropped = sorted(k for k in state if k.startswith("members.1."))
    state = {k: v for k, v in state.items() if k not in dropped}
    state["members.9.extra.weight"] = torch.zeros(1)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError) as info:
        SpliceAIModel.from_pretrained(folder)
    text = str(info.value)
    assert f"{folder} (spliceai model)" in text
    assert f"{len(dropped)} weight(s) missing" in text and "1 unexpected weight(s) (members.9.extra.weight)" in text


def test_spliceai_from_pretrained_loads_a_complete_folder_and_passes_loading_info_through(spliceai_folder):
    model = SpliceAIModel.from_pretrained(spliceai_folder)
    reference = SpliceAIModel.from_pretrained(spliceai_folder, output_loading_info=True)
    assert isinstance(reference, tuple) and not reference[1]["missing_keys"]  # the caller checks the info itself
    for a, b in zip(model.state_dict().values(), reference[0].state_dict().values()):
        assert torch.equal(a, b)


def test_folder_model_type_errors(tmp_path, spliceai_folder):
    assert folder_model_type(spliceai_folder) == "spliceai"
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        folder_model_type(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="is a file, not a model folder"):
        folder_model_type(tmp_path / "file")
    with pytest.raises(CheckpointError, match=r"not a model folder \(no config.json\)"):
        folder_model_type(tmp_path)
