"""SpliceAI: config, small-model behaviour, strict h5 conversion, parity with the original Keras models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel

from nucleoforge.models.spliceai import (
    SpliceAI,
    SpliceAIConfig,
    SpliceAIModel,
    convert_keras_h5,
    convert_spliceai,
)
from nucleoforge.models.spliceai import convert as convert_module
from nucleoforge.pipelines.splice_predict import predict_sequence

from .test_spliceai_reference import (  # noqa: F401  (pytest fixtures; skip without the wheel, fail under CI=true)
    golden,
    golden_inputs,
    keras_forward,
    random_keras_weights,
    spliceai_10k,
    wheel_h5_files,
    write_keras_h5,
)


TINY_STAGES = [(2, 3, 1), (1, 5, 2)]  # context 2*2*2*1 + 1*2*4*2 = 24


def tiny_config(**kwargs) -> SpliceAIConfig:
    return SpliceAIConfig(**{"stages": TINY_STAGES, "channels": 6, "num_members": 2, **kwargs})


def tiny_model(seed: int = 0, **kwargs) -> SpliceAIModel:
    """A tiny model with random (non-trivial) BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = SpliceAIModel(tiny_config(**kwargs))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
                module.running_mean.normal_(0, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def random_onehot(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.one_hot(torch.randint(0, 5, (batch, length), generator=g), 5)[..., :4]
    return x.float()  # index 4 -> all-zero row (N)


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("variant", "context", "stages"),
    [("spliceai-80", 80, 1), ("spliceai-400", 400, 2), ("spliceai-2k", 2000, 3), ("spliceai-10k", 10000, 4)],
)
def test_variant_context_is_derived(variant: str, context: int, stages: int) -> None:
    config = SpliceAIConfig.from_variant(variant)
    assert config.context == context and config.flank == context // 2
    assert len(config.stages) == stages and config.stages[-1] == [(4, 11, 1), (4, 11, 4), (4, 21, 10), (4, 41, 25)][stages - 1]
    assert config.channels == 32 and config.batch_norm_eps == 1e-3
    assert config.id2label == {0: "neither", 1: "acceptor", 2: "donor"}


def test_context_of_custom_stages() -> None:
    assert tiny_config().context == 24
    assert SpliceAIConfig(stages=[[3, 7, 5]]).context == 3 * 2 * 6 * 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stages": [(4, 10, 1)]}, "kernel_size must be odd, got 10"),
        ({"stages": [(0, 11, 1)]}, "num_blocks must be positive, got 0"),
        ({"stages": [(4, 11, -2)]}, "dilation must be positive, got -2"),
        ({"stages": [(4, 11)]}, "stages[0] = (4, 11)"),
        ({"stages": []}, "stages is empty"),
        ({"channels": 0}, "channels must be a positive integer, got 0"),
        ({"num_members": 0}, "num_members must be a positive integer, got 0"),
        ({"batch_norm_eps": 0.0}, "batch_norm_eps must be positive, got 0.0"),
    ],
)
def test_config_validation_names_the_bad_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        SpliceAIConfig(**kwargs)
    assert message in str(info.value)


def test_unknown_variant() -> None:
    with pytest.raises(ValueError, match="spliceai-5k"):
        SpliceAIConfig.from_variant("spliceai-5k")


def test_config_json_round_trip(tmp_path) -> None:
    tiny_config().save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is SpliceAIConfig
    assert loaded.stages == TINY_STAGES and loaded.num_members == 2 and loaded.context == 24


# --------------------------------------------------------------------------- small model
def test_forward_shapes_and_probabilities() -> None:
    model = tiny_model()
    out = model(random_onehot(3, 50 + 24), output_members=True)
    assert out.probabilities.shape == (3, 50, 3)
    assert out.member_logits.shape == (3, 2, 50, 3) and out.member_probabilities.shape == (3, 2, 50, 3)
    torch.testing.assert_close(out.probabilities.sum(-1), torch.ones(3, 50))
    torch.testing.assert_close(out.probabilities, out.member_probabilities.mean(1))
    assert model(random_onehot(1, 25)).probabilities.shape == (1, 1, 3)
    assert model(random_onehot(1, 25)).member_logits is None
    assert SpliceAI is SpliceAIModel


def test_input_validation() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match="length 24 is too short.*24-nt context"):
        model(random_onehot(1, 24))
    with pytest.raises(ValueError, match=r"one-hot \(batch, length, 4\), got shape \(1, 30, 5\)"):
        model(torch.zeros(1, 30, 5))


def test_fused_eval_path_equals_member_modules() -> None:
    model = tiny_model()
    x = random_onehot(2, 80)
    fused = model(x, output_members=True)
    plain = model(x, output_members=True, use_fused=False)
    torch.testing.assert_close(fused.member_logits, plain.member_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fused.probabilities, plain.probabilities, atol=1e-6, rtol=1e-5)
    model.train()
    with pytest.raises(ValueError, match="needs eval mode"):
        model(x, use_fused=True)


