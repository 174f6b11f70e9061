"""Heads and losses: problem types (explicit and inferred from num_labels/dtype only), exact loss
values, k-mer → nucleotide mapping, and the low-rank contact head."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import nucleoforge as nf
from nucleoforge.heads import ContactPredictionHead, nucleotide_states, prediction_loss, resolve_problem_type


def test_problem_type_inference_uses_dtype_and_num_labels_only() -> None:
    ints = torch.tensor([0, 1, 1])
    assert resolve_problem_type(None, 1, ints, False) == "binary"
    assert resolve_problem_type(None, 1, ints.float(), False) == "regression"
    # two-valued labels with num_labels=3 stay multiclass (never inferred from the values)
    assert resolve_problem_type(None, 3, ints, False) == "multiclass"
    assert resolve_problem_type(None, 3, torch.tensor([[0, 1, 1]]), True) == "multilabel"
    with pytest.raises(ValueError, match="cannot infer the problem type"):
        resolve_problem_type(None, 3, torch.rand(2, 3), True)
    with pytest.raises(ValueError, match="'binary' needs num_labels=1"):
        resolve_problem_type("binary", 2, ints, False)
    with pytest.raises(ValueError, match="'multiclass' needs num_labels >= 2"):
        resolve_problem_type("multiclass", 1, ints, False)


def test_losses_equal_hand_computation() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 3)
    labels = torch.tensor([2, 0, -100, 1])
    expected = F.cross_entropy(logits[[0, 1, 3]], labels[[0, 1, 3]])
    torch.testing.assert_close(prediction_loss(logits, labels, "multiclass"), expected)
    multi = torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]])
    torch.testing.assert_close(prediction_loss(logits, multi, "multilabel"), F.binary_cross_entropy_with_logits(logits, multi.float()))
    target = torch.randn(4, 3)
    torch.testing.assert_close(prediction_loss(logits, target, "regression"), F.mse_loss(logits, target))
    one = torch.randn(4, 1)
    binary = torch.tensor([1, 0, 1, 1])
    torch.testing.assert_close(prediction_loss(one, binary, None), F.binary_cross_entropy_with_logits(one[:, 0], binary.float()))
    nan_target = torch.tensor([0.5, float("nan"), 1.0, 2.0])
    torch.testing.assert_close(prediction_loss(one, nan_target, "regression"), F.mse_loss(one[[0, 2, 3], 0], nan_target[[0, 2, 3]]))
    with pytest.raises(ValueError, match="do not match logits"):
        prediction_loss(logits, torch.tensor([0, 1]), "multiclass")


@pytest.mark.parametrize("k", [1, 3, 6])
def test_nucleotide_states_kmer_mean_with_padding(k: int) -> None:
    tok = nf.NucleotideTokenizer.for_model("utrbert" if k > 1 else "splicebert", k=k if k > 1 else None)
    seqs = ["ACGUACGUACGU", "GGCAUCGA"]
    for side in ("left", "right"):
        batch = tok(seqs, padding=True, padding_side=side, return_tensors="pt")
        hidden = torch.randn(*batch["input_ids"].shape, 5)
        states, mask = nucleotide_states(hidden, batch["input_ids"], batch["attention_mask"], k, (0, 2, 3))
        assert mask.sum(1).tolist() == [12, 8]
        for b, s in enumerate(seqs):
            real = batch["attention_mask"][b].bool().nonzero()[:, 0]
            tokens = hidden[b, real[1:-1]]  # drop [CLS]/[SEP]
            for i in range(len(s)):
                covering = [t for t in range(len(s) - k + 1) if t <= i < t + k]
                torch.testing.assert_close(states[b, i], tokens[covering].mean(0))


def test_kmer_token_head_gives_nucleotide_resolution_logits() -> None:
    config = nf.UtrBertConfig(k=4, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=32, num_labels=3)
    model = nf.UtrBertForTokenPrediction(config).eval()
    tok = nf.NucleotideTokenizer.for_model("utrbert", k=4)
    batch = tok(["ACGUACGUAAC", "ACGUU"], padding=True, return_tensors="pt")
    out = model(**batch, labels=torch.tensor([[0] * 11, [1] * 5 + [-100] * 6]))
    assert out.logits.shape == (2, 11, 3) and out.nucleotide_mask.sum(1).tolist() == [11, 5]
    with pytest.raises(ValueError, match="labels must be aligned to nucleotides"):
        model(**batch, labels=torch.zeros(2, 12, dtype=torch.long))


def test_contact_head_is_symmetric_low_rank() -> None:
    head = ContactPredictionHead(hidden_size=16, num_labels=2, rank=4, dropout=0.0)
    states = torch.randn(3, 7, 16)
    logits = head(states)
    assert logits.shape == (3, 7, 7, 2)
    torch.testing.assert_close(logits, logits.transpose(1, 2))
    # rank bound: each label's pair matrix (minus the bias) has rank <= 2 * rank
    matrix = logits[0, :, :, 0] - head.bias[0]
    assert torch.linalg.matrix_rank(matrix.detach()) <= 8
    # no parameter grows with sequence length or with hidden × hidden pairs
    assert sum(p.numel() for p in head.parameters()) == 2 * 16 + 2 * (16 * 8 + 8) + 2


def test_contact_loss_ignores_padding_pairs() -> None:
    config = nf.SpliceBertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=32, num_labels=1)
    model = nf.SpliceBertForContactPrediction(config).eval()
    tok = nf.NucleotideTokenizer.for_model("splicebert")
    batch = tok(["ACGUACGU", "ACG"], padding=True, return_tensors="pt")
    labels = torch.randint(0, 2, (2, 8, 8))
    out = model(**batch, labels=labels)
    valid = out.nucleotide_mask[:, :, None] & out.nucleotide_mask[:, None, :]
    expected = F.binary_cross_entropy_with_logits(out.logits[..., 0][valid], labels[valid].float())
    torch.testing.assert_close(out.loss, expected)
