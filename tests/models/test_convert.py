"""Parity of ``nucleoforge convert`` with the original checkpoint formats, through real files and the CLI.

Each original release is rebuilt here in its own file format from a public reference
implementation with random weights (LayerNorms and biases perturbed so a wrong mapping shows):

* SpliceBERT — ``transformers.BertForMaskedLM`` with the ORIGINAL 1024-nt config (6 × 512, 1026
  positions, 19.7 M parameters); ``pytorch_model.bin`` written with ``torch.save`` (transformers 5
  ignores ``safe_serialization=False``) including ``bert.embeddings.position_ids``, plus
  ``config.json`` and the original ``vocab.txt``.
* 3UTRBERT — the ORIGINAL BERT-base config for k = 3 (12 × 768); for k = 6 the original vocabulary
  (4101), positions (512), eps and activation with 2 layers × 64 hidden to keep the suite fast.
  The file carries a pooler and no ``cls.predictions.decoder.bias`` (transformers 2.x layout).
* RNAErnie — ``transformers.ErnieForMaskedLM`` (ReLU, no task id, eps 1e-12; 2 layers × 64 hidden,
  the original 39-token vocabulary and 513 positions) renamed to PaddleNLP 2.4 keys with Linear
  weights transposed to [in, out], pickled as ``model_state.pdparams`` with ``model_config.json``;
  and a golden fixture written by the real PaddlePaddle 3.3.1 + PaddleNLP 2.8.1 (tests/fixtures/rnaernie).

Outputs are compared on real GRCh37 chr22 sequence (``chr22_block``): MLM logits and every hidden
state within 1e-5. Round trips (our model → ``nucleoforge export`` → ``nucleoforge convert``) give
identical tensors, and the exported HF folders load into transformers' own ``BertForMaskedLM``.
"""

from __future__ import annotations

import itertools
import json
import logging
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import nucleoforge  # noqa: F401  (registers the Auto classes)
from tests.cli.runner import invoke

FIXTURE = Path(__file__).parents[1] / "fixtures" / "rnaernie"

# The original vocabularies, written out independently of nucleoforge.tokenization.
SPLICEBERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "N", "A", "C", "G", "T"]
RNAERNIE_VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEL]", "[IND]"]
    + "RNaseMRPRNA RNasePRNA SRPRNA YRNA antisenseRNA autocatalyticallysplicedintron guideRNA hammerheadribozyme "
    "lncRNA miRNA miscRNA ncRNA other piRNA premiRNA precursorRNA rRNA ribozyme sRNA scRNA scaRNA siRNA snRNA "
    "snoRNA tRNA telomeraseRNA tmRNA vaultRNA".split()
    + ["A", "T", "C", "G"]
)


def utrbert_vocab(k: int) -> list[str]:
    return SPLICEBERT_VOCAB[:5] + ["".join(p) for p in itertools.product("AUCG", repeat=k)]


SPLICEBERT_1024 = dict(
    vocab_size=10, hidden_size=512, num_hidden_layers=6, num_attention_heads=16, intermediate_size=2048,
    hidden_act="gelu", max_position_embeddings=1026, type_vocab_size=2, layer_norm_eps=1e-12,
)  # fmt: skip
UTRBERT_BASE = dict(
    hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, hidden_act="gelu",
    max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12,
)  # fmt: skip
REDUCED = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)


