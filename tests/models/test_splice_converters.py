"""The OpenSpliceAI and Pangolin converters refuse what they cannot map exactly, and named splice
models resolve (or say which convert command to run).

Most tests write synthetic checkpoints with the originals' key names and shapes (random numbers,
no published weights); the few that convert the real files read ``../shared/weights`` and write
only into ``tmp_path``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
import torch

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.checkpoints import CheckpointError, UnsafeCheckpointError, sha256
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel, licence_notice
from nucleoforge.models.spliceai.convert_pytorch import (
    PANGOLIN_FILES, convert_openspliceai, convert_pangolin, openspliceai_config, openspliceai_key_map, pangolin_config,
    pangolin_key_map,
)  # fmt: skip
from tests.cli.runner import assert_user_error, run_main
from tests.conftest import shared_weights


def _synthetic(key_map: dict, config: SpliceAIConfig, seed: int) -> dict[str, torch.Tensor]:
    """A checkpoint with the original's keys and shapes (random values) for ``config``'s member 0."""
    with torch.device("meta"):
        expected = SpliceAIModel(config).state_dict()
    g = torch.Generator().manual_seed(seed)
    out = {}
    for theirs, (ours, start, stop) in key_map.items():
        shape = tuple(expected[f"members.0.{ours}"].shape)
        shape = shape if start is None else (stop - start, *shape[1:])
        values = torch.rand(shape, generator=g) + (0.5 if ours.endswith("running_var") else 0.0)
        out[theirs] = values
        if theirs.endswith("running_var"):
            out[theirs.replace("running_var", "num_batches_tracked")] = torch.tensor(7)
    return out


def _osai_folder(root: Path, context: int = 80, seeds=(10, 11, 12, 13, 14), species: str = "mane") -> Path:
    folder = root / f"openspliceai-{species}" / f"{context}nt"
    folder.mkdir(parents=True)
    key_map = openspliceai_key_map(openspliceai_config(context, 1))
    for s in seeds:
        torch.save(_synthetic(key_map, openspliceai_config(context, 1), s), folder / f"model_{context}nt_rs{s}.pt")
    return folder


@pytest.fixture(scope="module")
def pangolin_files(tmp_path_factory) -> Path:
    """Synthetic final.*.3.v2 files, written once (tests copy them before changing any)."""
    folder = tmp_path_factory.mktemp("pangolin") / "models"
    folder.mkdir()
    config = pangolin_config()
    member = _synthetic(pangolin_key_map(config), config, 0)
    for i, name in enumerate(PANGOLIN_FILES):
        torch.save({k: v + i for k, v in member.items()}, folder / name)  # a different tensor per file
    return folder


@pytest.fixture()
def pangolin_folder(pangolin_files, tmp_path) -> Path:
    return Path(shutil.copytree(pangolin_files, tmp_path / "pangolin" / "models"))


# ------------------------------------------------------------------------------ exact mapping
def test_openspliceai_tensors_land_where_they_belong(tmp_path):
    src = _osai_folder(tmp_path, 400, seeds=(10, 11))
    out = convert_openspliceai(src, tmp_path / "out")
    model = SpliceAIModel.from_pretrained(out)
    source = torch.load(src / "model_400nt_rs11.pt", weights_only=True)
    member = model.members[1]
    assert torch.equal(member.input_skip.weight, source["initial_skip.conv.weight"])
    assert torch.equal(member.stages[1].units[0].norm2.running_var, source["residual_units.5.batchnorm2.running_var"])
    assert torch.equal(member.stages[1].skip.bias, source["residual_units.9.conv.bias"])  # skips count in the index
    assert torch.equal(member.classifier.weight, source["final_conv.weight"])
    report = json.loads((out / "conversion.json").read_text())
    assert report["licence"] == "GPL-3.0" and report["sources"][1]["sha256"] == sha256(src / "model_400nt_rs11.pt")
    assert report["mapping"]["residual_units.9.conv.weight"] == "members.<m>.stages.1.skip.weight"
    assert "num_batches_tracked" in report["ignored"][0]
    # two of the five published seeds: not the published model, so not its name
    assert licence_notice(model) == "weights: OpenSpliceAI 400 nt (GPL-3.0; converted from model_400nt_rs{10..11}.pt)"


def test_pangolin_heads_concatenate_in_order(tmp_path, pangolin_files):
    """conv_last1..8 (2, 1, 2, 1, 2, 1, 2, 1 channels) fill classifier rows 0-1, 2, 3-4, 5, … in order."""
    src = pangolin_files
    model = SpliceAIModel.from_pretrained(convert_pangolin(src, tmp_path / "out"))
    source = torch.load(src / "final.2.4.3.v2", weights_only=True)  # member 7: replicate 2 of tissue group 4 (brain)
    classifier = model.members[PANGOLIN_FILES.index("final.2.4.3.v2")].classifier
    assert PANGOLIN_FILES.index("final.2.4.3.v2") == 7 and model.config.member_tissues[7] == 2
    assert torch.equal(classifier.weight[3:5], source["conv_last3.weight"])
    assert torch.equal(classifier.bias[5:6], source["conv_last4.bias"])
    assert torch.equal(classifier.weight[11:12], source["conv_last8.weight"])
    assert torch.equal(model.members[7].stages[3].skip.weight, source["convs.3.weight"])


# ------------------------------------------------------------------------------ refusals
def test_wrong_folders_are_refused_with_one_line(tmp_path, pangolin_files):
    osai, pangolin = _osai_folder(tmp_path / "a"), pangolin_files
    with pytest.raises(CheckpointError, match=r"no model_<N>nt_rs<seed>\.pt files.*convert pangolin"):
        convert_openspliceai(pangolin, tmp_path / "o1")
    with pytest.raises(CheckpointError, match=r"not a Pangolin models folder.*convert openspliceai"):
        convert_pangolin(osai, tmp_path / "o2")
    with pytest.raises(CheckpointError, match=r"context folders 80nt: pick one"):
        convert_openspliceai(osai.parent, tmp_path / "o3")
    with pytest.raises(NucleoforgeError, match="not a folder"):
        convert_pangolin(osai / "model_80nt_rs10.pt", tmp_path / "o4")


def test_missing_seed_and_missing_pangolin_file(tmp_path, pangolin_folder):
    osai = _osai_folder(tmp_path / "a", seeds=(10, 11, 13, 14))
    with pytest.raises(CheckpointError, match=r"openspliceai-mane-80 is published with seeds rs10-rs14; missing model_80nt_rs12\.pt"):
        convert_openspliceai(osai)
    pangolin = pangolin_folder
    (pangolin / "final.3.6.3.v2").unlink()
    with pytest.raises(CheckpointError, match=r"missing final\.3\.6\.3\.v2; expected all 12"):
        convert_pangolin(pangolin, tmp_path / "o")


def test_a_tensor_of_the_wrong_shape_names_file_and_key(tmp_path):
    osai = _osai_folder(tmp_path, seeds=(10,))
    state = torch.load(osai / "model_80nt_rs10.pt", weights_only=True)
    state["residual_units.2.conv1.weight"] = torch.zeros(32, 32, 21)
    torch.save(state, osai / "model_80nt_rs10.pt")
    with pytest.raises(CheckpointError, match=r"model_80nt_rs10\.pt: residual_units\.2\.conv1\.weight has shape \(32, 32, 21\)"):
        convert_openspliceai(osai, tmp_path / "out")


def test_an_unexpected_key_is_refused(tmp_path, pangolin_folder):
    """An extra tensor: refused, nothing written."""
    pangolin = pangolin_folder
    state = torch.load(pangolin / "final.1.0.3.v2", weights_only=True)
    state["conv_last9.weight"] = torch.zeros(1, 32, 1)
    torch.save(state, pangolin / "final.1.0.3.v2")
    with pytest.raises(CheckpointError, match=r"final\.1\.0\.3\.v2: unexpected tensor\(s\) conv_last9\.weight"):
        convert_pangolin(pangolin, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_pickle_with_objects_is_refused(tmp_path):
    osai = _osai_folder(tmp_path, seeds=(10,))
    state = torch.load(osai / "model_80nt_rs10.pt", weights_only=True)
    torch.save({**state, "args": argparse.Namespace(lr=1e-3)}, osai / "model_80nt_rs10.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"model_80nt_rs10\.pt: the file holds objects other than tensors"):
        convert_openspliceai(osai, tmp_path / "out")


def test_out_is_needed_off_the_published_layout_and_never_overwritten(tmp_path):
    osai = _osai_folder(tmp_path, seeds=(10,))
    renamed = tmp_path / "mine"
    shutil.move(osai, renamed)
    with pytest.raises(NucleoforgeError, match="give OUT"):
        convert_openspliceai(renamed)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    with pytest.raises(NucleoforgeError, match="not an empty folder"):
        convert_openspliceai(renamed, tmp_path / "full")


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "gelu"}, "activation = 'gelu': expected one of relu, leaky_relu"),
    ({"activation_slope": 1.5}, r"activation_slope must be a number in \[0, 1\)"),
    ({"head": "sigmoid"}, "head = 'sigmoid'"),
    ({"weights_family": "keras"}, "weights_family = 'keras'"),
    ({"tissues": ["heart"]}, "belong to head 'pangolin'"),
    ({"head": "pangolin", "num_members": 3, "member_tissues": [0, 1, 2]}, "no member for tissue.*testis"),
    ({"head": "pangolin", "num_members": 4, "member_tissues": [0, 1, 2]}, "for each of the 4 members"),
    ({"head": "pangolin", "num_members": 4, "member_tissues": [0, 1, 2, 3], "calibration_temperatures": [1, 1, 1, 1]},
     "not supported with head 'pangolin'"),
])  # fmt: skip
def test_config_validation(kwargs, message):
    with pytest.raises(NucleoforgeError, match=message):
        SpliceAIConfig(**kwargs)


# ------------------------------------------------------------------------------ named models
def test_unconverted_names_say_which_command_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path))
    with pytest.raises(NucleoforgeError, match=r"pangolin is not converted yet: run `nucleoforge convert pangolin"):
        SpliceAIModel.from_pretrained("pangolin")
    with pytest.raises(NucleoforgeError, match=r"openspliceai-zebrafish-10k is not converted yet.*openspliceai-zebrafish/10000nt"):
        SpliceAIModel.from_pretrained("openspliceai-zebrafish-10k")


def test_cli_named_model_not_converted_is_one_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path))
    line = assert_user_error(run_main(capsys, "splice", "ACGT", "--model", "openspliceai-mane-2k"))
    assert "nucleoforge convert openspliceai" in line


def test_cli_convert_refuses_a_wrong_folder(capsys, tmp_path, pangolin_files):
    src = pangolin_files
    line = assert_user_error(run_main(capsys, "convert", "openspliceai", src, tmp_path / "out"))
    assert "convert pangolin" in line


def test_convert_into_the_cache_then_load_by_name(capsys, tmp_path, monkeypatch):
    """``convert openspliceai SRC`` (OUT omitted) writes the name's cache folder; the name then loads; info says so."""
    src = shared_weights("openspliceai", "openspliceai-mane", "80nt")
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path / "cache"))
    result = run_main(capsys, "convert", "openspliceai", src)
    assert result.code == 0, result.err
    assert "weights: OpenSpliceAI MANE 80 (GPL-3.0; converted from model_80nt_rs{10..14}.pt)" in result.out
    model = SpliceAIModel.from_pretrained("openspliceai-mane-80")
    assert model.config.num_members == 5 and model.config.weights_family == "openspliceai"
    from nucleoforge.cli.lm import named_weights_table

    rows = {row[0]: row for row in named_weights_table()}
    assert rows["openspliceai-mane-80"][2:] == ("GPL-3.0", "yes")
    assert rows["pangolin"][3] == "no: convert pangolin SRC"