def test_valid_convolutions_equal_keras_same_padding_and_crop() -> None:
    """Unpadded convs give what the original ('same' padding everywhere, crop at the end) gives."""
    rng = np.random.default_rng(0)
    weights = random_keras_weights(TINY_STAGES, 6, rng)
    config = tiny_config(num_members=1)
    model = SpliceAIModel(config).eval()
    model.load_state_dict(convert_keras_h5_dict([weights], config))
    x = random_onehot(1, 70, seed=3)
    expected = keras_forward(weights, TINY_STAGES, x[0].numpy())
    got = model(x).probabilities[0].detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_save_load_round_trip(tmp_path) -> None:
    model = tiny_model()
    x = random_onehot(2, 60)
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert type(loaded) is SpliceAIModel and not loaded.training
    loaded_direct = SpliceAIModel.from_pretrained(tmp_path)
    with torch.no_grad():
        expected = model(x).probabilities
        torch.testing.assert_close(loaded(x).probabilities, expected, atol=1e-6, rtol=0)
        torch.testing.assert_close(loaded_direct(x).probabilities, expected, atol=1e-6, rtol=0)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, atol=0, rtol=0)


def test_determinism() -> None:
    model = tiny_model()
    x = random_onehot(2, 60)
    torch.testing.assert_close(model(x).probabilities, model(x).probabilities, atol=0, rtol=0)
    torch.testing.assert_close(tiny_model(seed=0)(x).probabilities, model(x).probabilities, atol=0, rtol=0)


def test_gradients_reach_every_parameter() -> None:
    model = tiny_model().train()
    x = random_onehot(2, 60)
    labels = torch.randint(0, 3, (2, 36), generator=torch.Generator().manual_seed(1))
    labels[0, :5] = -100
    out = model(x, labels=labels)
    expected = torch.nn.functional.nll_loss(torch.log(out.probabilities).reshape(-1, 3), labels.reshape(-1))
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_gradients_in_eval_mode_through_fused_path() -> None:
    """Attribution in eval mode: the fused path is differentiable w.r.t. input and weights."""
    model = tiny_model()
    x = random_onehot(1, 40).requires_grad_(True)
    model(x).probabilities[..., 1].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


# --------------------------------------------------------------------------- conversion (strict)
def convert_keras_h5_dict(weight_dicts: list[dict], config: SpliceAIConfig, tmp_dir=None) -> dict:
    """Write each weight dict as a Keras h5 file and convert them."""
    import tempfile
    from pathlib import Path

    tmp = Path(tmp_dir or tempfile.mkdtemp())
    paths = []
    for i, w in enumerate(weight_dicts):
        write_keras_h5(tmp / f"m{i}.h5", w)
        paths.append(tmp / f"m{i}.h5")
    return convert_keras_h5(paths, config)


def test_conversion_of_keras_h5_matches_keras_semantics(tmp_path) -> None:
    rng = np.random.default_rng(1)
    weights = [random_keras_weights(TINY_STAGES, 6, rng) for _ in range(2)]
    config = tiny_config()
    model = SpliceAIModel(config).eval()
    model.load_state_dict(convert_keras_h5_dict(weights, config, tmp_path), strict=True)
    x = random_onehot(1, 64, seed=5)
    out = model(x, output_members=True)
    for m in range(2):
        expected = keras_forward(weights[m], TINY_STAGES, x[0].numpy())
        np.testing.assert_allclose(out.member_probabilities[0, m].detach().numpy(), expected, atol=1e-5, rtol=0)


def test_conversion_missing_dataset_is_an_error(tmp_path) -> None:
    weights = random_keras_weights(TINY_STAGES, 6, np.random.default_rng(2))
    del weights["batch_normalization_3/moving_variance:0"]
    with pytest.raises(ValueError) as info:
        convert_keras_h5_dict([weights], tiny_config(num_members=1), tmp_path)
    message = str(info.value)
    assert "m0.h5" in message
    assert "batch_normalization_3/moving_variance:0 (for members.0.stages.0.units.1.norm1.running_var)" in message
    assert "unused datasets []" in message


def test_conversion_extra_dataset_is_an_error(tmp_path) -> None:
    weights = random_keras_weights(TINY_STAGES, 6, np.random.default_rng(3))
    weights["conv1d_99/kernel:0"] = np.zeros((1, 6, 6), np.float32)
    with pytest.raises(ValueError, match=r"unused datasets \['conv1d_99/kernel:0'\]"):
        convert_keras_h5_dict([weights], tiny_config(num_members=1), tmp_path)


