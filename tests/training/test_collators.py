"""Masking collators: exact statistics on large samples, no masking of special/padding tokens, no k-mer leaks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from nucleoforge.tokenization import NucleotideTokenizer
from nucleoforge.training.collators import (
    AhoCorasick,
    BaseMaskingCollator,
    MotifMaskingCollator,
    SpanMaskingCollator,
    WholeKmerMaskingCollator,
    pad_ids,
)
from nucleoforge.training.schedules import MASK_SEED, MaskingSchedule, StepMasking, parse_schedule

SPECIAL = (0, 1, 2, 3, 4)


def _sigma_ok(observed: float, p: float, n: int, z: float = 5.0) -> bool:
    return abs(observed - p) <= z * math.sqrt(p * (1 - p) / n)


def _batch(tok, seqs, seeds=None):
    enc = [tok(s)["input_ids"] for s in seqs]
    return [{"input_ids": e, **({"seed": seeds[i]} if seeds else {})} for i, e in enumerate(enc)]


@pytest.fixture(scope="module")
def big_batch(chr22_block):
    """64 real chr22 windows of varying length (60–400 nt), no N."""
    starts = range(1000, 1000 + 64 * 5000, 5000)
    seqs = [chr22_block[s : s + 60 + (i * 37) % 340] for i, s in enumerate(starts)]
    assert all("N" not in s for s in seqs)
    return seqs


def test_bert_masking_statistics(big_batch):
    tok = NucleotideTokenizer.for_model("splicebert")
    collate = BaseMaskingCollator.from_tokenizer(tok)
    nucleotide = set(tok.nucleotide_token_ids.values())
    selected = masked = randomised = kept = total = 0
    for rep in range(12):
        batch = collate(_batch(tok, big_batch, seeds=[rep * 1000 + i for i in range(len(big_batch))]))
        original = tok(big_batch, padding=True, return_tensors="pt")["input_ids"]
        labels, ids = batch["labels"], batch["input_ids"]
        content = torch.isin(original, torch.tensor(sorted(nucleotide)))
        sel = labels != -100
        # never special or padding; labels are the original ids
        assert not bool((sel & ~content).any())
        assert torch.equal(ids[~sel], original[~sel])
        assert torch.equal(labels[sel], original[sel])
        total += int(content.sum())
        selected += int(sel.sum())
        masked += int((ids[sel] == tok.mask_token_id).sum())
        rnd = sel & (ids != tok.mask_token_id) & (ids != original)
        randomised += int(rnd.sum())
        kept += int((sel & (ids == original)).sum())
        # random replacements are nucleotide tokens, always different from the original
        assert set(ids[rnd].tolist()) <= nucleotide
    assert total > 100_000
    assert _sigma_ok(selected / total, 0.15, total)
    assert _sigma_ok(masked / selected, 0.8, selected)
    assert _sigma_ok(randomised / selected, 0.1, selected)
    assert _sigma_ok(kept / selected, 0.1, selected)


def test_random_replacement_is_uniform_over_other_nucleotides():
    tok = NucleotideTokenizer.for_model("rnaernie")  # A T C G at ids 35..38
    collate = BaseMaskingCollator.from_tokenizer(tok, mlm_probability=0.5, mask_fraction=0.0, random_fraction=1.0)
    ids = np.full((200, 502), tok.nucleotide_token_ids["A"])
    ids[:, 0], ids[:, -1] = tok.cls_token_id, tok.sep_token_id
    out, labels = collate.mask(ids, np.random.default_rng(0))
    replaced = out[labels != -100]
    counts = {t: int((replaced == tok.nucleotide_token_ids[t]).sum()) for t in "ATCG"}
    assert counts["A"] == 0
    n = len(replaced)
    for t in "TCG":
        assert _sigma_ok(counts[t] / n, 1 / 3, n)


def test_mask_rate_configurable_and_settable(big_batch):
    tok = NucleotideTokenizer.for_model("splicebert")
    collate = BaseMaskingCollator.from_tokenizer(tok, mlm_probability=0.2)
    enc = tok(big_batch, padding=True, return_tensors="np")
    n_content = int((enc["input_ids"] >= 5).sum())
    rate = lambda: float(np.mean([(collate.mask(enc["input_ids"], np.random.default_rng(r))[1] != -100).sum() / n_content for r in range(10)]))  # noqa: E731
    assert _sigma_ok(rate(), 0.2, n_content * 10)
    collate.mlm_probability = 0.15
    assert _sigma_ok(rate(), 0.15, n_content * 10)
    with pytest.raises(ValueError, match="mlm_probability"):
        collate.mlm_probability = 1.5


def test_left_padding_and_seeds_are_deterministic(real_sequences):
    tok = NucleotideTokenizer.for_model("splicebert")
    right = BaseMaskingCollator.from_tokenizer(tok, mlm_probability=0.4)
    left = BaseMaskingCollator.from_tokenizer(tok, mlm_probability=0.4, padding_side="left")
    examples = _batch(tok, real_sequences, seeds=[7, 8, 9, 10, 11])
    a, b = right(examples), right(examples)
    assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["labels"], b["labels"])
    c = left(examples)
    assert bool((c["labels"][c["attention_mask"] == 0] == -100).all())
    assert bool((c["input_ids"][c["attention_mask"] == 0] == tok.pad_token_id).all())


@pytest.mark.parametrize("k", [3, 6])
def test_whole_kmer_masking_never_leaks(k, big_batch):
    tok = NucleotideTokenizer.for_model("dnabert", k=k)
    collate = WholeKmerMaskingCollator.from_tokenizer(tok)
    enc = tok(big_batch, padding=True, return_tensors="np")
    original = enc["input_ids"]
    n_labelled = n_content = 0
    for rep in range(6):
        out, labels = collate.mask(original, np.random.default_rng(rep))
        sel = labels != -100
        for row in range(len(big_batch)):
            t = len(big_batch[row]) - k + 1  # tokens of this sequence, at columns 1..t
            s = sel[row, 1 : 1 + t]
            assert not sel[row, 0] and not sel[row, 1 + t :].any()  # [CLS], [SEP], padding
            # the masked tokens are exactly the k-mers covering the fully hidden nucleotides:
            # no token is masked without hiding a whole nucleotide, so nothing leaks
            hidden = np.array([s[max(0, i - k + 1) : min(i, t - 1) + 1].all() for i in range(t + k - 1)])
            covering = np.array([hidden[j : j + k].any() for j in range(t)])
            assert np.array_equal(covering, s)
            n_labelled += int(s.sum())
            n_content += t
        assert np.array_equal(labels[sel], original[sel])
    assert _sigma_ok(n_labelled / n_content, 0.15, n_content, z=8)  # masks are correlated: wide band


def test_whole_kmer_matches_dnabert_mask_list():
    """One selected nucleotide i masks exactly the k tokens i-k+1..i (DNABERT's MASK_LIST expansion)."""
    tok = NucleotideTokenizer.for_model("utrbert", k=3)
    collate = WholeKmerMaskingCollator.from_tokenizer(tok, mask_fraction=1.0, random_fraction=0.0)
    ids = np.asarray([tok("ACGUACGUAC")["input_ids"]])  # 8 tokens at columns 1..8, nucleotides 0..9
    content = collate._content(ids)
    grid = collate._nucleotide_grid(content)
    selected = np.zeros_like(grid)
    selected[0, 1 + 5] = True  # nucleotide 5 on the grid (grid column = token column of nucleotide's first k-mer)
    masked = collate._tokens_covering(selected)
    assert np.flatnonzero(masked[0]).tolist() == [4, 5, 6]  # tokens 3, 4, 5 of the sequence: the k-mers covering nt 5
    # the model card example: UAGCGUAU, masking C (nt 3) masks AGC, GCG, CGU
    ids = np.asarray([tok("UAGCGUAU")["input_ids"]])
    selected = np.zeros((1, ids.shape[1] + 2), dtype=bool)
    selected[0, 1 + 3] = True
    masked = collate._tokens_covering(selected) & collate._maskable(ids)
    out = np.where(masked, tok.mask_token_id, ids)
    assert tok.convert_ids_to_tokens(out[0].tolist()) == ["[CLS]", "UAG", "[MASK]", "[MASK]", "[MASK]", "GUA", "UAU", "[SEP]"]


def test_whole_kmer_token_rate_is_exact_in_expectation():
    tok = NucleotideTokenizer.for_model("dnabert", k=6)
    collate = WholeKmerMaskingCollator.from_tokenizer(tok)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 500)) for _ in range(64)]
    enc = tok(seqs, return_tensors="np")["input_ids"]
    rates = [float((collate.mask(enc, np.random.default_rng(r))[1] != -100).mean() * enc.shape[1] / 495) for r in range(30)]
    assert abs(np.mean(rates) - 0.15) < 0.004


