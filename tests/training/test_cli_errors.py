"""``pretrain`` / ``finetune`` user errors through ``nucleoforge.cli.main``: one ``error:`` line, exit 2,
nothing trained or saved."""

from __future__ import annotations

import shutil

import pytest

from nucleoforge.io.checkpoints import CheckpointError
from tests.cli.runner import assert_user_error, run_main, spliceai_folder, splicebert_folder  # noqa: F401

TINY = "num_hidden_layers=1,hidden_size=16,num_attention_heads=2,intermediate_size=32"


@pytest.mark.parametrize("content", ["", ">chr22:1-40\nNNNNNNNNNNACGTACGTAC\n"], ids=["empty", "too-short"])
def test_pretrain_without_training_chunks_is_refused(capsys, tmp_path, content):
    """``pretrain --train empty.fa`` used to exit 0 and save an untrained model."""
    corpus = tmp_path / "empty.fa"
    corpus.write_text(content)
    out = tmp_path / "run"
    assert_user_error(run_main(capsys, "pretrain", "--train", corpus, "--model-type", "splicebert", "--config", TINY,
                               "--max-steps", "2", "--output", out, "--quiet"), corpus, "no chunk")
    assert not (out / "model.safetensors").exists() and not (out / "config.json").exists()


def test_training_load_may_initialise_a_new_head_only(tmp_path, splicebert_folder, spliceai_folder):
    """A new head starts from scratch; a missing encoder weight is an error, not a random encoder."""
    from safetensors.torch import load_file, save_file

    from nucleoforge.training.pretrain import load_model

    model, _ = load_model(splicebert_folder, "ForSequencePrediction", num_labels=2)  # new head: fine
    assert type(model).__name__ == "SpliceBertForSequencePrediction"
    partial = tmp_path / "partial"
    shutil.copytree(splicebert_folder, partial)
    state = load_file(partial / "model.safetensors")
    state = {k: v for k, v in state.items() if ".layers.1." not in k}
    save_file(state, partial / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"partial \(splicebert model\).*missing \(bert\.layers\.1\."):
        load_model(partial, "ForSequencePrediction", num_labels=2)