def test_cispliceai_converts_on_first_use_then_loads_from_the_cache(tmp_path, monkeypatch):
    """``cispliceai`` calls the wheel converter once (into the cache folder), later loads reuse the folder."""
    import nucleoforge.models.spliceai.convert_cispliceai as cis

    calls = []

    def fake_convert(out, source=None, *, overwrite=False):
        calls.append(Path(out))
        config = SpliceAIConfig(stages=[(1, 3, 1)], channels=4, num_members=2, weights_family="cispliceai",
                                weights_name="CI-SpliceAI", weights_licence="CC BY 4.0", weights_source="CI-SpliceAI.pb")
        SpliceAIModel(config).save_pretrained(out)
        return Path(out)

    monkeypatch.setattr(cis, "convert_cispliceai", fake_convert)
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path))
    first = SpliceAIModel.from_pretrained("cispliceai")
    second = SpliceAIModel.from_pretrained("cispliceai")
    assert len(calls) == 1 and (tmp_path / "cispliceai" / "model.safetensors").is_file()
    assert licence_notice(second) == licence_notice(first) == "weights: CI-SpliceAI (CC BY 4.0; converted from CI-SpliceAI.pb)"


def test_splice_prints_the_licence_once_and_not_with_quiet(capsys, tmp_path):
    config = SpliceAIConfig(stages=[(1, 3, 1)], channels=4, num_members=2, weights_family="openspliceai",
                            weights_name="Tiny OpenSpliceAI", weights_licence="GPL-3.0", weights_source="model_rs{10..11}.pt")
    SpliceAIModel(config).save_pretrained(tmp_path / "tiny")
    notice = "weights: Tiny OpenSpliceAI (GPL-3.0; converted from model_rs{10..11}.pt)"
    result = run_main(capsys, "splice", "ACGTACGTAGGT", "--model", tmp_path / "tiny")
    assert result.code == 0, result.err
    assert [line for line in result.err_lines if line.startswith("weights:")] == [notice]
    quiet = run_main(capsys, "splice", "ACGTACGTAGGT", "--model", tmp_path / "tiny", "-q")
    assert quiet.code == 0 and quiet.err == ""


