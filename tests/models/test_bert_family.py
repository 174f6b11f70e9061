"""SpliceBERT, 3UTRBERT (3- and 6-mer) and RNAErnie through the shared model-test mixin."""

from __future__ import annotations

import pytest

import nucleoforge as nf
from tests.models.test_common import ModelTesterMixin


def _classes(prefix: str) -> dict[str, type]:
    kinds = ["Model", "ForMaskedLM", "ForSequencePrediction", "ForTokenPrediction", "ForContactPrediction"]
    return {kind: getattr(nf, prefix + kind) for kind in kinds}


class TestSpliceBert(ModelTesterMixin):
    config_class = nf.SpliceBertConfig
    classes = _classes("SpliceBert")
    model_type = "splicebert"


class TestUtrBert3(ModelTesterMixin):
    config_class = nf.UtrBertConfig
    classes = _classes("UtrBert")
    model_type = "utrbert"
    tokenizer_kwargs = {"k": 3}
    config_kwargs = {"k": 3}


class TestUtrBert6(ModelTesterMixin):
    config_class = nf.UtrBertConfig
    classes = _classes("UtrBert")
    model_type = "utrbert"
    tokenizer_kwargs = {"k": 6}
    config_kwargs = {"k": 6}


class TestRnaErnie(ModelTesterMixin):
    config_class = nf.RnaErnieConfig
    classes = _classes("RnaErnie")
    model_type = "rnaernie"


def test_card_defaults_and_parameter_counts() -> None:
    """Defaults from the model cards; SpliceBERT ~19.7M parameters (card: 19.72M / 19.45M for 510)."""
    c = nf.SpliceBertConfig()
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (6, 512, 16, 2048)
    assert c.max_position_embeddings == 1026 and c.max_nucleotides == 1024
    n = sum(p.numel() for p in nf.SpliceBertForMaskedLM(c).parameters())
    assert abs(n / 1e6 - 19.72) < 0.1, n
    n510 = sum(p.numel() for p in nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(variant="splicebert.510")).parameters())
    assert abs(n510 / 1e6 - 19.45) < 0.1, n510
    u = nf.UtrBertConfig(k=4)
    assert (u.num_hidden_layers, u.hidden_size, u.vocab_size, u.max_position_embeddings) == (12, 768, 261, 512)
    r = nf.RnaErnieConfig()
    assert (r.hidden_act, r.vocab_size, r.max_position_embeddings, r.layer_norm_eps) == ("relu", 39, 513, 1e-12)


def test_model_specific_config_errors() -> None:
    with pytest.raises(ValueError, match="unknown SpliceBERT variant"):
        nf.SpliceBertConfig(variant="splicebert.2048")
    with pytest.raises(ValueError, match="k must be one of"):
        nf.UtrBertConfig(k=2)
    with pytest.raises(ValueError, match="vocab_size 69"):
        nf.UtrBertConfig(k=3, vocab_size=70)
