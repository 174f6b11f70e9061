"""Parity with the original architecture: transformers' BertForMaskedLM with the original SpliceBERT
and 3UTRBERT configs (random weights), loaded through the converters' key map."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from nucleoforge import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM, UtrBertConfig, UtrBertForMaskedLM
from nucleoforge.models.bert.convert import load_hf_bert_state_dict
from nucleoforge.models.splicebert import convert as splicebert_convert
from nucleoforge.models.utrbert import convert as utrbert_convert


def _original(config: dict) -> BertForMaskedLM:
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(**config, attn_implementation="eager")).eval()
    with torch.no_grad():  # non-trivial LayerNorm/bias values so a wrong mapping shows
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.1)
    return model


SPLICEBERT_ORIGINAL = dict(
    vocab_size=10, hidden_size=512, num_hidden_layers=6, num_attention_heads=16, intermediate_size=2048,
    hidden_act="gelu", max_position_embeddings=1026, type_vocab_size=2, layer_norm_eps=1e-12,
)  # fmt: skip


def test_splicebert_matches_bert_for_masked_lm(chr22_block: str) -> None:
    original = _original(SPLICEBERT_ORIGINAL)
    state = original.state_dict()
    state["bert.embeddings.position_ids"] = torch.arange(1026)[None]
    ours = SpliceBertForMaskedLM(splicebert_convert.config_from_original(SPLICEBERT_ORIGINAL)).eval()
    load_hf_bert_state_dict(ours, state)
    tok = NucleotideTokenizer.for_model("splicebert")
    seq = chr22_block[200_000:200_400]
    batch = tok([seq], return_tensors="pt")
    with torch.no_grad():
        expected = original(**batch, output_hidden_states=True)
        got = ours(**batch, output_hidden_states=True)
    assert got.logits.shape == (1, 402, 10)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-5, rtol=1e-5)
    for a, b in zip(got.hidden_states, expected.hidden_states):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("k", [3])
def test_utrbert_matches_bert_for_masked_lm(chr22_block: str, k: int) -> None:
    config = dict(  # the original 3UTRBERT configuration (BERT-base)
        vocab_size=4**k + 5, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        hidden_act="gelu", max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12,
    )  # fmt: skip
    original = _original(config)
    ours = UtrBertForMaskedLM(utrbert_convert.config_from_original(config)).eval()
    state = original.state_dict()
    load_hf_bert_state_dict(ours, state)
    tok = NucleotideTokenizer.for_model("utrbert", k=k)
    seqs = [chr22_block[500_000:500_300], chr22_block[10_000:10_120]]
    batch = tok(seqs, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = original(**batch).logits
        got = ours(**batch).logits
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-5, rtol=1e-5)
    assert isinstance(ours.config, UtrBertConfig) and ours.config.k == k