def test_unknown_kmers_and_n_are_never_masked():
    tok = NucleotideTokenizer.for_model("splicebert")
    collate = BaseMaskingCollator.from_tokenizer(tok, mlm_probability=0.9)
    ids = np.asarray([tok("ACGTNNNNACGT" * 20)["input_ids"]])
    _, labels = collate.mask(ids, np.random.default_rng(1))
    n_id = tok.convert_tokens_to_ids("N")
    assert not bool(((labels != -100) & (ids == n_id)).any())
    tok3 = NucleotideTokenizer.for_model("utrbert", k=3)
    collate3 = WholeKmerMaskingCollator.from_tokenizer(tok3, mlm_probability=0.9)
    ids3 = np.asarray([tok3("ACGUNACGUACGU" * 10)["input_ids"]])
    _, labels3 = collate3.mask(ids3, np.random.default_rng(1))
    assert not bool(((labels3 != -100) & (ids3 == tok3.unk_token_id)).any())
    assert (labels3 != -100).any()


def test_span_masking_lengths_and_rate():
    tok = NucleotideTokenizer.for_model("rnaernie")
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGT"), 50_000)) for _ in range(16)]
    enc = np.stack([np.concatenate([[2], t, [3]]) for t in tok.encode_sequences(seqs)])
    # low rate: spans rarely touch, so run lengths show the span-length distribution
    collate = SpanMaskingCollator.from_tokenizer(tok, mlm_probability=0.005, mask_fraction=1.0, random_fraction=0.0)
    _, labels = collate.mask(enc, np.random.default_rng(0))
    sel = labels != -100
    assert not sel[:, 0].any() and not sel[:, -1].any()
    runs = []
    for row in sel:
        padded = np.concatenate([[0], row.astype(int), [0]])
        edges = np.flatnonzero(np.diff(padded))
        runs += (edges[1::2] - edges[::2]).tolist()
    runs = np.array(runs)
    assert runs.min() >= 4
    clean = runs[runs <= 8]
    assert len(clean) / len(runs) > 0.9
    expected = (1 / np.arange(4, 9)) / (1 / np.arange(4, 9)).sum()
    observed = np.array([(clean == n).mean() for n in range(4, 9)])
    assert np.abs(observed - expected).max() < 0.05
    # rate: the budget is reached and overshoots by less than one span
    collate.mlm_probability = 0.15
    _, labels = collate.mask(enc, np.random.default_rng(1))
    per_row = (labels != -100).sum(axis=1) / 50_000
    assert ((per_row >= 0.15) & (per_row < 0.15 + 8 / 50_000)).all()


