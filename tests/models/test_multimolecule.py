"""MultiMolecule's checkpoint format read as it is (issue 24, part 1).

Fixtures: tiny random-weight checkpoints written by the real ``multimolecule==0.2.2`` and its
own outputs (tests/fixtures/multimolecule, recipe in tests/fixtures/README.md). nucleoforge must
give the same logits (1e-5), the same fill-mask probabilities and the same token ids, keep the
vocabulary as it is, and refuse a checkpoint that does not fill every encoder parameter.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer, pipeline

import nucleoforge  # noqa: F401  (registers the families and RnaTokenizer)
from nucleoforge.io.checkpoints import CheckpointError
from nucleoforge.models.rnaernie import RnaErnieForMaskedLM
from nucleoforge.models.splicebert import SpliceBertForMaskedLM, SpliceBertForSequencePrediction, SpliceBertModel
from nucleoforge.models.utrbert import UtrBertForMaskedLM
from nucleoforge.tokenization.tokenizer import RnaTokenizer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "multimolecule"
FAMILIES = {"splicebert": SpliceBertForMaskedLM, "utrbert_3mer": UtrBertForMaskedLM, "rnaernie": RnaErnieForMaskedLM}

pytestmark = pytest.mark.usefixtures("one_thread")


def expected(family: str, name: str) -> np.ndarray:
    return np.load(FIX / family / "expected" / f"{name}.npy")


def batch(family: str) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(expected(family, "batch_input_ids")), torch.from_numpy(expected(family, "batch_attention_mask"))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_auto_masked_lm_gives_multimolecules_logits(family):
    model = AutoModelForMaskedLM.from_pretrained(FIX / family / "checkpoint")
    assert type(model) is FAMILIES[family]
    ids, mask = batch(family)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.numpy()
    want = expected(family, "batch_logits")
    assert logits.shape == want.shape  # the checkpoint's own vocabulary, not re-indexed
    inside = mask.numpy().astype(bool)
    np.testing.assert_allclose(logits[inside], want[inside], atol=1e-5, rtol=0)
    assert model.config.vocab_size == want.shape[-1] and model.config.source_format == "multimolecule"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tokenizer_gives_multimolecules_ids(family):
    tok = AutoTokenizer.from_pretrained(FIX / family / "checkpoint")
    assert isinstance(tok, RnaTokenizer)
    sequences = json.loads((FIX / family / "expected" / "inputs.json").read_text())["sequences"]
    enc = tok(sequences, padding=True, return_tensors="np")
    np.testing.assert_array_equal(enc["input_ids"], expected(family, "batch_input_ids"))
    np.testing.assert_array_equal(enc["attention_mask"], expected(family, "batch_attention_mask"))
    vocab = (FIX / family / "checkpoint" / "vocab.txt").read_text().split("\n")
    assert tok.convert_ids_to_tokens(list(range(len(vocab)))) == vocab


def test_bare_encoder_gives_multimolecules_hidden_states():
    model = SpliceBertModel.from_pretrained(FIX / "splicebert" / "checkpoint")
    ids = torch.from_numpy(expected("splicebert", "single0_input_ids"))
    with torch.no_grad():
        hidden = model(input_ids=ids).last_hidden_state.numpy()
    np.testing.assert_allclose(hidden, expected("splicebert", "single0_last_hidden_state"), atol=1e-5, rtol=0)
    # MultiMolecule's SpliceBERT checkpoints have no pooler: it starts new, as in MultiMolecule
    assert model.loaded_new_modules == ["pooler"]


@pytest.mark.parametrize("family", ["splicebert", "rnaernie"])
def test_fill_mask_probabilities_equal_multimolecules(family):
    run = json.loads((FIX / family / "expected" / "fill_mask.json").read_text())["main"]
    folder = str(FIX / family / "checkpoint")
    unmasker = pipeline("fill-mask", model=folder, tokenizer=folder)
    everything = [d["token_str"] for d in run["top_k_all"]]  # by default only nucleotides are ranked
    ours = unmasker(run["input"], top_k=len(everything), targets=everything)
    want = {d["token"]: d["score"] for d in run["top_k_all"]}
    got = {d["token"]: d["score"] for d in ours}
    assert set(got) == set(want)
    assert max(abs(got[t] - want[t]) for t in want) < 1e-6
    # transformers' own fill-mask task ranks the nucleotides only, with the same probabilities
    default = unmasker(run["input"])
    assert [d["token_str"] for d in default] == sorted("ACGU", key=lambda t: -want[unmasker.tokenizer.convert_tokens_to_ids(t)])
    assert all(abs(d["score"] - want[d["token"]]) < 1e-6 for d in default)


def test_new_task_head_on_a_multimolecule_encoder_starts_new_and_the_encoder_is_kept():
    folder = FIX / "splicebert" / "checkpoint"
    model = SpliceBertForSequencePrediction.from_pretrained(folder, num_labels=3)
    assert model.config.num_labels == 3 and sorted(model.loaded_new_modules) == ["bert.pooler", "head"]
    state = load_file(folder / "model.safetensors")
    torch.testing.assert_close(model.bert.embeddings.word_embeddings.weight, state["model.embeddings.word_embeddings.weight"])


def _copy(tmp_path: Path, family: str = "splicebert") -> Path:
    out = tmp_path / family
    shutil.copytree(FIX / family / "checkpoint", out)
    return out


def test_a_missing_encoder_weight_is_an_error_not_a_random_model(tmp_path):
    folder = _copy(tmp_path)
    state = load_file(folder / "model.safetensors")
    del state["model.encoder.layer.1.output.dense.weight"]
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"1 missing \(bert\.layers\.1\.output\.weight\)"):
        AutoModelForMaskedLM.from_pretrained(folder)


def test_an_unknown_weight_is_an_error(tmp_path):
    folder = _copy(tmp_path)
    state = load_file(folder / "model.safetensors")
    state["model.encoder.layer.0.extra.weight"] = torch.zeros(2)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.encoder\.layer\.0\.extra\.weight"):
        SpliceBertForMaskedLM.from_pretrained(folder)


def test_a_fine_tuned_multimolecule_head_is_refused_by_name(tmp_path):
    folder = _copy(tmp_path)
    state = load_file(folder / "model.safetensors")
    state["token_head.decoder.weight"] = torch.zeros(1, 32)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="its own token_head"):
        AutoModel.from_pretrained(folder)


def test_another_familys_folder_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="MultiMolecule 'utrbert' model, not a 'splicebert' model"):
        SpliceBertForMaskedLM.from_pretrained(FIX / "utrbert_3mer" / "checkpoint")


def test_our_own_folder_missing_an_encoder_weight_is_refused_through_the_auto_class(tmp_path):
    model = AutoModelForMaskedLM.from_pretrained(FIX / "splicebert" / "checkpoint")
    ours = tmp_path / "ours"
    model.save_pretrained(ours)
    reloaded = AutoModelForMaskedLM.from_pretrained(ours)  # our own format round-trips
    torch.testing.assert_close(reloaded.lm_head.bias, model.lm_head.bias)
    state = load_file(ours / "model.safetensors")
    del state["bert.layers.0.attention.query.weight"]
    save_file(state, ours / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="missing"):
        AutoModelForMaskedLM.from_pretrained(ours)


def test_original_release_converted_by_multimolecule_and_by_nucleoforge_agree(tmp_path):
    """One random original-format SpliceBERT: MultiMolecule's converter (fixture) and ours give
    the same logits once MultiMolecule's re-indexed vocabulary is mapped back."""
    from nucleoforge.models.splicebert.convert import convert_splicebert

    src = FIX / "splicebert_original"
    meta = json.loads((src / "expected" / "meta.json").read_text())
    old_to_new = meta["old_to_new_index"]
    ours_dir = tmp_path / "ours"
    convert_splicebert(src / "original", ours_dir)
    ours = SpliceBertForMaskedLM.from_pretrained(ours_dir)
    theirs = SpliceBertForMaskedLM.from_pretrained(src / "converted")
    ids_theirs = torch.from_numpy(np.load(src / "expected" / "converted_input_ids.npy"))
    mask = torch.from_numpy(np.load(src / "expected" / "converted_attention_mask.npy"))
    new_to_old = {n: o for o, n in enumerate(old_to_new)}
    ids_ours = ids_theirs.clone().apply_(lambda t: new_to_old[t])
    with torch.no_grad():
        a = ours(input_ids=ids_ours, attention_mask=mask).logits
        b = theirs(input_ids=ids_theirs, attention_mask=mask).logits[..., old_to_new]
    inside = mask.bool()
    torch.testing.assert_close(a[inside], b[inside], atol=1e-5, rtol=0)
    np.testing.assert_allclose(b[inside].numpy(), np.load(src / "expected" / "converted_logits.npy")[..., old_to_new][inside.numpy()],
                               atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------- OpenSpliceAI and Pangolin
def _one_hot_padded(ids: np.ndarray, context: int) -> torch.Tensor:
    """MultiMolecule's input ids (A C G U N = 0..4) as our one-hot input with ``context // 2`` zeros
    each side (what MultiMolecule's model pads itself); N is all zeros, as in the originals."""
    x = np.zeros((ids.shape[0], ids.shape[1] + context, 4), np.float32)
    x[:, context // 2 : context // 2 + ids.shape[1]] = np.eye(5, dtype=np.float32)[ids][..., :4]
    return torch.from_numpy(x)


def test_openspliceai_folder_gives_multimolecules_probabilities():
    from nucleoforge.models.spliceai import SpliceAIModel

    model = SpliceAIModel.from_pretrained(FIX / "openspliceai" / "checkpoint")
    assert model.config.weights_family == "openspliceai" and model.config.activation == "leaky_relu"
    assert (model.config.activation_slope, model.config.batch_norm_eps, model.config.context) == (0.1, 1e-5, 80)
    ids = expected("openspliceai", "single0_input_ids")
    with torch.no_grad():
        ours = model(_one_hot_padded(ids, 80)).probabilities.numpy()
    theirs = torch.from_numpy(expected("openspliceai", "single0_logits")).softmax(-1).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)


def test_pangolin_folder_gives_multimolecules_probabilities_per_tissue():
    from nucleoforge.models.spliceai import SpliceAIModel

    model = SpliceAIModel.from_pretrained(FIX / "pangolin" / "checkpoint")
    assert model.config.head == "pangolin" and model.config.tissues == ["heart", "liver", "brain", "testis"]
    ids = expected("pangolin", "single0_input_ids")
    assert not (ids == 4).any()  # N scores as in the original Pangolin (zeros), not as in MultiMolecule
    with torch.no_grad():
        out = model(_one_hot_padded(ids, 80), output_members=True)
    theirs = expected("pangolin", "single0_probabilities")[0]  # (L, 12): per tissue no-site, site, usage
    # per tissue: the mean of its three replicates' own block of channels
    members = out.member_probabilities[0].numpy()
    tissue_of = np.array(model.config.member_tissues)
    ours = np.concatenate([members[tissue_of == t][:, :, 3 * t : 3 * t + 3].mean(0) for t in range(4)], axis=1)
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)
    np.testing.assert_allclose(out.probabilities[0].numpy(), theirs[:, 1::3], atol=1e-6, rtol=0)


def test_a_pangolin_folder_with_a_tensor_we_do_not_read_is_refused(tmp_path):
    from nucleoforge.models.spliceai import SpliceAIModel

    folder = _copy(tmp_path, "pangolin")
    state = load_file(folder / "model.safetensors")
    state["token_head.decoder.weight"] = torch.zeros(4, 4)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"1 tensor\(s\) no part of our pangolin model takes \(token_head"):
        SpliceAIModel.from_pretrained(folder)