def test_spliceai_names_carry_their_licence_even_from_an_older_cache(tmp_path, monkeypatch):
    """A cached folder converted before licences were recorded still names CC BY-NC 4.0 when loaded by name."""
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path))
    old = SpliceAIConfig(stages=[(1, 3, 1)], channels=4)  # no weights_name / weights_licence, as before
    SpliceAIModel(old).save_pretrained(tmp_path / "spliceai" / "spliceai-10k-1")
    model = SpliceAIModel.from_pretrained("spliceai-10k-1")
    assert licence_notice(model) == "weights: SpliceAI 10k member 1 (CC BY-NC 4.0)"


def test_splice_writes_a_per_tissue_head_as_tissue_columns(capsys, tmp_path):
    """Pangolin's per-tissue P(splice) is not acceptor/donor: `splice` writes one column per tissue
    (tests/splicing/test_pangolin_consumers.py checks the values)."""
    config = SpliceAIConfig(stages=[(1, 3, 1)], channels=4, num_members=4, head="pangolin", member_tissues=[0, 1, 2, 3])
    SpliceAIModel(config).save_pretrained(tmp_path / "tissues")
    result = run_main(capsys, "splice", "ACGTACGTAGGT", "--model", tmp_path / "tissues", "-q")
    assert result.code == 0 and result.out.splitlines()[0] == "name\tposition\theart\tliver\tbrain\ttestis"