def test_aho_corasick_matches_brute_force():
    rng = np.random.default_rng(0)
    patterns = [list(rng.integers(0, 4, rng.integers(1, 6))) for _ in range(30)] + [[0, 0], [0, 0, 0], [1, 2, 1, 2]]
    text = list(rng.integers(0, 4, 3000))
    unique = {tuple(int(c) for c in p) for p in patterns}
    brute = sorted((i, i + len(p)) for p in unique for i in range(len(text) - len(p) + 1) if tuple(text[i : i + len(p)]) == p)
    assert sorted(AhoCorasick(patterns).find(text)) == brute


def test_motif_masking_masks_whole_motifs_and_falls_back():
    tok = NucleotideTokenizer.for_model("rnaernie")
    motifs = ["UGCAUG", "AAUAAA"]
    collate = MotifMaskingCollator.from_tokenizer(tok, motifs=motifs, mlm_probability=0.15, mask_fraction=1.0, random_fraction=0.0)
    filler = "CCGCGCCGCC" * 6
    with_motif = filler + "TGCATG" + filler + "AATAAA" + filler
    no_motif = "CG" * 100
    ids = np.asarray(tok([with_motif, no_motif], padding=True)["input_ids"])
    for seed in range(20):
        _, labels = collate.mask(ids, np.random.default_rng(seed))
        sel = np.flatnonzero(labels[0] != -100) - 1  # nucleotide positions of row 0
        a, b = len(filler), 2 * len(filler) + 6
        whole = [set(range(a, a + 6)), set(range(b, b + 6))]
        assert set(sel.tolist()) in (whole[0], whole[1], whole[0] | whole[1])
        assert (labels[1] != -100).sum() > 0  # no motif in row 1: base-level masking
    with pytest.raises(ValueError, match="motif 0"):
        MotifMaskingCollator.from_tokenizer(tok, motifs=["ACXG"])