# ------------------------------------------------------------------------------ builders
def perturb(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random LayerNorm weights and biases (their defaults 1/0 would hide a swapped mapping)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    return model.eval()


def hf_bert(config: dict, seed: int = 0):
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(seed)
    return perturb(BertForMaskedLM(BertConfig(**config, attn_implementation="eager")), seed)


def write_hf_original(
    folder: Path, model, vocab: list[str], *, position_ids: bool, pooler: bool, decoder_bias: bool
) -> Path:
    """A SpliceBERT/3UTRBERT release folder: ``config.json``, ``vocab.txt``, ``pytorch_model.bin``."""
    folder.mkdir(parents=True)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    hidden = model.config.hidden_size
    if position_ids:  # SpliceBERT's file (transformers 4.x) carries the buffer
        state["bert.embeddings.position_ids"] = torch.arange(model.config.max_position_embeddings).unsqueeze(0)
    if pooler:  # 3UTRBERT's (DNABERT, transformers 2.x) BertForMaskedLM kept the pooler
        gen = torch.Generator().manual_seed(7)
        state["bert.pooler.dense.weight"] = torch.randn(hidden, hidden, generator=gen) * 0.02
        state["bert.pooler.dense.bias"] = torch.randn(hidden, generator=gen) * 0.02
    if not decoder_bias:  # transformers 2.x had no decoder.bias, only cls.predictions.bias
        state.pop("cls.predictions.decoder.bias")
    torch.save(state, folder / "pytorch_model.bin")
    model.config.to_json_file(str(folder / "config.json"))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return folder


# transformers' ERNIE names → PaddleNLP 2.4 names, (regex, replacement, transpose a 2-D weight)
_HF_TO_PADDLE = [
    (r"ernie\.embeddings\.LayerNorm\.", "ernie.embeddings.layer_norm.", False),
    (r"ernie\.encoder\.layer\.(\d+)\.attention\.self\.query\.", r"ernie.encoder.layers.\1.self_attn.q_proj.", True),
    (r"ernie\.encoder\.layer\.(\d+)\.attention\.self\.key\.", r"ernie.encoder.layers.\1.self_attn.k_proj.", True),
    (r"ernie\.encoder\.layer\.(\d+)\.attention\.self\.value\.", r"ernie.encoder.layers.\1.self_attn.v_proj.", True),
    (r"ernie\.encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"ernie.encoder.layers.\1.self_attn.out_proj.", True),
    (r"ernie\.encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"ernie.encoder.layers.\1.norm1.", False),
    (r"ernie\.encoder\.layer\.(\d+)\.intermediate\.dense\.", r"ernie.encoder.layers.\1.linear1.", True),
    (r"ernie\.encoder\.layer\.(\d+)\.output\.dense\.", r"ernie.encoder.layers.\1.linear2.", True),
    (r"ernie\.encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"ernie.encoder.layers.\1.norm2.", False),
    (r"cls\.predictions\.transform\.dense\.", "cls.predictions.transform.", True),
    (r"cls\.predictions\.transform\.LayerNorm\.", "cls.predictions.layer_norm.", False),
    (r"cls\.predictions\.bias$", "cls.predictions.decoder_bias", False),
    (r"cls\.predictions\.decoder\.weight$", "cls.predictions.decoder_weight", False),
]


def hf_ernie(seed: int = 0, **overrides):
    from transformers import ErnieConfig, ErnieForMaskedLM

    config = ErnieConfig(
        vocab_size=39, max_position_embeddings=513, type_vocab_size=2, hidden_act="relu", use_task_id=False,
        layer_norm_eps=1e-12, attn_implementation="eager", **{**REDUCED, **overrides},
    )  # fmt: skip
    torch.manual_seed(seed)
    return perturb(ErnieForMaskedLM(config), seed)


def paddle_state_from_hf_ernie(model) -> dict[str, np.ndarray]:
    """transformers ErnieForMaskedLM tensors under PaddleNLP 2.4 names ([in, out] Linear weights) + a pooler."""
    import re

    out: dict[str, np.ndarray] = {}
    for key, value in model.state_dict().items():
        if key == "cls.predictions.decoder.bias":
            continue  # the same tensor as cls.predictions.bias; Paddle 2.4 has only decoder_bias
        name, transpose = key, False
        for pattern, repl, t in _HF_TO_PADDLE:
            if re.search(pattern, key):
                name, transpose = re.sub(pattern, repl, key), t
                break
        array = value.detach().numpy()
        out[name] = np.ascontiguousarray(array.T if transpose and array.ndim == 2 else array)
    hidden = model.config.hidden_size
    rng = np.random.default_rng(3)  # ErnieModel always has a pooler; MLM conversion ignores it
    out["ernie.pooler.dense.weight"] = rng.normal(0, 0.02, (hidden, hidden)).astype(np.float32)
    out["ernie.pooler.dense.bias"] = rng.normal(0, 0.02, hidden).astype(np.float32)
    return out


def write_rnaernie_original(folder: Path, model, vocab: bool = True) -> Path:
    """RNAErnie's release layout: ``model_state.pdparams`` (a Paddle-style pickle) + ``model_config.json``."""
    folder.mkdir(parents=True)
    state = paddle_state_from_hf_ernie(model)
    blob = {**state, "StructuredToParameterName@@": {k: f"param_{i}" for i, k in enumerate(state)}}
    with open(folder / "model_state.pdparams", "wb") as fh:
        pickle.dump(blob, fh, protocol=4)  # paddle.save's default protocol
    c = model.config
    ernie_args = dict(
        attention_probs_dropout_prob=0.1, hidden_act="relu", hidden_dropout_prob=0.1, hidden_size=c.hidden_size,
        initializer_range=0.02, intermediate_size=c.intermediate_size, max_position_embeddings=c.max_position_embeddings,
        num_attention_heads=c.num_attention_heads, num_hidden_layers=c.num_hidden_layers, type_vocab_size=2,
        vocab_size=39, pad_token_id=0, init_class="ErnieModel",
    )  # fmt: skip
    (folder / "model_config.json").write_text(json.dumps({"init_args": [ernie_args], "init_class": "ErnieForMaskedLM"}))
    if vocab:
        (folder / "vocab_1MER.txt").write_text("\n".join(RNAERNIE_VOCAB) + "\n")
    return folder


# ------------------------------------------------------------------------------ CLI and loading
def cli(*args: str, ok: bool = True):
    result = invoke(list(args))  # through the error boundary, as `nucleoforge` runs
    if ok:
        assert result.exit_code == 0, result.output
    return result


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def load_quietly(folder: Path):
    """``AutoModelForMaskedLM`` + ``AutoTokenizer`` from ``folder``, asserting no warning is logged or raised."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    handler = _Records()
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = AutoModelForMaskedLM.from_pretrained(folder).eval()
            tokenizer = AutoTokenizer.from_pretrained(folder)
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in handler.records] + [str(w.message) for w in caught]
    assert messages == [], messages
    return model, tokenizer


def assert_same_outputs(ours, theirs, batch: dict, atol: float = 1e-5) -> None:
    with torch.no_grad():
        got = ours(**batch, output_hidden_states=True)
        expected = theirs(**batch, output_hidden_states=True)
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(got.logits[real], expected.logits[real], atol=atol, rtol=1e-5)
    assert len(got.hidden_states) == len(expected.hidden_states)
    for a, b in zip(got.hidden_states, expected.hidden_states):
        torch.testing.assert_close(a[real], b[real], atol=atol, rtol=1e-5)


# ------------------------------------------------------------------------------ SpliceBERT
def test_splicebert_1024_original_config(tmp_path: Path, chr22_block: str) -> None:
    original = hf_bert(SPLICEBERT_1024)
    src = write_hf_original(tmp_path / "SpliceBERT.1024nt", original, SPLICEBERT_VOCAB, position_ids=True,
                            pooler=False, decoder_bias=True)  # fmt: skip
    dst = tmp_path / "out"
    result = cli("convert", "splicebert", src, dst)
    assert "ignored: bert.embeddings.position_ids" in result.output
    assert sorted(p.name for p in dst.iterdir()) == [
        "config.json", "conversion.json", "model.safetensors", "tokenizer_config.json", "vocab.txt",
    ]  # fmt: skip
    model, tokenizer = load_quietly(dst)
    assert type(model).__name__ == "SpliceBertForMaskedLM" and model.config.variant == "splicebert"
    assert tokenizer.model_max_length == 1026 and tokenizer.get_vocab() == {t: i for i, t in enumerate(SPLICEBERT_VOCAB)}
    report = json.loads((dst / "conversion.json").read_text())
    assert report["ignored_source_keys"] == ["bert.embeddings.position_ids"]
    assert report["duplicate_source_keys"] == ["cls.predictions.decoder.bias"]
    seqs = [chr22_block[200_000:200_510], chr22_block[31_000:31_200]]  # real sequence, a padded batch
    assert_same_outputs(model, original, tokenizer(seqs, padding=True, return_tensors="pt"))


def test_splicebert_510_variant_from_config(tmp_path: Path, chr22_block: str) -> None:
    """The 510-nt models have 512 positions; --variant names the human one (configs are identical)."""
    original = hf_bert({**SPLICEBERT_1024, **REDUCED, "max_position_embeddings": 512}, seed=1)
    src = write_hf_original(tmp_path / "SpliceBERT-human.510nt", original, SPLICEBERT_VOCAB, position_ids=True,
                            pooler=False, decoder_bias=True)  # fmt: skip
    cli("convert", "splicebert", src, tmp_path / "default")
    cli("convert", "splicebert", src, tmp_path / "human", "--variant", "splicebert-human.510")
    assert json.loads((tmp_path / "default" / "config.json").read_text())["variant"] == "splicebert.510"
    model, tokenizer = load_quietly(tmp_path / "human")
    assert model.config.variant == "splicebert-human.510" and tokenizer.model_max_length == 512
    batch = tokenizer([chr22_block[500_000:500_510]], return_tensors="pt")
    assert batch["input_ids"].shape == (1, 512)
    assert_same_outputs(model, original, batch)


# ------------------------------------------------------------------------------ 3UTRBERT
@pytest.mark.parametrize(
    ("k", "shape", "folder"),
    [(3, {}, "3-new-12w-0"), (6, REDUCED, "3-new-12w-0")],  # k=6 weights in a folder named 3-mer
    ids=["k3-original-bert-base", "k6-reduced"],
)
def test_utrbert(tmp_path: Path, chr22_block: str, k: int, shape: dict, folder: str) -> None:
    original = hf_bert({**UTRBERT_BASE, **shape, "vocab_size": 4**k + 5}, seed=k)
    src = write_hf_original(tmp_path / folder, original, utrbert_vocab(k), position_ids=False, pooler=True,
                            decoder_bias=False)  # fmt: skip
    dst = tmp_path / "out"
    result = cli("convert", "utrbert", src, dst)
    assert "ignored: bert.pooler.dense.bias, bert.pooler.dense.weight" in result.output
    if k != 3:
        assert f"used k={k}" in result.output  # the folder name disagrees; the vocabulary decides
    model, tokenizer = load_quietly(dst)
    assert type(model).__name__ == "UtrBertForMaskedLM" and model.config.k == k and tokenizer.k == k
    assert tokenizer.convert_ids_to_tokens(list(range(4**k + 5))) == utrbert_vocab(k)
    seqs = [chr22_block[700_000:700_160], chr22_block[12_345:12_425]]
    assert_same_outputs(model, original, tokenizer(seqs, padding=True, return_tensors="pt"))


# ------------------------------------------------------------------------------ RNAErnie
def test_rnaernie_paddle_format(tmp_path: Path, chr22_block: str) -> None:
    original = hf_ernie()
    src = write_rnaernie_original(tmp_path / "checkpoint_final", original)
    dst = tmp_path / "out"
    result = cli("convert", "rnaernie", src, dst)
    assert "ignored: ernie.pooler.dense.bias, ernie.pooler.dense.weight" in result.output
    model, tokenizer = load_quietly(dst)
    assert type(model).__name__ == "RnaErnieForMaskedLM" and model.config.hidden_act == "relu"
    assert tokenizer.convert_ids_to_tokens(list(range(39))) == RNAERNIE_VOCAB
    seqs = [chr22_block[600_000:600_400], chr22_block[99_000:99_150]]
    assert_same_outputs(model, original, tokenizer(seqs, padding=True, return_tensors="pt"))


@pytest.fixture
def golden_folder(tmp_path: Path) -> Path:
    """The real-Paddle fixture with RNAErnie's vocabulary file beside it."""
    folder = tmp_path / "golden"
    folder.mkdir()
    for name in ("config.json", "model_state.pdparams"):
        shutil.copy(FIXTURE / name, folder / name)
    (folder / "vocab_1MER.txt").write_text("\n".join(RNAERNIE_VOCAB) + "\n")
    return folder


def _golden_check(dst: Path) -> None:
    model, tokenizer = load_quietly(dst)
    sequence = json.loads((FIXTURE / "provenance.json").read_text())["nucleotides"]
    batch = tokenizer([sequence], return_tensors="pt")
    np.testing.assert_array_equal(batch["input_ids"].numpy(), np.load(FIXTURE / "input_ids.npy"))
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    np.testing.assert_allclose(out.logits.numpy(), np.load(FIXTURE / "logits.npy"), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(out.hidden_states[-1].numpy(), np.load(FIXTURE / "hidden.npy"), atol=1e-5, rtol=1e-5)


def test_rnaernie_golden_real_paddlenlp(golden_folder: Path, tmp_path: Path, chr22_block: str) -> None:
    """Weights pickled by real Paddle (PaddleNLP 2.8 layout: decoder.weight/decoder.bias + decoder_bias)."""
    assert json.loads((FIXTURE / "provenance.json").read_text())["nucleotides"] == chr22_block[200_000:200_120]
    cli("convert", "rnaernie", golden_folder, tmp_path / "out")
    report = json.loads((tmp_path / "out" / "conversion.json").read_text())
    assert report["duplicate_source_keys"] == ["cls.predictions.decoder.bias"]
    _golden_check(tmp_path / "out")


def test_rnaernie_golden_in_paddlenlp_24_layout(golden_folder: Path, tmp_path: Path) -> None:
    """The same real weights in RNAErnie's release layout: decoder_weight, model_config.json with init_args."""
    from nucleoforge.io.checkpoints import load_paddle_state_dict, save_paddle_state_dict

    state = load_paddle_state_dict(golden_folder / "model_state.pdparams")
    state["cls.predictions.decoder_weight"] = state.pop("cls.predictions.decoder.weight")
    del state["cls.predictions.decoder.bias"]
    save_paddle_state_dict(state, golden_folder / "model_state.pdparams", protocol=2)
    modern = json.loads((golden_folder / "config.json").read_text())
    (golden_folder / "config.json").unlink()
    args = {k: modern[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                                   "hidden_act", "max_position_embeddings", "type_vocab_size", "vocab_size")}  # fmt: skip
    legacy = {"init_args": [{**args, "init_class": "ErnieModel"}], "init_class": "ErnieForMaskedLM"}
    (golden_folder / "model_config.json").write_text(json.dumps(legacy))
    cli("convert", "rnaernie", golden_folder, tmp_path / "out")
    _golden_check(tmp_path / "out")


# ------------------------------------------------------------------------------ round trips
def _tiny(model_type: str):
    import nucleoforge as nf

    torch.manual_seed(11)
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    model = {
        "splicebert": lambda: nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(variant="splicebert-human.510", **small)),
        "utrbert": lambda: nf.UtrBertForMaskedLM(nf.UtrBertConfig(k=4, **small)),
        "rnaernie": lambda: nf.RnaErnieForMaskedLM(nf.RnaErnieConfig(**small)),
    }[model_type]()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    return model.eval()


@pytest.mark.parametrize("model_type", ["splicebert", "utrbert", "rnaernie"])
def test_round_trip_export_convert(tmp_path: Path, model_type: str) -> None:
    from nucleoforge import NucleotideTokenizer

    ours = _tiny(model_type)
    k = getattr(ours.config, "k", 1)
    kwargs = {"k": k} if model_type == "utrbert" else {"variant": ours.config.variant} if model_type == "splicebert" else {}
    ours.save_pretrained(tmp_path / "ours")
    NucleotideTokenizer.for_model(model_type, **kwargs).save_pretrained(tmp_path / "ours")
    result = cli("export", model_type, tmp_path / "ours", tmp_path / "original")
    assert "wrote" in result.output
    extra = ["--variant", "splicebert-human.510"] if model_type == "splicebert" else []
    cli("convert", model_type, tmp_path / "original", tmp_path / "back", *extra)
    back, _ = load_quietly(tmp_path / "back")
    a, b = ours.state_dict(), back.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    fields = ("vocab_size", "hidden_size", "num_hidden_layers", "max_position_embeddings", "hidden_act", "k", "layer_norm_eps")
    for field in fields:
        assert getattr(back.config, field) == getattr(ours.config, field), field
    assert getattr(back.config, "variant", None) == getattr(ours.config, "variant", None)


@pytest.mark.parametrize("model_type", ["splicebert", "utrbert"])
def test_exported_folder_loads_in_transformers_bert(tmp_path: Path, model_type: str, chr22_block: str) -> None:
    """The exported files are what transformers' own BertForMaskedLM expects (independent of our importer)."""
    from transformers import BertConfig, BertForMaskedLM

    from nucleoforge import NucleotideTokenizer
    from nucleoforge.models.splicebert.convert import export_splicebert
    from nucleoforge.models.utrbert.convert import export_utrbert

    ours = _tiny(model_type)
    out = (export_splicebert if model_type == "splicebert" else export_utrbert)(ours, tmp_path / "original")
    hf = BertForMaskedLM(BertConfig.from_json_file(str(out / "config.json"))).eval()
    state = torch.load(out / "pytorch_model.bin", weights_only=True)
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert missing == [] and unexpected == (["bert.embeddings.position_ids"] if model_type == "splicebert" else [])
    k = getattr(ours.config, "k", 1)
    expected_vocab = SPLICEBERT_VOCAB if model_type == "splicebert" else utrbert_vocab(k)
    assert (out / "vocab.txt").read_text().split("\n")[:-1] == expected_vocab
    tok = NucleotideTokenizer.for_model(model_type, **({"k": k} if model_type == "utrbert" else {}))
    batch = tok([chr22_block[1000:1200], chr22_block[5000:5100]], padding=True, return_tensors="pt")
    assert_same_outputs(ours, hf, batch)
