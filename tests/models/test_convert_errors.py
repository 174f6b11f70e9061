"""``nucleoforge convert`` refuses what it cannot convert faithfully, with errors naming the file and the fix.

Small models (2 layers × 64 hidden, original vocabularies and positions) keep these fast.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.io.checkpoints import CheckpointError
from nucleoforge.models.bert.convert import ConversionError
from nucleoforge.models.rnaernie.convert import convert_rnaernie
from nucleoforge.models.splicebert.convert import convert_splicebert
from nucleoforge.models.utrbert.convert import convert_utrbert
from tests.models.test_convert import (
    REDUCED,
    SPLICEBERT_1024,
    SPLICEBERT_VOCAB,
    cli,
    hf_bert,
    hf_ernie,
    utrbert_vocab,
    write_hf_original,
    write_rnaernie_original,
)


@pytest.fixture(scope="module")
def splicebert_model():
    return hf_bert({**SPLICEBERT_1024, **REDUCED, "max_position_embeddings": 512})


@pytest.fixture
def splicebert_src(tmp_path: Path, splicebert_model) -> Path:
    return write_hf_original(tmp_path / "SpliceBERT.510nt", splicebert_model, SPLICEBERT_VOCAB, position_ids=True,
                             pooler=False, decoder_bias=True)  # fmt: skip


@pytest.fixture
def utrbert_src(tmp_path: Path) -> Path:
    model = hf_bert({**SPLICEBERT_1024, **REDUCED, "vocab_size": 69, "max_position_embeddings": 512})
    return write_hf_original(tmp_path / "3-new-12w-0", model, utrbert_vocab(3), position_ids=False, pooler=True,
                             decoder_bias=False)  # fmt: skip


@pytest.fixture
def rnaernie_src(tmp_path: Path) -> Path:
    return write_rnaernie_original(tmp_path / "checkpoint_final", hf_ernie())


def _state(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "pytorch_model.bin", weights_only=True)


# ------------------------------------------------------------------------------ wrong model for the folder
def test_utrbert_command_on_splicebert_folder(splicebert_src: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"not a 3UTRBERT config .*vocab_size 10.*looks like a SpliceBERT checkpoint"):
        convert_utrbert(splicebert_src, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written on failure


def test_splicebert_command_on_utrbert_folder(utrbert_src: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"not a SpliceBERT config .*looks like a 3UTRBERT 3-mer checkpoint"):
        convert_splicebert(utrbert_src, tmp_path / "out")


def test_splicebert_command_on_paddle_folder(rnaernie_src: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"no config.json.*PaddlePaddle checkpoint.*convert rnaernie"):
        convert_splicebert(rnaernie_src, tmp_path / "out")


def test_rnaernie_command_on_hf_folder(splicebert_src: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"no model_state.pdparams.*SpliceBERT checkpoint"):
        convert_rnaernie(splicebert_src, tmp_path / "out")


def test_converted_folder_is_not_an_original(splicebert_src: Path, tmp_path: Path) -> None:
    convert_splicebert(splicebert_src, tmp_path / "ours")
    with pytest.raises(ConversionError, match=r"already converted nucleoforge folder"):
        convert_splicebert(tmp_path / "ours", tmp_path / "again")


def test_rnaernie_without_mlm_head_class(rnaernie_src: Path, tmp_path: Path) -> None:
    config = json.loads((rnaernie_src / "model_config.json").read_text())
    config["init_class"] = "ErnieForSequenceClassification"
    (rnaernie_src / "model_config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match=r"ErnieForSequenceClassification, which has no masked-LM head"):
        convert_rnaernie(rnaernie_src, tmp_path / "out")


# ------------------------------------------------------------------------------ weights
def test_truncated_bin(splicebert_src: Path, tmp_path: Path) -> None:
    path = splicebert_src / "pytorch_model.bin"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    result = cli("convert", "splicebert", splicebert_src, tmp_path / "out", ok=False)
    assert result.exit_code == 2  # a user error
    assert f"error: {path}: not a readable PyTorch state dict (truncated or corrupt?)" in result.output


def test_corrupt_pdparams(rnaernie_src: Path, tmp_path: Path) -> None:
    path = rnaernie_src / "model_state.pdparams"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"model_state.pdparams: not a readable Paddle state dict \(truncated or corrupt"):
        convert_rnaernie(rnaernie_src, tmp_path / "out")


def test_missing_and_unexpected_keys_listed_together(splicebert_src: Path, tmp_path: Path) -> None:
    state = _state(splicebert_src)
    del state["bert.encoder.layer.1.output.dense.weight"]
    state["bert.encoder.layer.1.adapter.weight"] = torch.zeros(3)
    torch.save(state, splicebert_src / "pytorch_model.bin")
    with pytest.raises(ConversionError) as info:
        convert_splicebert(splicebert_src, tmp_path / "out")
    message = str(info.value)
    assert "missing (no source tensor): ['bert.layers.1.output.weight']" in message
    assert "unexpected (no such parameter): ['bert.encoder.layer.1.adapter.weight (matches no rule)']" in message


def test_shape_mismatch_names_the_key(splicebert_src: Path, tmp_path: Path) -> None:
    state = _state(splicebert_src)
    state["bert.encoder.layer.0.intermediate.dense.weight"] = torch.zeros(96, 64)
    torch.save(state, splicebert_src / "pytorch_model.bin")
    with pytest.raises(ConversionError, match=(
        r"shape mismatch for bert.layers.0.intermediate.weight \(source 'bert.encoder.layer.0.intermediate.dense.weight'\): "
        r"checkpoint \(96, 64\), model \(128, 64\)"
    )):  # fmt: skip
        convert_splicebert(splicebert_src, tmp_path / "out")


def test_untied_decoder_is_refused(splicebert_src: Path, tmp_path: Path) -> None:
    state = _state(splicebert_src)
    state["cls.predictions.decoder.weight"] = state["cls.predictions.decoder.weight"] + 1.0
    torch.save(state, splicebert_src / "pytorch_model.bin")
    with pytest.raises(ConversionError, match=r"should be the same tied tensor but differ"):
        convert_splicebert(splicebert_src, tmp_path / "out")


def test_conflicting_duplicates_are_refused(rnaernie_src: Path, tmp_path: Path) -> None:
    from nucleoforge.io.checkpoints import load_paddle_state_dict, save_paddle_state_dict

    state = load_paddle_state_dict(rnaernie_src / "model_state.pdparams")
    state["cls.predictions.decoder.bias"] = state["cls.predictions.decoder_bias"] + 1.0  # PaddleNLP >= 2.5 alias
    save_paddle_state_dict(state, rnaernie_src / "model_state.pdparams")
    with pytest.raises(ConversionError, match=r"both map to 'lm_head.bias' but hold different values"):
        convert_rnaernie(rnaernie_src, tmp_path / "out")


def test_task_type_embedding_is_refused(rnaernie_src: Path, tmp_path: Path) -> None:
    config = json.loads((rnaernie_src / "model_config.json").read_text())
    config["init_args"][0]["use_task_id"] = True
    (rnaernie_src / "model_config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match=r"use_task_id is true"):
        convert_rnaernie(rnaernie_src, tmp_path / "out")


# ------------------------------------------------------------------------------ vocabulary
def test_missing_vocab(splicebert_src: Path, tmp_path: Path) -> None:
    (splicebert_src / "vocab.txt").unlink()
    with pytest.raises(ConversionError, match=r"no vocab.txt"):
        convert_splicebert(splicebert_src, tmp_path / "out")


def test_rnaernie_missing_vocab_says_where_it_is(rnaernie_src: Path, tmp_path: Path) -> None:
    vocab = rnaernie_src / "vocab_1MER.txt"
    vocab.rename(tmp_path / "elsewhere.txt")
    with pytest.raises(ConversionError, match=r"no vocabulary file .*data/vocab/vocab_1MER.txt.*--vocab"):
        convert_rnaernie(rnaernie_src, tmp_path / "out")
    convert_rnaernie(rnaernie_src, tmp_path / "out", vocab=tmp_path / "elsewhere.txt")  # passed explicitly: fine


def test_vocab_in_another_order(splicebert_src: Path, tmp_path: Path) -> None:
    tokens = list(SPLICEBERT_VOCAB)
    tokens[6], tokens[9] = tokens[9], tokens[6]  # A <-> T
    (splicebert_src / "vocab.txt").write_text("\n".join(tokens) + "\n")
    with pytest.raises(ConversionError, match=r"another order — line 7 \(id 6\) is 'T'.*has 'A' there"):
        convert_splicebert(splicebert_src, tmp_path / "out")


def test_utrbert_vocab_in_dna_alphabet(utrbert_src: Path, tmp_path: Path) -> None:
    tokens = utrbert_vocab(3)[:5] + [t.replace("U", "T") for t in utrbert_vocab(3)[5:]]  # DNA letters: not 3UTRBERT's
    (utrbert_src / "vocab.txt").write_text("\n".join(tokens) + "\n")
    with pytest.raises(ConversionError, match=r"line 7 \(id 6\) is 'AAT', expected 'AAU'"):
        convert_utrbert(utrbert_src, tmp_path / "out")


# ------------------------------------------------------------------------------ sources and destinations
def test_hub_id_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = cli("convert", "splicebert", "chenkenbio/SpliceBERT", "out", ok=False)
    assert result.exit_code == 2  # a user error
    assert "error: 'chenkenbio/SpliceBERT' is not a local folder" in result.output
    assert "never downloads (and does not fall back to default weights)" in result.output
    assert "zenodo" in result.output.lower()
    assert not (tmp_path / "out").exists()


def test_missing_local_path(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"no such folder"):
        convert_utrbert(tmp_path / "nope" / "3-new-12w-0", tmp_path / "out")


def test_variant_must_match_positions(splicebert_src: Path, tmp_path: Path) -> None:
    result = cli("convert", "splicebert", splicebert_src, tmp_path / "out", "--variant", "splicebert", ok=False)
    assert "variant 'splicebert' has 1026 positions but the checkpoint's config has max_position_embeddings=512" in result.output


def test_destination_not_overwritten_without_force(splicebert_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ConversionError, match=r"not empty .*--force"):
        convert_splicebert(splicebert_src, out)
    cli("convert", "splicebert", splicebert_src, out, "--force")
    assert (out / "keep.txt").read_text() == "x" and (out / "model.safetensors").is_file()


def test_export_refuses_other_model_type(splicebert_src: Path, tmp_path: Path) -> None:
    convert_splicebert(splicebert_src, tmp_path / "ours")
    result = cli("export", "rnaernie", tmp_path / "ours", tmp_path / "x", ok=False)
    assert "holds a 'splicebert' model, not 'rnaernie'" in result.output


def test_pickled_code_in_pdparams_is_refused_by_convert(rnaernie_src: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(rnaernie_src / "model_state.pdparams", "wb") as fh:
        pickle.dump({"ernie.embeddings.word_embeddings.weight": np.zeros((39, 64), np.float32), "x": Payload()}, fh)
    result = cli("convert", "rnaernie", rnaernie_src, tmp_path / "out", ok=False)
    assert f"{rnaernie_src / 'model_state.pdparams'}: the pickle asks for {os.system.__module__}.system" in result.output
    assert "refusing to load it" in result.output
    assert not marker.exists()


def test_a_config_that_is_not_utf8_is_one_user_error(splicebert_src: Path, tmp_path: Path) -> None:
    """A Latin-1 config.json (e.g. saved by an editor) is a user error naming the file, not an internal one."""
    config = splicebert_src / "config.json"
    config.write_bytes(config.read_bytes().replace(b'"bert"', '"bért"'.encode("latin-1")))
    result = cli("convert", "splicebert", str(splicebert_src), str(tmp_path / "out"), ok=False)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines == [f"error: {config}: not UTF-8 text (byte 0xe9 at offset {config.read_bytes().index(0xE9)})"]
    assert not (tmp_path / "out").exists()