def test_motif_masking_with_kmers_masks_covering_kmers():
    tok = NucleotideTokenizer.for_model("utrbert", k=3)
    collate = MotifMaskingCollator.from_tokenizer(tok, motifs=["UGCAUG"], mlm_probability=0.05, mask_fraction=1.0, random_fraction=0.0)
    seq = "CCGCGCCGCC" * 3 + "UGCAUG" + "CCGCGCCGCC" * 3
    ids = np.asarray([tok(seq)["input_ids"]])
    _, labels = collate.mask(ids, np.random.default_rng(0))
    tokens = np.flatnonzero(labels[0] != -100) - 1
    assert tokens.tolist() == list(range(30 - 2, 36))  # every 3-mer covering nucleotides 30..35


def test_schedule_switches_by_step():
    tok = NucleotideTokenizer.for_model("dnabert", k=6)
    schedule = parse_schedule("0:kmer@0.15,3:kmer@0.2", tok)
    assert schedule.current.mlm_probability == 0.15
    schedule.step = 5
    assert schedule.current.mlm_probability == 0.2
    # under a Trainer: the collator only pads; the batch is masked by the stage of the step that trains it
    examples = [{"input_ids": tok("ACGTACGTACGTACGTACGT")["input_ids"], "seed": 7}, {"input_ids": tok("GGCCTTAAGGCC")["input_ids"], "seed": 8}]
    deferred = schedule.defer(examples)
    assert "labels" not in deferred and deferred[MASK_SEED].shape == (4,)
    assert deferred["input_ids"].tolist() == pad_ids(examples, tok.pad_token_id)[0].tolist()

    class Trainer(StepMasking):
        masking = schedule

        class state:
            global_step, max_steps = 2, 10

    for step, rate in ((2, 0.15), (3, 0.2)):
        Trainer.state.global_step = step
        batch = Trainer().mask_scheduled(dict(deferred))
        assert MASK_SEED not in batch and Trainer().scheduled_rate() == rate
        ref = schedule.at(step).mask(deferred["input_ids"].numpy(), np.random.default_rng(deferred[MASK_SEED].tolist()))
        assert batch["input_ids"].tolist() == ref[0].tolist() and batch["labels"].tolist() == ref[1].tolist()
    assert Trainer().mask_scheduled({"input_ids": deferred["input_ids"]}).keys() == {"input_ids"}  # eval batches pass
    with pytest.raises(ValueError, match="step 0"):
        MaskingSchedule([(5, schedule.current)])
    with pytest.raises(ValueError, match="bad masking schedule entry"):
        parse_schedule("0:base,x:span", tok)


def test_all_vocabularies_only_mask_nucleotide_tokens():
    for model_type, k in itertools.chain([("splicebert", None), ("rnaernie", None)], [("utrbert", k) for k in (3, 4, 5, 6)]):
        tok = NucleotideTokenizer.for_model(model_type, k=k)
        collate = BaseMaskingCollator.from_tokenizer(tok, mlm_probability=0.5)
        assert not set(collate.maskable_ids.tolist()) & set(SPECIAL)
        assert len(collate.maskable_ids) == 4 ** tok.k


def test_schedule_stages_counted_from_the_end():
    """The one mask-rate schedule also serves GeneBERT's "20 % for the last N steps" (negative first steps)."""
    tok = NucleotideTokenizer.for_model("dnabert", k=6)
    schedule = parse_schedule("0:kmer@0.15,-10:kmer@0.2", tok)
    assert [schedule.rate_at(s, max_steps=60) for s in (0, 49, 50, 59)] == [0.15, 0.15, 0.2, 0.2]
    assert schedule.rate_at(59) == 0.15  # without max_steps the end is unknown
    rates = MaskingSchedule.rates(WholeKmerMaskingCollator.from_tokenizer(tok), 0.15, 0.2, final_steps=10)
    assert [rates.rate_at(s, 60) for s in (0, 49, 50, 59)] == [0.15, 0.15, 0.2, 0.2]
    assert [rates.rate_at(s, 5) for s in (0, 4)] == [0.2, 0.2]  # more final steps than steps: final throughout

    rates.step, rates.max_steps = 50, 60
    assert rates.mlm_probability == rates.current.mlm_probability == 0.2
    ids = np.asarray(tok(["ACGTACGTACGTAC"], padding=True)["input_ids"])
    out, labels = rates.mask(ids, np.random.default_rng(0))
    ref = rates.current.mask(ids, np.random.default_rng(0))
    assert (out == ref[0]).all() and (labels == ref[1]).all()
    with pytest.raises(ValueError, match="strictly increasing"):
        MaskingSchedule([(0, rates.current), (-5, rates.current), (100, rates.current)])