def test_conversion_wrong_architecture_is_an_error(tmp_path) -> None:
    weights = random_keras_weights(TINY_STAGES, 6, np.random.default_rng(4))
    with pytest.raises(ValueError, match=r"conv1d_3/kernel:0 has shape \(3, 6, 6\).*\(6, 6, 5\)"):
        convert_keras_h5_dict([weights], tiny_config(num_members=1, stages=[(2, 5, 1), (1, 5, 2)]), tmp_path)
    with pytest.raises(ValueError, match="num_members = 2 but 1 h5 files"):
        convert_keras_h5_dict([weights], tiny_config(num_members=2), tmp_path)


def test_convert_spliceai_writes_folder_with_licence(tmp_path) -> None:
    rng = np.random.default_rng(5)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        write_keras_h5(src / f"spliceai{i + 1}.h5", random_keras_weights(TINY_STAGES, 6, rng))
    dst = convert_spliceai(tmp_path / "out", src, config=tiny_config())
    assert sorted(p.name for p in dst.iterdir()) == ["LICENSE", "config.json", "model.safetensors"]
    assert "CC BY-NC 4.0" in (dst / "LICENSE").read_text()
    model = AutoModel.from_pretrained(dst)
    assert model.config.num_members == 2 and model.config.stages == TINY_STAGES


def test_cli_convert_spliceai(tmp_path) -> None:
    from tests.cli.runner import assert_user_error, invoke

    rng = np.random.default_rng(6)
    weights = random_keras_weights(SpliceAIConfig.from_variant("spliceai-80").stages, 32, rng)
    write_keras_h5(tmp_path / "a.h5", weights)
    # A single SpliceAI-80-shaped file does not fit the default 10k architecture: clear error, exit 2 (a user error).
    line = assert_user_error(invoke(["convert", "spliceai", tmp_path / "a.h5", tmp_path / "out"]))
    assert line == (f"error: {tmp_path}/a.h5: conv1d_12/kernel:0 has shape (1, 32, 3), which does not fit "
                    "members.0.stages.1.units.0.conv1.weight of shape (32, 32, 11) (config stages [(4, 11, 1), "
                    "(4, 11, 4), (4, 21, 10), (4, 41, 25)], channels 32)")
    line = assert_user_error(invoke(["convert", "spliceai", tmp_path / "nope", tmp_path / "out"]))
    assert line == f"error: {tmp_path}/nope: no such file or folder"


