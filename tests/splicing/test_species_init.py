"""``train-splice --init`` and ``evaluate-splice`` on a SpliceAI-type model of another family: an
OpenSpliceAI-style network (LeakyReLU(0.1), BatchNorm eps 1e-5) keeps its activation, eps,
family and licence through training; the trained folder names itself as fine-tuned; members of
different activations are not assembled; a resume with another BatchNorm eps is refused (a per-tissue
init: test_pangolin_consumers.py). Tiny random-weight models, no real weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel, licence_notice
from nucleoforge.splicing.training import train_splice
from nucleoforge.splicing.training.spliceai import assemble_members
from tests.cli.runner import assert_user_error, run_main
from tests.splicing.conftest import write_dataset

#: a one-stage network (context 4), like OpenSpliceAI's: LeakyReLU(0.1) and BatchNorm eps 1e-5
LEAKY = dict(stages=[(1, 3, 1)], channels=4, activation="leaky_relu", activation_slope=0.1, batch_norm_eps=1e-5)
PROVENANCE = dict(weights_family="openspliceai", weights_name="Tiny species 10k", weights_licence="GPL-3.0",
                  weights_source="model_rs{10..11}.pt")  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("species_data") / "data")


def _saved(folder: Path, seed: int = 0, **config) -> Path:
    torch.manual_seed(seed)
    model = SpliceAIModel(SpliceAIConfig(**config))
    model.save_pretrained(folder)
    return folder


def test_init_from_a_leaky_relu_model_keeps_its_activation_eps_and_licence(data, tmp_path, capsys) -> None:
    init = _saved(tmp_path / "init", num_members=2, **LEAKY, **PROVENANCE)
    (init / "LICENSE").write_text("GPL-3.0 (test)\n")
    out = tmp_path / "out"
    r = run_main(capsys, "train-splice", "--data", data, "--init", init, "--max-steps", "2", "--batch-size", "4",
                 "--output", out, "-q")  # fmt: skip
    assert r.code == 0, r.err
    config = json.loads((out / "config.json").read_text())
    assert (config["activation"], config["activation_slope"], config["batch_norm_eps"]) == ("leaky_relu", 0.1, 1e-5)
    assert (config["weights_family"], config["weights_licence"], config["num_members"]) == ("openspliceai", "GPL-3.0", 2)
    assert config["weights_name"] == "Tiny species 10k, fine-tuned by train-splice" and config["weights_source"] is None
    assert (out / "LICENSE").read_text() == "GPL-3.0 (test)\n"
    settings = json.loads((out / "training.json").read_text())["settings"]
    assert (settings["activation"], settings["activation_slope"], settings["batch_norm_eps"]) == ("leaky_relu", 0.1, 1e-5)
    trained = SpliceAIModel.from_pretrained(str(out))
    assert licence_notice(trained) == "weights: Tiny species 10k, fine-tuned by train-splice (GPL-3.0)"
    for member in trained.members:  # every BatchNorm keeps eps 1e-5
        assert {m.eps for m in member.modules() if isinstance(m, torch.nn.BatchNorm1d)} == {1e-5}
    # the weights moved from the init's, and evaluate-splice scores the trained folder
    before = SpliceAIModel.from_pretrained(str(init)).state_dict()
    assert not torch.equal(trained.state_dict()["members.1.classifier.weight"], before["members.1.classifier.weight"])
    r = run_main(capsys, "evaluate-splice", "--data", data, "--split", "test", "--model", out, "-q")
    assert r.code == 0, r.err
    assert json.loads(r.out.strip().splitlines()[-1])["split"] == "test"


def test_members_with_another_activation_are_not_assembled(tmp_path) -> None:
    one = dict(stages=[(1, 3, 1)], channels=4, num_members=1)
    a = _saved(tmp_path / "a", **one, activation="leaky_relu", batch_norm_eps=1e-5)
    b = _saved(tmp_path / "b", **one, batch_norm_eps=1e-5)  # relu
    with pytest.raises(ValueError, match="'activation': 'relu'"):
        assemble_members([a, b], tmp_path / "ens")
    c = _saved(tmp_path / "c", **one, activation="leaky_relu")  # eps 1e-3
    with pytest.raises(ValueError, match="'batch_norm_eps': 0.001"):
        assemble_members([a, c], tmp_path / "ens")


def test_a_resume_with_another_batch_norm_eps_is_refused(data, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    train_splice(data, out, config_overrides={"stages": [[1, 3, 1]], "channels": 4, "batch_norm_eps": 1e-5},
                 max_steps=1, batch_size=4, disable_tqdm=True)  # fmt: skip
    config = json.dumps({"stages": [[1, 3, 1]], "channels": 4})  # eps back to the default 1e-3
    r = run_main(capsys, "train-splice", "--data", data, "--config", config, "--max-steps", "1", "--batch-size", "4",
                 "--output", out, "--resume", "-q")  # fmt: skip
    assert_user_error(r, "cannot resume", "batch_norm_eps")

