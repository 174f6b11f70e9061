"""Prediction heads (sequence / token / contact), their losses, and k-mer → nucleotide mapping.

Every head works at **nucleotide** resolution: special tokens are dropped, padding is
ignored, and for k-mer vocabularies each nucleotide takes the mean of the states of the
(up to k) k-mers covering it.

Problem types (``config.problem_type``):

=============  ===========  ======================================  =================
problem type   num_labels   labels                                  loss
=============  ===========  ======================================  =================
binary         1            int or float 0/1, shape (...,)           BCE with logits
multiclass     >= 2         int class index, shape (...,)            cross-entropy
multilabel     >= 1         0/1 per label, shape (..., num_labels)   BCE with logits
regression     >= 1         float, shape (...,) or (..., num_labels) MSE
=============  ===========  ======================================  =================

``problem_type=None`` infers it from ``num_labels`` and the label **dtype/shape** only
(never from label values): ``num_labels == 1`` → float labels regression, integer labels
binary; ``num_labels > 1`` → integer labels without a label axis multiclass, with a label
axis multilabel; float labels with ``num_labels > 1`` are ambiguous and raise.
Positions whose label is ``-100`` (or NaN for float labels) are ignored.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from transformers.activations import ACT2FN

from nucleoforge.errors import NucleoforgeError
from nucleoforge.tokenization import IGNORE_INDEX, covered_length, tokens_to_nucleotides


# ---------------------------------------------------------------------------- nucleotide mapping
def nucleotide_states(
    hidden: torch.Tensor,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    k: int,
    special_ids: tuple[int, ...],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-nucleotide states from token states, for left- or right-padded batches.

    Drops special tokens (``special_ids``) and padding, left-aligns every sequence, and for
    k-mer tokens (``k > 1``) gives nucleotide *i* the mean of the k-mers covering it.

    Returns ``(states, mask)``: ``(B, N, H)`` and ``(B, N)`` bool, where ``N`` is the longest
    sequence in nucleotides. Works in any dtype (bf16 included).

    >>> h = torch.arange(5.0).view(1, 5, 1)            # [CLS] t0 t1 t2 [SEP]
    >>> ids = torch.tensor([[2, 10, 11, 12, 3]])
    >>> s, m = nucleotide_states(h, ids, None, k=2, special_ids=(0, 2, 3))
    >>> s[0, :, 0].tolist(), m.tolist()
    ([1.0, 1.5, 2.5, 3.0], [[True, True, True, True]])
    """
    is_token = ~torch.isin(input_ids, torch.tensor(special_ids, device=input_ids.device))
    if attention_mask is not None:
        is_token &= attention_mask.bool()
    counts = is_token.sum(dim=1)
    batch, _, width = hidden.shape
    max_tokens = int(counts.max()) if counts.numel() else 0
    rank = torch.cumsum(is_token.long(), dim=1) - 1
    rows = torch.arange(batch, device=hidden.device).unsqueeze(1).expand_as(rank)
    tokens = hidden.new_zeros(batch, max(max_tokens, 1), width)
    tokens[rows[is_token], rank[is_token]] = hidden[is_token]
    token_mask = torch.arange(tokens.shape[1], device=hidden.device)[None, :] < counts[:, None]
    if k == 1:
        return tokens[:, :max_tokens], token_mask[:, :max_tokens]
    # nucleotide i <- mean of its covering tokens max(0, i-k+1) .. min(i, count-1)
    weight = token_mask.to(hidden.dtype).unsqueeze(-1)
    total = tokens_to_nucleotides(tokens * weight, k, axis=1)
    norm = tokens_to_nucleotides(weight, k, axis=1)
    states = total / norm.clamp(min=1)
    lengths = covered_length(counts, k)
    n_max = int(lengths.max()) if lengths.numel() else 0
    mask = torch.arange(states.shape[1], device=hidden.device)[None, :] < lengths[:, None]
    return states[:, :n_max], mask[:, :n_max]


# ---------------------------------------------------------------------------- losses
def resolve_problem_type(problem_type: str | None, num_labels: int, labels: torch.Tensor, label_axis: bool) -> str:
    """The configured problem type, or one inferred from ``num_labels`` and the labels' dtype/shape.

    ``label_axis`` says whether ``labels`` carries a trailing ``num_labels`` axis.
    """
    if problem_type is not None:
        _check_problem_type(problem_type, num_labels)
        return problem_type
    if num_labels == 1:
        return "regression" if labels.is_floating_point() else "binary"
    if not labels.is_floating_point():
        return "multilabel" if label_axis else "multiclass"
    raise NucleoforgeError(
        f"cannot infer the problem type of float labels with num_labels={num_labels}: set "
        "config.problem_type to 'multilabel' or 'regression'"
    )


