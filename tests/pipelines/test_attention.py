"""Attention maps against the model's own attention weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import pipeline

import nucleoforge.pipelines  # noqa: F401
from nucleoforge.pipelines._common import coverage_matrix, load_masked_lm


@pytest.mark.parametrize("kind,k", [("splicebert", None), ("utrbert", 3)])
def test_attention_maps_match_model_weights(model_dir, trnas, kind, k):
    model, tok = load_masked_lm(str(model_dir(kind, k, 130)))
    att = pipeline("nucleotide-attention", model=model, tokenizer=tok, device="cpu")
    seq = trnas[2][1]
    r = att(seq, layer=-1, head=None)
    enc = tok(seq, return_tensors="pt")
    with torch.no_grad():
        weights = [a[0].numpy() for a in model.base_model(**enc, output_attentions=True).attentions]
    n_tok = enc["input_ids"].shape[1] - 2
    m = coverage_matrix(n_tok, model.config.k)
    cls = np.mean([w[:, 0, 1:-1] for w in weights], axis=(0, 1))
    np.testing.assert_allclose(r["cls_attention"], m @ cls, atol=1e-6)
    full = weights[-1].mean(0)[1:-1, 1:-1]
    np.testing.assert_allclose(r["attention_map"], m @ full @ m.T, atol=1e-6)
    assert r["attention_map"].shape == (len(seq), len(seq)) and r["layer"] == 1
    one = att(seq, layer=0, head=3)
    np.testing.assert_allclose(one["attention_map"], m @ weights[0][3, 1:-1, 1:-1] @ m.T, atol=1e-6)


def test_too_long_for_one_call(model_dir, chr22_block):
    att = pipeline("nucleotide-attention", model=str(model_dir("splicebert")), device="cpu")
    with pytest.raises(ValueError, match="has 200 nucleotides; attention maps need it to fit in one model call \\(128"):
        att(("long", chr22_block[:200]))
