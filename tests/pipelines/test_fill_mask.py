"""Fill-mask: probabilities against hand computations from the model's logits, k-mer masking."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from transformers import pipeline

import nucleoforge.pipelines  # noqa: F401  (registers the tasks)
from nucleoforge.pipelines._common import kmer_token_ids
from tests.pipelines.conftest import build_model


def _logits(model, tokenizer, text: str) -> np.ndarray:
    enc = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return model(**enc).logits[0].double().numpy()


def test_single_nucleotide_probabilities_match_logits(model_dir, chr22_block):
    from nucleoforge.pipelines._common import load_masked_lm

    model, tok = load_masked_lm(str(model_dir("splicebert")))
    fill = pipeline("nucleotide-fill-mask", model=str(model_dir("splicebert")), device="cpu")
    seq = chr22_block[5_000:5_080]
    masked = seq[:10] + "<mask>" + seq[11:40] + "<mask>" + seq[41:]
    out = fill(masked)
    assert [m["position"] for m in out] == [10, 40]
    logits = _logits(model, tok, masked)
    ids = [tok.convert_tokens_to_ids(b) for b in "ACGT"]
    for m in out:
        row = logits[m["position"] + 1, ids]  # +1 for [CLS]
        expected = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        got = np.array([m["probabilities"][b] for b in "ACGT"])
        assert list(m["probabilities"]) == list("ACGT")  # no N, no specials
        assert got.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        assert m["token"] == "ACGT"[int(np.argmax(expected))]


def test_candidates_all_ranks_the_whole_vocabulary(model_dir, chr22_block):
    from nucleoforge.pipelines._common import load_masked_lm

    model, tok = load_masked_lm(str(model_dir("rnaernie")))
    fill = pipeline("nucleotide-fill-mask", model=model, tokenizer=tok, device="cpu")
    masked = chr22_block[40_000:40_020] + "<mask>" + chr22_block[40_021:40_050]
    (m,) = fill(masked, candidates="all", top_k=39)
    row = _logits(model, tok, masked)[21]
    expected = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
    assert len(m["probabilities"]) == 39 and sum(m["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    for token, p in m["probabilities"].items():
        assert p == pytest.approx(expected[tok.convert_tokens_to_ids(token)], rel=1e-5, abs=1e-8)


def _hand_kmer(model, tok, plain: str, masked_pos: list[int], want: int, combine: str) -> np.ndarray:
    """Per-nucleotide distribution at ``want`` by explicit loops over covering k-mers."""
    k = tok.k
    text = "".join("<mask>" if i in masked_pos else c for i, c in enumerate(plain))
    logits = _logits(model, tok, text)[1:-1]
    alphabet = "ACG" + tok.fourth_base
    kmers = ["".join(p) for p in itertools.product(alphabet, repeat=k)]
    ids = [tok.convert_tokens_to_ids(km) for km in kmers]
    per_token = []
    for t in range(max(0, want - k + 1), min(want, len(plain) - k) + 1):
        z = logits[t, ids]
        soft = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        o = want - t
        p = np.zeros(4)
        for km, q in zip(kmers, soft):
            consistent = all(
                j == o or (t + j) in masked_pos or km[j] == plain[t + j] for j in range(k)
            )
            if consistent:
                p[alphabet.index(km[o])] += q
        per_token.append(p / p.sum())
    per_token = np.array(per_token)
    if combine == "mean":
        return per_token.mean(0)
    g = np.exp(np.log(per_token).mean(0))
    return g / g.sum()


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_kmer_probabilities_match_hand_computation(model_dir, trnas, k):
    from nucleoforge.pipelines._common import load_masked_lm

    model, tok = load_masked_lm(str(model_dir("utrbert", k, 66)))
    fill = pipeline("nucleotide-fill-mask", model=model, tokenizer=tok, device="cpu")
    plain = trnas[3][1][:50]
    masked_pos = [0, 7, 9, 30, 49]  # edges, two masks sharing k-mers, interior
    text = "".join("<mask>" if i in masked_pos else c for i, c in enumerate(plain))
    for combine in ("mean", "product"):
        out = fill(text, combine=combine)
        assert [m["position"] for m in out] == masked_pos
        for m in out:
            got = np.array(list(m["probabilities"].values()))
            assert list(m["probabilities"]) == list("ACGU")
            assert got.sum() == pytest.approx(1.0, abs=1e-12)
            np.testing.assert_allclose(got, _hand_kmer(model, tok, plain, masked_pos, m["position"], combine), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_whole_kmer_masking_covers_exactly_the_covering_tokens(model_dir, k):
    from nucleoforge.pipelines._common import load_masked_lm

    model, tok = load_masked_lm(str(model_dir("utrbert", k, 66)))
    fill = pipeline("nucleotide-fill-mask", model=model, tokenizer=tok, device="cpu")
    plain = "ACGUUGCAAGCUAGCUAGGAUC"
    n_tokens = len(plain) - k + 1
    for pos in (0, 1, k - 1, len(plain) // 2, len(plain) - 2, len(plain) - 1):
        text = plain[:pos] + "<mask>" + plain[pos + 1 :]
        job = fill.preprocess({"name": "x", "sequence": text})
        ids = np.asarray(job["chunks"][0]["input_ids"][1:-1])  # the chunk carries token ids, not text
        masked_tokens = set(np.flatnonzero(ids == tok.mask_token_id).tolist())
        assert masked_tokens == set(range(max(0, pos - k + 1), min(pos, n_tokens - 1) + 1)), (k, pos)
        kmers = tok.convert_ids_to_tokens(ids.tolist())
        assert all(kmers[t] == plain[t : t + k] for t in range(n_tokens) if t not in masked_tokens)


def test_long_sequence_uses_the_most_central_window(model_dir, chr22_block):
    from nucleoforge.pipelines._common import load_masked_lm

    model, tok = load_masked_lm(str(model_dir("splicebert")))  # 128 nt per call
    fill = pipeline("nucleotide-fill-mask", model=model, tokenizer=tok, device="cpu")
    seq = chr22_block[123_456:123_756]  # 300 nt -> windows 0-128, 64-192, 128-256, 172-300
    positions = [5, 100, 150, 200, 299]  # kept by windows: [0,96) [96,160) [160,214) [214,300)
    text = "".join("<mask>" if i in positions else c for i, c in enumerate(seq))
    out = fill(text)
    starts = {5: 0, 100: 64, 150: 64, 200: 128, 299: 172}
    for m in out:
        s = starts[m["position"]]
        local = "".join("<mask>" if s + i in positions else c for i, c in enumerate(seq[s : s + 128]))
        direct = {x["position"] + s: x for x in fill(local)}
        assert m["probabilities"] == pytest.approx(direct[m["position"]]["probabilities"], abs=1e-6)


def test_errors_name_the_sequence(model_dir):
    fill = pipeline("nucleotide-fill-mask", model=str(model_dir("utrbert", 3, 66)), device="cpu")
    with pytest.raises(ValueError, match="'s1' has no <mask>"):
        fill(("s1", "ACGUACGU"))
    with pytest.raises(ValueError, match="needs a single-nucleotide model"):
        fill("ACG<mask>U", candidates="all")


def test_invalid_characters_name_sequence_and_position(model_dir):
    fill = pipeline("nucleotide-fill-mask", model=str(model_dir("splicebert")), device="cpu")
    with pytest.raises(ValueError, match=r"sequence 'bad', position 4: invalid character 'X'"):
        fill(("bad", "ACGX<mask>"))


@pytest.mark.parametrize(
    "task,item",
    [
        ("nucleotide-fill-mask", {"name": "bad", "sequence": "ACXT<mask>ACGT"}),
        ("nucleotide-embedding", {"name": "bad", "sequence": "ACXTACGTAC"}),
        ("nucleotide-attention", {"name": "bad", "sequence": "ACXT<mask>ACGT"}),
        ("zero-shot-variant-effect", {"name": "bad", "sequence": "ACXTACGTAC", "position": 5, "alt": "A"}),
    ],
)
@pytest.mark.parametrize("kind,k", [("splicebert", None), ("utrbert", 3)])
def test_every_pipeline_gives_the_shared_one_based_message(model_dir, task, item, kind, k):
    """The tokenizer, SpliceAI and every language-model pipeline name the same (1-based) position."""
    pipe = pipeline(task, model=str(model_dir(kind, k, 66)), device="cpu")
    with pytest.raises(ValueError) as err:
        pipe(item)
    assert str(err.value) == "sequence 'bad', position 3: invalid character 'X' (expected A, C, G, T/U or an IUPAC ambiguity code)"


def test_masks_travel_as_ids_not_text(model_dir):
    """A written mask is read once: the chunks hold token ids, equal to tokenising the text itself."""
    model, tok = build_model("utrbert", 3, 66)
    fill = pipeline("nucleotide-fill-mask", model=model, tokenizer=tok, device="cpu")
    text = "ACGUU<mask>CAAGC[MASK]AGCUA"
    job = fill.preprocess({"name": "x", "sequence": text})
    (chunk,) = job["chunks"]
    assert set(chunk) == {"input_ids", "window", "targets"} and chunk["targets"].tolist() == [5, 11]
    assert chunk["input_ids"].tolist() == tok(text)["input_ids"]
    assert np.flatnonzero(job["masked"]).tolist() == [5, 11]