def _check_problem_type(problem_type: str, num_labels: int) -> None:
    if problem_type == "binary" and num_labels != 1:
        raise NucleoforgeError(f"problem_type 'binary' needs num_labels=1 (one logit), got num_labels={num_labels}")
    if problem_type == "multiclass" and num_labels < 2:
        raise NucleoforgeError(f"problem_type 'multiclass' needs num_labels >= 2, got num_labels={num_labels}")


def prediction_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    problem_type: str | None,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Loss of ``logits`` ``(..., num_labels)`` against ``labels`` for any problem type.

    ``valid`` (same leading shape as ``logits`` minus the label axis) restricts the loss to
    real positions; labels equal to ``-100`` (or NaN) are ignored too.

    >>> logits = torch.tensor([[2.0, -1.0], [0.5, 0.5]])
    >>> round(prediction_loss(logits, torch.tensor([0, 1]), None).item(), 4)
    0.3709
    """
    num_labels = logits.shape[-1]
    lead = logits.shape[:-1]
    label_axis = labels.dim() == logits.dim() and labels.shape[-1] == num_labels and labels.shape != lead
    if labels.dim() == logits.dim() and not label_axis and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    if not label_axis and labels.shape != lead:
        raise NucleoforgeError(f"labels of shape {tuple(labels.shape)} do not match logits of shape {tuple(logits.shape)}")
    kind = resolve_problem_type(problem_type, num_labels, labels, label_axis)
    flat_logits = logits.reshape(-1, num_labels).float()
    flat_labels = labels.reshape(-1, num_labels) if label_axis else labels.reshape(-1)
    keep = torch.ones(flat_logits.shape[0], dtype=torch.bool, device=logits.device)
    if valid is not None:
        keep &= valid.reshape(-1)
    ignored = flat_labels == IGNORE_INDEX
    if flat_labels.is_floating_point():
        ignored = ignored | torch.isnan(flat_labels)
    keep &= ~(ignored.any(dim=-1) if label_axis else ignored)
    flat_logits, flat_labels = flat_logits[keep], flat_labels[keep]
    if flat_logits.shape[0] == 0:
        return logits.sum() * 0.0
    if kind == "multiclass":
        if label_axis:
            raise NucleoforgeError("multiclass labels are class indices without a label axis")
        return F.cross_entropy(flat_logits, flat_labels.long())
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(flat_logits.squeeze(-1), flat_labels.reshape(-1).float())
    if kind == "multilabel":
        if not label_axis:
            if num_labels != 1:
                raise NucleoforgeError(f"multilabel labels need a trailing axis of size num_labels={num_labels}")
            flat_labels = flat_labels.unsqueeze(-1)
        return F.binary_cross_entropy_with_logits(flat_logits, flat_labels.float())
    target = flat_labels.float()
    return F.mse_loss(flat_logits.squeeze(-1) if not label_axis else flat_logits, target)


# ---------------------------------------------------------------------------- heads
class PredictionHead(nn.Module):
    """dropout → dense → activation → dropout → ``num_labels`` logits, over the last axis.

    Serves the sequence head (on the pooled ``(B, H)`` vector) and the token head (on the
    ``(B, N, H)`` nucleotide states).
    """

    def __init__(self, hidden_size: int, num_labels: int, dropout: float, activation: str = "gelu") -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = ACT2FN[activation]
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.activation(self.dense(self.dropout(states)))))


class ContactPredictionHead(nn.Module):
    """Symmetric low-rank bilinear pair scores: ``s_ij = (q_i·k_j + q_j·k_i) / 2√r + b``.

    Memory is ``B × N × N × num_labels`` for the output plus ``B × N × r`` projections —
    never the ``B × N × N × hidden`` pair tensor.
    """

    def __init__(self, hidden_size: int, num_labels: int, rank: int, dropout: float) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.rank = rank
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden_size)
        self.query = nn.Linear(hidden_size, num_labels * rank)
        self.key = nn.Linear(hidden_size, num_labels * rank)
        self.bias = nn.Parameter(torch.zeros(num_labels))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        batch, n, _ = states.shape
        x = self.dropout(self.norm(states))
        q = self.query(x).view(batch, n, self.num_labels, self.rank)
        k = self.key(x).view(batch, n, self.num_labels, self.rank)
        scores = torch.einsum("bilr,bjlr->bijl", q, k) / math.sqrt(self.rank)
        return (scores + scores.transpose(1, 2)) / 2 + self.bias