# --------------------------------------------------------------------------- the published weights
def test_cli_convert_spliceai_from_the_installed_wheel(tmp_path, spliceai_10k) -> None:
    from tests.cli.runner import invoke

    result = invoke(["convert", "spliceai", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    assert "CC BY-NC 4.0" in result.output
    model = AutoModel.from_pretrained(tmp_path / "out")
    assert model.config.num_members == 5 and model.config.context == 10_000
    expected = spliceai_10k.state_dict()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[key], atol=0, rtol=0)


def test_wheel_conversion_is_complete(wheel_h5_files) -> None:
    state = convert_keras_h5(wheel_h5_files[:1])
    n_numbers = sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert n_numbers == 698_787  # every weight array of the Keras file (206 arrays)
    assert sum(not k.endswith("num_batches_tracked") for k in state) == 206


@pytest.fixture(scope="module")
def ours_on_golden(spliceai_10k, chr22_block, golden) -> dict[str, np.ndarray]:
    """Our outputs on the fixture windows, shaped like the golden arrays (windows, strands, L, 3)."""
    _, x = golden_inputs(chr22_block, golden)
    with torch.inference_mode():
        plus = spliceai_10k(torch.from_numpy(x), output_members=True)
        minus = spliceai_10k(torch.from_numpy(x[:, ::-1, ::-1].copy()), output_members=True)
    out = {"ensemble": np.stack([plus.probabilities.numpy(), minus.probabilities.flip(1).numpy()], 1)}
    for m in range(5):
        out[f"member{m + 1}"] = np.stack(
            [plus.member_probabilities[:, m].numpy(), minus.member_probabilities[:, m].flip(1).numpy()], 1
        )
    return out


def test_golden_parity_per_member_and_ensemble(ours_on_golden, golden) -> None:
    """Our probabilities equal the original Keras models' on real chr22 windows, both strands."""
    for name in ["member1", "member2", "member3", "member4", "member5", "ensemble"]:
        assert ours_on_golden[name].shape == golden[name].shape == (4, 2, 200, 3)
        np.testing.assert_allclose(ours_on_golden[name], golden[name], atol=1e-5, rtol=0, err_msg=name)
    assert golden["info"]["windows"][2]["n_count"] > 0  # one window reaches into the N gap


def test_golden_parity_through_predict_sequence(spliceai_10k, chr22_block, golden) -> None:
    """predict_sequence's minus strand reproduces the original's '-' gene path (rc in, flip out)."""
    seqs, _ = golden_inputs(chr22_block, golden)
    flank = golden["info"]["flank"]
    probs = predict_sequence(spliceai_10k, seqs[1], strand="-")[flank:-flank]
    np.testing.assert_allclose(probs, golden["ensemble"][1, 1], atol=1e-5, rtol=0)


def test_splice_sites_on_the_gene_strand(ours_on_golden, golden) -> None:
    """Domain check on real genes: each strand's prediction finds that strand's exon boundaries.

    TANGO2 is a plus-strand gene (acceptor = exon's first base, donor = its last); TRMT2A and
    KLHL22 are minus-strand genes (acceptor = the exon's higher coordinate, donor = its lower).
    The other strand's prediction sees nothing there: the model is not strand-symmetric.
    """
    info = golden["info"]
    # window -> (gene strand, exon first base, exon last base), 1-based GRCh37 (the wheel's GENCODE table)
    exons = {0: ("+", 20_024_283, 20_024_377), 1: ("-", 20_100_434, 20_100_530), 3: ("-", 20_812_095, 20_812_287)}
    for w, (strand, first, last) in exons.items():
        start = info["windows"][w]["start"]
        on = ours_on_golden["ensemble"][w, "+-".index(strand)]
        off = ours_on_golden["ensemble"][w, "-+".index(strand)]
        acceptor, donor = (first, last) if strand == "+" else (last, first)
        assert start + int(on[:, 1].argmax()) == acceptor and on[:, 1].max() > 0.9
        assert start + int(on[:, 2].argmax()) == donor and on[:, 2].max() > 0.9
        assert off[:, 1:].max() < 0.01


def test_from_pretrained_converts_once_into_the_cache(tmp_path, monkeypatch, wheel_h5_files, chr22_block, golden):
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path))
    model = SpliceAIModel.from_pretrained("spliceai-10k-2")
    folder = tmp_path / "spliceai" / "spliceai-10k-2"
    assert sorted(p.name for p in folder.iterdir()) == ["LICENSE", "config.json", "model.safetensors"]
    assert "CC BY-NC 4.0" in (folder / "LICENSE").read_text() and "spliceai2.h5" in (folder / "LICENSE").read_text()
    assert model.config.num_members == 1 and not model.training
    _, x = golden_inputs(chr22_block, golden)
    with torch.inference_mode():
        probs = model(torch.from_numpy(x[:1])).probabilities.numpy()
    np.testing.assert_allclose(probs, golden["member2"][:1, 0], atol=1e-5, rtol=0)

    # Second use: from the cache, even without the wheel.
    def no_wheel():
        raise FileNotFoundError("wheel gone")

    monkeypatch.setattr(convert_module, "find_spliceai_wheel_files", no_wheel)
    again = AutoModel.from_pretrained(str(folder))
    assert type(again) is SpliceAIModel
    assert SpliceAIModel.from_pretrained("spliceai-10k-2").config.num_members == 1


def test_missing_wheel_error_says_how_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path))
    monkeypatch.setattr(convert_module.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(
        convert_module.importlib.metadata, "distribution",
        lambda name: (_ for _ in ()).throw(convert_module.importlib.metadata.PackageNotFoundError(name)),
    )
    with pytest.raises(FileNotFoundError, match=r"spliceai-10k is not in the cache.*pip install --no-deps spliceai==1\.3\.1"):
        SpliceAIModel.from_pretrained("spliceai-10k")


def test_inference_fast_path_equals_member_modules() -> None:
    """Under no_grad the fused path runs its element-wise steps in place: same numbers."""
    model = tiny_model()
    x = random_onehot(2, 90, seed=4)
    with torch.no_grad():
        plain = model(x, output_members=True, use_fused=False)
    with torch.inference_mode():
        fast = model(x, output_members=True)
        again = model(x, output_members=True)  # from the cached stacked weights
    torch.testing.assert_close(fast.member_logits, plain.member_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(again.member_logits, fast.member_logits, atol=0, rtol=0)
    with torch.no_grad():  # stacked weights cached under inference_mode also serve no_grad calls
        torch.testing.assert_close(model(x).probabilities, fast.probabilities, atol=0, rtol=0)


def test_fused_weight_cache_follows_weight_changes() -> None:
    model = tiny_model()
    x = random_onehot(1, 60, seed=2)
    with torch.no_grad():
        before = model(x).probabilities.clone()
        model.members[1].stages[1].units[0].conv2.weight.mul_(-2.0)
        model.members[0].stages[0].units[1].norm2.running_var.mul_(3.0)
        after = model(x).probabilities
        reference = model(x, use_fused=False).probabilities
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, reference, atol=1e-6, rtol=1e-5)
