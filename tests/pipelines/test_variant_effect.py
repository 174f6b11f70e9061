"""Zero-shot variant effect: zero for REF = ALT, swap symmetry, hand computation from logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import pipeline

import nucleoforge.pipelines  # noqa: F401
from nucleoforge.pipelines._common import load_masked_lm


def _softmax_acgt(model, tok, seq: str) -> np.ndarray:
    enc = tok(seq, return_tensors="pt")
    with torch.no_grad():
        z = model(**enc).logits[0, 1:-1].double().numpy()[:, [tok.convert_tokens_to_ids(b) for b in "ACGT"]]
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.fixture(scope="module")
def splicebert(model_dir):
    model, tok = load_masked_lm(str(model_dir("splicebert")))
    return model, tok, pipeline("zero-shot-variant-effect", model=model, tokenizer=tok, device="cpu")


def test_ref_equals_alt_scores_zero(splicebert, chr22_block):
    _, _, score = splicebert
    window = chr22_block[777_700:777_828]
    r = score({"sequence": window, "position": 64, "ref": window[64], "alt": window[64], "id": "rs0"}, flank=20)
    assert (r["kl_sum"], r["kl_max"], r["llr"], r["n_flank"], r["id"]) == (0.0, 0.0, 0.0, 40, "rs0")
    assert r["p_ref"] == r["p_alt"]


def test_kl_and_llr_match_hand_computation(splicebert, chr22_block):
    model, tok, score = splicebert
    window = chr22_block[777_700:777_828]
    v, flank = 64, 30
    alt = "A" if window[v] != "A" else "C"
    r = score({"sequence": window, "position": v, "alt": alt}, flank=flank)
    p_ref = _softmax_acgt(model, tok, window)
    p_alt = _softmax_acgt(model, tok, window[:v] + alt + window[v + 1 :])
    keep = [i for i in range(v - flank, v + flank + 1) if i != v]
    kl = (p_alt[keep] * np.log(p_alt[keep] / p_ref[keep])).sum(1)
    assert r["kl_sum"] == pytest.approx(kl.sum(), rel=1e-5)
    assert r["kl_max"] == pytest.approx(kl.max(), rel=1e-5)
    site = _softmax_acgt(model, tok, window[:v] + "<mask>" + window[v + 1 :])[v]
    assert r["llr"] == pytest.approx(np.log(site["ACGT".index(alt)] / site["ACGT".index(window[v])]), rel=1e-5, abs=1e-9)
    assert r["kl_sum"] > 0


@pytest.mark.parametrize("kind,k", [("splicebert", None), ("utrbert", 3), ("utrbert", 6)])
def test_swapping_ref_and_alt(model_dir, chr22_block, kind, k):
    model, tok = load_masked_lm(str(model_dir(kind, k, 130)))
    score = pipeline("zero-shot-variant-effect", model=model, tokenizer=tok, device="cpu")
    window = chr22_block[40_000:40_120]
    v = 57
    alt = "G" if window[v] != "G" else "T"
    swapped_window = window[:v] + alt + window[v + 1 :]
    fwd, back = score([{"sequence": window, "position": v, "alt": alt}, {"sequence": swapped_window, "position": v, "alt": window[v]}],
                      flank=25, return_profiles=True)
    # the masked window is the same for both: the log-likelihood ratio is antisymmetric
    assert back["llr"] == pytest.approx(-fwd["llr"], abs=1e-6)
    assert (back["p_ref"], back["p_alt"]) == pytest.approx((fwd["p_alt"], fwd["p_ref"]), abs=1e-7)
    # the profiles swap roles, and the swapped KL is KL(P_ref || P_alt) of the forward run
    np.testing.assert_allclose(back["p_ref_profile"], fwd["p_alt_profile"], atol=1e-6)
    reverse_kl = (fwd["p_ref_profile"] * np.log(fwd["p_ref_profile"] / fwd["p_alt_profile"])).sum()
    assert back["kl_sum"] == pytest.approx(reverse_kl, rel=1e-4, abs=1e-9)
    assert fwd["kl_sum"] > 0 and back["kl_sum"] > 0


def test_ref_mismatch_and_bad_alt_are_errors(splicebert):
    _, _, score = splicebert
    with pytest.raises(ValueError, match="REF 'A' does not match the window base 'C'"):
        score({"sequence": "ACGTACGT", "position": 1, "ref": "A", "alt": "G", "name": "v1"})
    with pytest.raises(ValueError, match="ALT must be one base"):
        score({"sequence": "ACGTACGT", "position": 1, "alt": "GA"})
