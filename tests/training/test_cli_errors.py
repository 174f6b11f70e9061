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


@pytest.mark.parametrize("command", ["pretrain", "finetune"])
def test_training_from_a_missing_or_weightless_folder_is_one_error(capsys, tmp_path, splicebert_folder, command):
    """``--model MISSING`` (and a folder with a config but no weights) used to exit 1 with a transformers OSError."""
    train = tmp_path / "train.csv"
    train.write_text("sequence,label\nACGTACGTAC,1\nGGGGCCCCAA,0\n")
    corpus = tmp_path / "c.fa"
    corpus.write_text(">a\n" + "ACGT" * 40 + "\n")
    data = corpus if command == "pretrain" else train
    missing = tmp_path / "nope"
    assert_user_error(run_main(capsys, command, "--model", missing, "--train", data, "--output", tmp_path / "o1", "--quiet"),
                      missing, "not found")
    weightless = tmp_path / "weightless"
    weightless.mkdir()
    shutil.copy(splicebert_folder / "config.json", weightless / "config.json")
    assert_user_error(run_main(capsys, command, "--model", weightless, "--train", data, "--output", tmp_path / "o2", "--quiet"),
                      weightless, "weight")


def test_genebert_resume_without_a_checkpoint_is_refused(tmp_path):
    from nucleoforge.training.genebert import pretrain_genebert
    from tests.models.test_genebert import tiny_config

    with pytest.raises(FileNotFoundError, match="no checkpoint-\\* folder to resume from"):
        (tmp_path / "run").mkdir()
        pretrain_genebert(_tiny_regions(tmp_path), tmp_path / "run", tiny_config(), max_steps=2, batch_size=2, region_crop=30,
                          resume=True)


def _tiny_regions(tmp_path):
    from nucleoforge.regions.datasets import build_region_dataset, regions_from_fasta
    from nucleoforge.regions.motifs import load_jaspar
    from tests.conftest import DATA

    out = tmp_path / "regions"
    motifs = [m for m in load_jaspar() if m.matrix_id in ("MA0142.1", "MA0139.1")]
    build_region_dataset(regions_from_fasta(DATA / "oct4_peaks_test.fa", "oct4"), motifs, out, group_size=2, shard_size=50,
                         scan_crop=30)
    return out


@pytest.mark.parametrize("content,what", [('{"hidden_size": 16,}', "line 1: not valid JSON"), ("[16]", "got a JSON list")],
                         ids=["bad-json", "not-an-object"])
def test_config_file_that_is_no_json_object_is_one_error(capsys, tmp_path, content, what):
    """``--config FILE`` holding broken JSON (or no object) used to end as an internal error (exit 1)."""
    config = tmp_path / "config.json"
    config.write_text(content)
    train = tmp_path / "train.csv"
    train.write_text("sequence,label\nACGTACGTAC,1\nGGGGCCCCAA,0\n")
    out = tmp_path / "run"
    line = assert_user_error(run_main(capsys, "finetune", "--model-type", "splicebert", "--config", config, "--train", train,
                                      "--output", out, "--quiet"), config, what)
    assert line.startswith(f"error: --config {config}:"), line
    assert not out.exists()
