"""Train SpliceAI (-80/-400/-2k/-10k) on a ``nucleoforge splice-data`` dataset, from scratch or by transfer.

**Data** (format ``nucleoforge-splice-data/1``): ``DIR/dataset.json`` (``context`` C, ``block``)
and ``DIR/{train,validation,test}.h5`` with ``X`` uint8 ``(N, block + C)`` (0 = N, 1–4 = A, C, G,
T, on the transcript's strand), ``Y`` int8 ``(N, block)`` (0 neither, 1 acceptor, 2 donor, -1
padding) and ``W`` uint8 ``(N, block)`` (1 = the position counts). A model of context ``c <= C``
reads ``X[:, (C - c) // 2 : (C - c) // 2 + block + c]``; one-hot = ``eye(5)[X][..., 1:]`` (N →
zeros). **A training example is one block row**; a batch is ``batch_size`` rows (64 by default),
so one step trains ``64 × block`` positions. Memory grows with ``block + c`` per row: SpliceAI-10k
at batch 64 keeps about 10 GB of activations for the backward pass (fp32; measure with
``bench/train_splice.py``); lower ``--batch-size`` if that does not fit.

**Loss.** Per-position cross-entropy weighted by ``W × w[y]``, summed and divided by the number of
counted positions (W = 1) of the batch. The class weights come from the *training split's*
counted positions (``n0`` neither, ``n1`` acceptors, ``n2`` donors, ``n = n0 + n1 + n2``)::

    w_neither = n / (2 n0),  w_acceptor = n / (4 n1),  w_donor = n / (4 n2)

so that over the training split the positives weigh as much as the negatives (``w1 n1 + w2 n2 =
w0 n0 = n / 2``), acceptors as much as donors (``w1 n1 = w2 n2 = n / 4``), and the mean weight of
a counted position is 1 (:func:`class_weights`).

**Optimiser and schedule.** Adam (``torch.optim.AdamW`` with weight decay 0, which is Adam;
betas 0.9/0.999, eps 1e-8), no gradient clipping, learning rate ``lr_t = max(floor, lr · γ^t)``
at optimizer step ``t = 0 … T-1``; by default ``γ = (floor / lr)^(1 / (T - 1))`` so that the
floor (1e-5) is reached exactly at the last step ``T - 1`` (:func:`decay_rate`); ``lr_decay``
sets γ per step instead.

**Transfer.** ``init`` (``spliceai-10k``, ``spliceai-10k-N`` or a saved folder) gives the
architecture and the starting weights: member ``i`` starts from the init model's member ``i``
(the number of members must then equal the init's), or every member from ``init_member``.
``context`` must equal the init model's. ``freeze_stages = N`` freezes the input convolutions and
the first N stages (their weights *and* their BatchNorm statistics: frozen BatchNorms run in
eval mode).

**Members.** ``members = N`` trains N networks one after another, member ``i`` with seed
``seed + i`` (initial weights and data order), each its own ``Trainer`` run into
``OUT/member-i`` (checkpoints, ``log.jsonl``, its final weights and ``member.json``). They are then
assembled into one :class:`~nucleoforge.models.spliceai.SpliceAIModel` folder ``OUT``
(``num_members = N``, member ``i``'s weights under ``members.i.*``; the ensemble averages the
members' softmax outputs) with ``config.json``, ``model.safetensors``, ``training.json`` (data
identity, every setting, class weights, per-member and ensemble metrics) and ``metrics.json``.
``OUT`` loads wherever a SpliceAI model is accepted (``SpliceAIModel.from_pretrained``,
``nucleoforge splice / variants / evaluate-splice --model OUT``).

**Resume** (``resume=True``): members with a ``member.json`` are skipped, the first unfinished
member continues from its last checkpoint (exactly: the batches depend only on the seed, the
epoch and the row indices, and the Trainer restores weights, BatchNorm statistics, optimizer,
scheduler and RNG), later members start fresh. A resume is refused when the settings, the data
or the init weights differ from the run's ``training.manifest.json``.

**Validation.** After every epoch and at the end, top-k accuracy and PR-AUC (average precision)
for acceptors and donors over the validation split's counted positions (the same
:func:`~nucleoforge.splicing.evaluation.topk_accuracy` and
:func:`~nucleoforge.splicing.evaluation.average_precision` as ``evaluate-splice``), logged as
``eval_acceptor_topk`` … and written to ``OUT/metrics.json`` as they come.

**Token heads.** ``model_type`` (a BERT-family type, with ``config_overrides`` sizing a fresh
encoder) or an ``init`` folder of a BERT-family model trains a 3-class per-nucleotide head
instead (one model, no members): each block is cut into pieces of ``width`` labelled positions
read with ``context / 2`` nt each side (:class:`SpliceWindowDataset`; default context
:data:`LM_CONTEXT`, width = the model's longest input minus the context), with the same loss,
schedule, validation, resume and DDP. ``OUT`` is that model's folder; its config keeps
``splice_windows`` for :func:`nucleoforge.splicing.split_evaluation.evaluate_split`.

**Faults.** Every label of the train and validation splits is checked when they are opened (Y in
{-1, 0, 1, 2}, W in {0, 1}); a split HDF5 cannot open or read (a truncated copy, a corrupted
chunk) is one error naming the file, the dataset and the rows, also when the rows are read
mid-run (in a dataloader worker too). A step whose loss or gradient norm is not finite stops the
run before its optimizer step, with one error naming the step and the likely causes (a learning
rate far too high, bad labels). A run in a new (missing or empty) ``OUT`` that stops before any
member has a checkpoint leaves ``OUT`` as it was, so the same command can simply be run again.

**DDP.** Under ``torchrun --nproc_per_node K`` (gloo on CPU, NCCL on GPUs) the Trainer shards the
rows: each rank trains on its own ``batch_size`` rows per step (global batch ``K × batch_size``);
BatchNorm statistics are per rank (no SyncBatchNorm); validation is sharded and gathered; only
rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.splice_h5 import SpliceDataset, one_hot_codes, read_rows, read_splice_dataset
from nucleoforge.models.spliceai import SPLICEAI_10K_STAGES, SPLICEAI_VARIANTS, SpliceAIConfig, SpliceAIModel
from nucleoforge.splicing.evaluation import average_precision, topk_accuracy
from nucleoforge.tokenization import IGNORE_INDEX
from nucleoforge.training.pretrain import (
    JsonLogCallback,
    finish_distributed,
    replace_at_first_checkpoint,
    training_arguments,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CONTEXTS",
    "LM_CONTEXT",
    "SpliceBlockDataset",
    "SpliceMetrics",
    "SpliceTokenTrainer",
    "SpliceTrainer",
    "SpliceWindowDataset",
    "collate_windows",
    "ExponentialDecay",
    "assemble_members",
    "check_model_context",
    "check_split",
    "open_split_file",
    "class_counts",
    "class_weights",
    "decay_rate",
    "exponential_lr",
    "freeze_first_stages",
    "open_dataset",
    "reuse_freed_cpu_memory",
    "splice_config",
    "train_splice",
    "weighted_splice_loss",
]

#: ``--context`` values: total context (both sides) -> paper variant
CONTEXTS: dict[int, str] = {80: "spliceai-80", 400: "spliceai-400", 2000: "spliceai-2k", 10000: "spliceai-10k"}
_MANIFEST_COMMAND = "train-splice"


# ---------------------------------------------------------------------------- data
def open_dataset(data_dir: str | os.PathLike) -> SpliceDataset:
    """The dataset folder (:func:`nucleoforge.io.splice_h5.read_splice_dataset`), with ``context``
    (even, >= 0) and ``block`` (> 0) checked."""
    ds = read_splice_dataset(data_dir)
    meta_path = Path(data_dir) / "dataset.json"
    for key in ("context", "block"):
        value = ds.meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "block" else 0):
            raise NucleoforgeError(f"{meta_path}: {key!r} must be a {'positive' if key == 'block' else 'non-negative'} integer, got {value!r}")
    if ds.context % 2:
        raise NucleoforgeError(f"{meta_path}: context {ds.context} is odd; SpliceAI contexts are even (C/2 each side)")
    return ds


def _split_path(ds: SpliceDataset, split: str) -> Path:
    path = ds.path / f"{split}.h5"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; train-splice needs the train and validation splits of {ds.path}")
    return path


def check_split(path: Path, h5: Any, context: int, block: int) -> int:
    """Number of rows of one split file after checking X, Y and W (names, dtypes, shapes)."""
    want = {"X": (np.uint8, block + context), "Y": (np.int8, block), "W": (np.uint8, block)}
    rows = None
    for name, (dtype, width) in want.items():
        if name not in h5:
            raise NucleoforgeError(f"{path}: dataset {name!r} is missing (expected X, Y and W)")
        d = h5[name]
        if d.ndim != 2 or d.shape[1] != width:
            raise NucleoforgeError(f"{path}: {name} has shape {d.shape}, expected (N, {width}) for block {block} and context {context}")
        if d.dtype != dtype:
            raise NucleoforgeError(f"{path}: {name} has dtype {d.dtype}, expected {np.dtype(dtype).name}")
        if rows is not None and d.shape[0] != rows:
            raise NucleoforgeError(f"{path}: X, Y and W have different row counts ({rows} and {d.shape[0]})")
        rows = d.shape[0]
    if not rows:
        raise NucleoforgeError(f"{path}: the split is empty (0 blocks)")
    return int(rows)


def check_model_context(dataset: SpliceDataset, model_context: int) -> None:
    """The stored context C covers a model of context ``c`` (``c <= C``, ``C - c`` even, so both
    sides are cropped alike); else one error naming the folder."""
    context = dataset.context
    if model_context > context or (context - model_context) % 2:
        raise NucleoforgeError(f"{dataset.path}: the data holds {context} nt of context, the model needs {model_context}"
                         + ("; rebuild the data with a larger --context (or train a smaller --context)"
                            if model_context > context else " (the difference must be even to crop both sides alike)"))


def open_split_file(dataset: SpliceDataset, split: str) -> tuple[Path, int]:
    """``(path, rows)`` of one split after :func:`check_split` and a check of every label
    (:meth:`~nucleoforge.io.splice_h5.SpliceDataset.label_counts`); a missing file, one that is not
    HDF5 or cannot be read, or a label out of range is one error naming it."""
    path = dataset.file(split)
    with dataset.open(split) as h5:
        try:
            rows = check_split(path, h5, dataset.context, dataset.block)
        except (OSError, RuntimeError, KeyError) as exc:  # a damaged object header or index
            reason = " ".join(str(exc).strip("'\"").split())
            raise NucleoforgeError(f"{path}: cannot read its X, Y and W datasets ({reason}); the file is damaged: "
                                   "rebuild the dataset with nucleoforge splice-data") from None
    dataset.label_counts(split)  # Y in {-1, 0, 1, 2}, W in {0, 1}: found now, not as an IndexError mid-run
    return path, rows


class SpliceBlockDataset(torch.utils.data.Dataset):
    """The block rows of one split as training examples for a model of context ``model_context``.

    Item ``i``: ``{"input": (block + c, 4) float32 one-hot, "labels": (block,) int64 (class, or
    -100 where W = 0 or Y = -1), "block_index": i}``. Depends only on ``i`` (no randomness), so
    a resumed run sees the same batches. The h5 file is opened lazily in each process.
    """

    def __init__(self, dataset: SpliceDataset, split: str, model_context: int) -> None:
        self.dataset, self.split = dataset, split
        _split_path(dataset, split)  # train-splice's message for a missing split
        self.block, self.context, data_context = dataset.block, model_context, dataset.context
        check_model_context(dataset, model_context)
        self.offset = (data_context - model_context) // 2
        self.path, self.rows = open_split_file(dataset, split)
        self._h5: Any = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self.rows

    def __getstate__(self) -> dict[str, Any]:  # dataloader workers open their own handle
        return {**self.__dict__, "_h5": None, "_pid": None}

    def _file(self) -> Any:
        if self._h5 is None or self._pid != os.getpid():
            self._h5, self._pid = self.dataset.open(self.split), os.getpid()
        return self._h5

    def read(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, Y, W)`` rows ``indices`` (in that order), X cropped to the model's context."""
        idx = np.asarray(indices, dtype=np.int64)
        order, back = np.unique(idx, return_inverse=True)  # h5py reads increasing unique indices in one call
        rows = order.tolist()
        h5 = self._file()
        x = read_rows(h5["X"], (rows, slice(self.offset, self.offset + self.block + self.context)))
        return x[back], read_rows(h5["Y"], rows)[back], read_rows(h5["W"], rows)[back]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        x, y, w = self.read(indices)
        labels = np.where((w > 0) & (y >= 0), y, IGNORE_INDEX).astype(np.int64)
        onehot = one_hot_codes(x)
        return [{"input": onehot[j], "labels": labels[j], "block_index": int(i)} for j, i in enumerate(indices)]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]


class SpliceWindowDataset(SpliceBlockDataset):
    """The block rows of one split cut into language-model windows (a token head, GeneBERT Table 4).

    A model that reads at most ``max_nucleotides`` cannot see a whole block plus its context, so
    each block of ``B`` labelled positions is cut into ``ceil(B / width)`` pieces; piece ``p``
    labels block positions ``[p·width, (p+1)·width)`` and its window adds ``context / 2`` nt each
    side (the same bases SpliceAI-``context`` sees around them; N past the stored sequence).
    Pieces without a counted position are left out. Item ``i``: ``{"input_ids": (T,) int64 with
    [CLS]/[SEP], "attention_mask", "labels": (width + context,) int64 per nucleotide (-100 on the
    flanks, where W = 0 and past the block), "block_index": row · pieces + p}``.
    """

    def __init__(self, dataset: SpliceDataset, split: str, context: int, width: int, tokenizer: Any) -> None:
        super().__init__(dataset, split, context)
        if not 1 <= width:
            raise NucleoforgeError(f"--width must be >= 1, got {width}")
        self.width, self.tokenizer = min(width, self.block), tokenizer
        self.pieces = -(-self.block // self.width)
        counted = np.zeros((self.rows, self.pieces), dtype=bool)
        with dataset.open(split) as h5:
            for start in range(0, self.rows, 1024):
                y, w = read_rows(h5["Y"], slice(start, start + 1024)), read_rows(h5["W"], slice(start, start + 1024))
                keep = np.pad((w > 0) & (y >= 0), ((0, 0), (0, self.pieces * self.width - self.block)))
                counted[start : start + len(y)] = keep.reshape(len(y), self.pieces, self.width).any(-1)
        self.items = np.flatnonzero(counted.reshape(-1))
        if not len(self.items):
            raise NucleoforgeError(f"{self.path}: no counted position (W = 1) in the split")

    def __len__(self) -> int:
        return len(self.items)

    def windows(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(codes (n, width + context) uint8, labels (n, width + context) int64)`` of items ``indices``."""
        flat = self.items[np.asarray(indices, dtype=np.int64)]
        rows, piece = np.divmod(flat, self.pieces)
        x, y, w = self.read(rows)  # x: (n, block + context), the model's context around each block
        span = self.pieces * self.width
        x = np.pad(x, ((0, 0), (0, span - self.block)))  # N past the stored sequence
        labels = np.pad(np.where((w > 0) & (y >= 0), y, IGNORE_INDEX).astype(np.int64),
                        ((0, 0), (self.context // 2, span - self.block + self.context // 2)), constant_values=IGNORE_INDEX)
        cols = (piece * self.width)[:, None] + np.arange(self.width + self.context)[None, :]
        codes = np.take_along_axis(x, cols, axis=1)
        labels = np.take_along_axis(labels, cols, axis=1)
        flank = np.r_[np.ones(self.context // 2, bool), np.zeros(self.width, bool), np.ones(self.context // 2, bool)]
        labels[:, flank] = IGNORE_INDEX
        return codes, labels

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        codes, labels = self.windows(indices)
        letters = _CODE_LETTERS[codes]
        ids = self.tokenizer.encode_sequences([row.tobytes().decode("ascii") for row in letters], add_special_tokens=True)
        return [{"input_ids": ids[j], "labels": labels[j], "block_index": int(i)} for j, i in enumerate(indices)]


#: splice-data codes -> letters (0 = N, 1-4 = A, C, G, T)
_CODE_LETTERS = np.frombuffer(b"NACGT", dtype=np.uint8)


def collate_windows(examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack :class:`SpliceWindowDataset` items (all of one length) into ``input_ids``, ``attention_mask``, ``labels``."""
    ids = torch.from_numpy(np.stack([e["input_ids"] for e in examples]))
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": torch.from_numpy(np.stack([e["labels"] for e in examples])),
        "block_index": torch.tensor([e["block_index"] for e in examples], dtype=torch.long),
    }


def collate_blocks(examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack :class:`SpliceBlockDataset` items into ``input`` (B, block + c, 4), ``labels`` (B, block), ``block_index`` (B,)."""
    return {
        "input": torch.from_numpy(np.stack([e["input"] for e in examples])),
        "labels": torch.from_numpy(np.stack([e["labels"] for e in examples])),
        "block_index": torch.tensor([e["block_index"] for e in examples], dtype=torch.long),
    }


def class_counts(dataset: SpliceDataset, split: str = "train", chunk_rows: int = 1024) -> np.ndarray:
    """Counted positions (W = 1, Y >= 0) per class ``[neither, acceptor, donor]`` of one split
    (every label checked; :meth:`~nucleoforge.io.splice_h5.SpliceDataset.label_counts`)."""
    _split_path(dataset, split)
    return dataset.label_counts(split, chunk_rows)


def class_weights(counts: Sequence[int]) -> np.ndarray:
    """``[w_neither, w_acceptor, w_donor]`` from class counts: positives weigh as much as negatives,
    acceptors as much as donors, mean weight 1 over the counted positions.

    >>> class_weights([96, 3, 1]).tolist()
    [0.5208333333333334, 8.333333333333334, 25.0]
    """
    n0, n1, n2 = (int(c) for c in counts)
    for name, n in (("neither", n0), ("acceptor", n1), ("donor", n2)):
        if n <= 0:
            raise NucleoforgeError(f"the training split has no counted {name} position (W = 1); the classes cannot be weighted")
    total = n0 + n1 + n2
    return np.array([total / (2 * n0), total / (4 * n1), total / (4 * n2)], dtype=np.float64)


# ---------------------------------------------------------------------------- loss, schedule, metrics
def weighted_splice_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(w[y] · CE) / #counted`` over positions with ``labels != -100``.

    ``logits`` ``(..., L, 3)``, ``labels`` ``(B, L)`` broadcastable to ``logits.shape[:-1]``
    (``(B, M, L, 3)`` member logits with ``(B, L)`` labels: each member's loss, averaged).
    """
    if labels.dim() < logits.dim() - 1:
        labels = labels.unsqueeze(1).expand(logits.shape[:-1])
    valid = labels != IGNORE_INDEX
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), safe.reshape(-1), reduction="none")
    w = weights.to(device=logits.device, dtype=torch.float32)[safe.reshape(-1)] * valid.reshape(-1)
    return (w * nll).sum() / valid.sum().clamp_min(1)


def decay_rate(total_steps: int, learning_rate: float, floor: float) -> float:
    """γ such that ``learning_rate · γ^(total_steps - 1) = floor`` (1.0 for a single step).

    >>> round(decay_rate(5, 1e-3, 1e-5), 6)
    0.316228
    """
    if not learning_rate > 0:
        raise NucleoforgeError(f"--lr must be positive, got {learning_rate}")
    if not 0 < floor <= learning_rate:
        raise NucleoforgeError(f"--lr-floor must be in (0, --lr] when --lr-decay is not given, got {floor} with --lr {learning_rate}")
    if total_steps <= 1:
        return 1.0
    return (floor / learning_rate) ** (1.0 / (total_steps - 1))


def exponential_lr(step: int, learning_rate: float, floor: float, gamma: float) -> float:
    """``max(floor, learning_rate · gamma^step)``: the rate of optimizer step ``step`` (0-based)."""
    return max(floor, learning_rate * gamma**step)


class ExponentialDecay:
    """``LambdaLR`` factor of :func:`exponential_lr`: ``max(floor / lr, gamma^step)``."""

    def __init__(self, learning_rate: float, floor: float, gamma: float) -> None:
        if not learning_rate > 0:
            raise NucleoforgeError(f"--lr must be positive, got {learning_rate}")
        if not 0 < gamma <= 1:
            raise NucleoforgeError(f"--lr-decay must be in (0, 1], got {gamma}")
        if floor < 0:
            raise NucleoforgeError(f"--lr-floor must be >= 0, got {floor}")
        self.floor_ratio, self.gamma = floor / learning_rate, gamma

    def __call__(self, step: int) -> float:
        return max(self.floor_ratio, self.gamma**step)


class SpliceMetrics:
    """``compute_metrics`` for ``batch_eval_metrics``: gathers acceptor/donor probabilities of the
    counted positions batch by batch; at the last batch, top-k accuracy (k = number of true sites)
    and PR-AUC per class, pooled over all counted positions."""

    def __init__(self) -> None:
        self._labels: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []

    def add(self, probabilities: Any, labels: Any) -> None:
        """``probabilities`` (B, L, 3) or (B, L, 2) acceptor/donor; ``labels`` (B, L), -100 = not counted."""
        p = probabilities.detach().float().cpu().numpy() if torch.is_tensor(probabilities) else np.asarray(probabilities)
        y = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
        if p.shape[-1] == 3:
            p = p[..., 1:]
        keep = y != IGNORE_INDEX
        self._labels.append(y[keep].astype(np.int8))
        self._scores.append(p[keep].astype(np.float32))

    def result(self) -> dict[str, float]:
        y = np.concatenate(self._labels) if self._labels else np.zeros(0, np.int8)
        p = np.concatenate(self._scores) if self._scores else np.zeros((0, 2), np.float32)
        self._labels, self._scores = [], []
        out: dict[str, float] = {"positions": int(len(y))}
        for c, name in ((1, "acceptor"), (2, "donor")):
            out[f"{name}s"] = int((y == c).sum())
            out[f"{name}_topk"] = topk_accuracy(y == c, p[:, c - 1])
            out[f"{name}_pr_auc"] = average_precision(y == c, p[:, c - 1])
        return out

    def __call__(self, eval_pred: Any, compute_result: bool = True) -> dict[str, float]:
        self.add(eval_pred.predictions, eval_pred.label_ids)
        return self.result() if compute_result else {}


def _acceptor_donor(logits: Any, labels: Any) -> Any:
    """``preprocess_logits_for_metrics``: keep the acceptor and donor probabilities only."""
    probs = logits[0] if isinstance(logits, (tuple, list)) else logits
    return probs[..., 1:]


# ---------------------------------------------------------------------------- models
def splice_config(context: int | None = None, overrides: dict[str, Any] | None = None) -> SpliceAIConfig:
    """A one-member :class:`SpliceAIConfig` for ``context`` (80, 400, 2000, 10000; default 10000),
    or from ``overrides`` (``stages``, ``channels``, ``batch_norm_eps``); both must agree."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {"stages", "channels", "batch_norm_eps"})
    if unknown:
        raise NucleoforgeError(f"--config: unknown SpliceAI setting(s) {', '.join(unknown)}; expected stages, channels, batch_norm_eps")
    if context is not None and context not in CONTEXTS:
        raise NucleoforgeError(f"--context {context}: expected one of {', '.join(map(str, CONTEXTS))} (SpliceAI-80/400/2k/10k)")
    if "stages" not in overrides:
        n = SPLICEAI_VARIANTS[CONTEXTS[context or 10000]]
        overrides["stages"] = [list(s) for s in SPLICEAI_10K_STAGES[:n]]
    config = SpliceAIConfig(**overrides, num_members=1)
    if context is not None and config.context != context:
        raise NucleoforgeError(f"--context {context} does not match the --config stages {config.stages} (context {config.context})")
    return config


#: default total context (both sides) of a language-model token head: the SpliceAI-400 setting
LM_CONTEXT = 400
#: the token head's classes, as in the labels Y
SPLICE_LABELS = {0: "neither", 1: "acceptor", 2: "donor"}


def _language_model_type(model_type: str | None, init: str | os.PathLike | None) -> str | None:
    """The BERT-family model type to train a token head for, or None for SpliceAI.

    ``model_type`` names it for a fresh model; otherwise an ``init`` folder's ``config.json`` decides.
    """
    from nucleoforge import registry
    from nucleoforge.io.checkpoints import folder_model_type

    if model_type is not None:
        entry = registry.family(model_type)  # an unknown type: one error naming the known ones
        if entry.kind == "spliceai":
            return None
        if entry.kind != "bert":
            raise NucleoforgeError(f"--model-type {model_type}: train-splice trains SpliceAI or a BERT-family token head; expected "
                             f"spliceai or one of {', '.join(f.model_type for f in registry.families(kind='bert'))}")  # fmt: skip
        if init is not None:
            found = folder_model_type(init)
            if registry.family(found).model_type != entry.model_type:
                raise NucleoforgeError(f"--init {init} is a {found} model, not {entry.model_type} (--model-type)")
        return entry.model_type
    if init is None or not Path(str(init)).exists():
        return None  # SpliceAI: a fresh model or named weights (spliceai-10k)
    found = folder_model_type(init)
    entry = registry.family(found)
    return entry.model_type if entry.kind == "bert" else None


def _token_head_model(model_type: str, init: str | os.PathLike | None, overrides: dict[str, Any]) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a 3-class token head on a fresh ``model_type`` encoder (config
    ``overrides``) or on the encoder of the ``init`` folder."""
    from nucleoforge.training.pretrain import load_model, new_model

    head = {"num_labels": 3, "problem_type": "multiclass", "id2label": dict(SPLICE_LABELS),
            "label2id": {v: k for k, v in SPLICE_LABELS.items()}}  # fmt: skip
    if init is not None:
        return load_model(init, "ForTokenPrediction", **head)
    return new_model(model_type, {**overrides, **head}, head="ForTokenPrediction")


def _architecture(config: Any) -> dict[str, Any]:
    """The encoder settings a resume must match (a BERT-family config, without bookkeeping keys)."""
    keep = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings", "k", "position_embedding_type", "hidden_act")  # fmt: skip
    return {k: getattr(config, k) for k in keep if hasattr(config, k)}


def freeze_first_stages(model: SpliceAIModel, n: int) -> list[torch.nn.Module]:
    """Freeze the input convolutions and the first ``n`` stages of every member (``n = 0``: nothing).

    Returns the frozen BatchNorm modules; :class:`SpliceTrainer` keeps them in eval mode, so their
    running statistics stay as loaded too.
    """
    stages = len(model.config.stages)
    if not 0 <= n <= stages:
        raise NucleoforgeError(f"--freeze-stages {n}: the model has {stages} stage(s)")
    if n == 0:
        return []
    frozen: list[torch.nn.Module] = []
    for member in model.members:
        for module in (member.input_conv, member.input_skip, *member.stages[:n]):
            module.requires_grad_(False)
            frozen += [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    return frozen


def _single_member(config: SpliceAIConfig, source: SpliceAIModel | None = None, member: int = 0) -> SpliceAIModel:
    """A one-member model of ``config``; with ``source``, its member ``member``'s weights."""
    # new weights: a calibration fitted to the init model's outputs no longer applies
    one = SpliceAIConfig(**{**config.to_dict(), "num_members": 1, "calibration_temperatures": None, "calibration": None})
    model = SpliceAIModel(one)
    if source is not None:
        model.members[0].load_state_dict(source.members[member].state_dict(), strict=True)
    return model


def assemble_members(folders: Sequence[str | os.PathLike], output_dir: str | os.PathLike) -> SpliceAIModel:
    """Put the one-member models saved in ``folders`` into one ensemble saved to ``output_dir``.

    Member ``i``'s weights go to ``members.i.*``; the architecture of every folder must be the same.
    Writes ``config.json`` and ``model.safetensors``; returns the ensemble (eval mode).
    """
    parts = [SpliceAIModel.from_pretrained(f) for f in folders]
    if not parts:
        raise NucleoforgeError("assemble_members: no member folders given")
    first = parts[0].config
    for f, m in zip(folders, parts):
        if m.config.stages != first.stages or m.config.channels != first.channels or m.config.num_members != 1:
            raise NucleoforgeError(f"{f}: member architecture (stages {m.config.stages}, channels {m.config.channels}, "
                             f"{m.config.num_members} members) differs from {folders[0]}'s")  # fmt: skip
    config = SpliceAIConfig(**{**first.to_dict(), "num_members": len(parts)})
    config.architectures = ["SpliceAIModel"]
    ensemble = SpliceAIModel(config)
    for i, m in enumerate(parts):
        ensemble.members[i].load_state_dict(m.members[0].state_dict(), strict=True)
    ensemble.save_pretrained(str(output_dir))
    return ensemble.eval()


def reuse_freed_cpu_memory() -> bool:
    """Let glibc serve large CPU tensors from its heap and keep freed memory for reuse.

    By default glibc ``mmap``s every allocation over 32 MB and unmaps it when freed, so each
    training step page-faults (and zero-fills) its activations again: at batch 64 that doubles the
    step time of SpliceAI-400 on CPU (``bench/train_splice.py``). This sets ``mallopt(M_MMAP_MAX,
    0)`` and ``mallopt(M_TRIM_THRESHOLD, 2**31 - 1)`` for the process (the environment variables
    ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=…`` do the same at start-up); the resident memory
    then stays near the peak of a step. ``nucleoforge train-splice`` calls it on CPU. Returns
    whether it applied (glibc Linux only).
    """
    import ctypes
    import platform

    if platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, …)
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(mallopt(m_mmap_max, 0) == 1 and mallopt(m_trim_threshold, 2**31 - 1) == 1)


# ---------------------------------------------------------------------------- trainer
class SpliceTrainer(Trainer):
    """``Trainer`` with the class-weighted SpliceAI loss, the exponential learning-rate decay,
    frozen BatchNorms kept in eval mode and an optional per-rank trace of the trained rows.

    * ``class_weights``: ``[w_neither, w_acceptor, w_donor]`` (:func:`class_weights`);
    * ``lr_floor`` / ``lr_decay``: the schedule (γ from the run's total steps when ``lr_decay`` is None);
    * ``frozen_norms``: BatchNorm modules put back in eval mode at every training step;
    * ``trace_dir``: each rank appends ``step idx,idx,…`` per training batch to ``rank{R}.txt``;
    * ``member``: named in the error of a step whose loss or gradient norm is not finite
      (:class:`_StopOnNonFinite`: training stops there, before the optimizer step).
    """

    def __init__(self, *args: Any, class_weights: Sequence[float], lr_floor: float = 1e-5, lr_decay: float | None = None,
                 frozen_norms: Sequence[torch.nn.Module] = (), trace_dir: str | os.PathLike | None = None,
                 member: int | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.member = member
        self.step_loss: torch.Tensor | None = None  # the last micro-batch loss of the current optimizer step
        self.add_callback(_StopOnNonFinite(self))
        self.model_accepts_loss_kwargs = False  # the loss is a mean per batch; accumulation averages
        self.class_weights = torch.as_tensor(np.asarray(class_weights, dtype=np.float32))
        self.lr_floor, self.lr_decay = lr_floor, lr_decay
        self.frozen_norms = list(frozen_norms)
        self.trace_dir = Path(trace_dir) if trace_dir else None

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            lr = self.args.learning_rate
            gamma = self.lr_decay if self.lr_decay is not None else decay_rate(num_training_steps, lr, self.lr_floor)
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer, ExponentialDecay(lr, self.lr_floor, gamma))
            self.decay = gamma
        return self.lr_scheduler

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        index = inputs.get("block_index")
        if model.training:
            for norm in self.frozen_norms:
                norm.eval()
            if self.trace_dir is not None and index is not None:
                self._trace(index)
        logits, probabilities = self.forward_splice(model, inputs)
        loss = weighted_splice_loss(logits, inputs["labels"], self.class_weights)
        return (loss, {"probabilities": probabilities}) if return_outputs else loss

    def training_step(self, model: torch.nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        last = loss.detach()
        # the step's loss for _StopOnNonFinite: the latest micro-batch's, or the first one that is not finite
        self.step_loss = last if self.step_loss is None else torch.where(torch.isfinite(self.step_loss), last, self.step_loss)
        return loss

    def forward_splice(self, model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits for the loss, class probabilities)`` of one batch: SpliceAI's per-member logits
        ``(B, M, L, 3)`` and the ensemble's probabilities ``(B, L, 3)``."""
        out = model(input=inputs["input"], output_members=True)
        return out.member_logits, out.probabilities

    def _trace(self, index: torch.Tensor) -> None:
        self.trace_dir.mkdir(parents=True, exist_ok=True)
        rows = ",".join(str(int(i)) for i in index.detach().cpu())
        with open(self.trace_dir / f"rank{self.args.process_index}.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{self.state.global_step} {rows}\n")


class SpliceTokenTrainer(SpliceTrainer):
    """:class:`SpliceTrainer` for a BERT-family token head on :class:`SpliceWindowDataset` windows."""

    def forward_splice(self, model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits  # (B, nt, 3)
        return logits, logits.float().softmax(-1)


class _StopOnNonFinite(TrainerCallback):
    """Before each optimizer step: a loss or gradient norm that is not finite stops the run with one
    error naming the step (1-based, as in ``log.jsonl``) and the likely causes; the weights are not
    updated and the run saves nothing more. One device sync per step."""

    def __init__(self, trainer: SpliceTrainer) -> None:
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001
        trainer = self.trainer
        loss, trainer.step_loss = trainer.step_loss, None
        grads = [p.grad.detach() for p in trainer.model.parameters() if p.grad is not None]
        norms = [torch.linalg.vector_norm(g.float()) for g in grads]
        norm = torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
        loss = loss.float().to(norm.device) if loss is not None else torch.zeros((), device=norm.device)
        values = torch.stack([norm.float(), loss]).cpu()  # the one sync
        if bool(torch.isfinite(values).all()):
            return
        grad_norm, loss_value = (float(v) for v in values)
        bad = [name for name, v in (("loss", loss_value), ("gradient norm", grad_norm)) if not math.isfinite(v)]
        which = "loss and the gradient norm are" if len(bad) == 2 else f"{bad[0]} is"
        member = f" (member {trainer.member})" if trainer.member is not None else ""
        raise NucleoforgeError(
            f"train-splice stopped at step {state.global_step + 1}{member}: the {which} not finite (loss {loss_value:g}, "
            f"gradient norm {grad_norm:g}); the learning rate is likely too high (--lr {args.learning_rate:g}: try 10x "
            "lower) or the labels are bad (check Y and W of the training split)")


class _MetricsFileCallback(TrainerCallback):
    """After every evaluation, rewrite ``OUT/metrics.json`` (rank 0) with the runs so far and,
    unless quiet, print one line of validation metrics above the progress bar."""

    def __init__(self, write: Any, member: int, quiet: bool) -> None:
        self.write, self.member, self.quiet = write, member, quiet

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
        if not state.is_world_process_zero:
            return
        self.write(_evaluations(state.log_history))
        if not self.quiet and metrics:
            from tqdm.auto import tqdm

            def show(key: str) -> str:
                value = metrics.get(f"eval_{key}")
                return "nan" if value is None or not math.isfinite(value) else f"{value:.4f}"

            tqdm.write(f"member {self.member} epoch {state.epoch:.2f} step {state.global_step}: validation acceptor "
                       f"top-k {show('acceptor_topk')} PR-AUC {show('acceptor_pr_auc')} | donor top-k "
                       f"{show('donor_topk')} PR-AUC {show('donor_pr_auc')} | loss {show('loss')}", file=sys.stderr)  # fmt: skip


def _evaluations(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The validation entries of a Trainer log (one per evaluation), keys without ``eval_``."""
    out = []
    for entry in log_history:
        if "eval_acceptor_topk" in entry:
            row = {"epoch": entry.get("epoch"), "step": entry.get("step")}
            row.update(_eval_metrics(entry))
            out.append(row)
    return out


_TIMINGS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")


def _eval_metrics(logs: dict[str, Any]) -> dict[str, Any]:
    """``eval_*`` entries of a Trainer log without the ``eval_`` prefix and without timings."""
    return {k[5:]: v for k, v in logs.items() if k.startswith("eval_") and k[5:] not in _TIMINGS}


def _json_safe(value: Any) -> Any:
    """NaN/inf -> None (metrics.json stays standard JSON), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def _worker_errors() -> Iterator[None]:
    """A :class:`NucleoforgeError` raised in a dataloader worker comes back wrapped with the
    worker's traceback in its message; re-raise it with the original one-line message."""
    try:
        yield
    except NucleoforgeError as exc:
        text = str(exc)
        marker = f"{NucleoforgeError.__module__}.{NucleoforgeError.__name__}: "
        if text.startswith("Caught ") and marker in text:
            raise NucleoforgeError(text.rsplit(marker, 1)[1].strip()) from None
        raise


@contextlib.contextmanager
def _removed_if_untrained(folder: Path, new_run: bool, *, keep_folder: bool) -> Iterator[None]:
    """On an error (or an interrupt) of a ``new_run``, remove what it wrote into ``folder`` unless a
    member has a checkpoint or is finished (then the run is resumable); the folder itself stays
    when ``keep_folder`` (it existed, empty, before the run). Rank 0 only."""
    try:
        yield
    except BaseException:
        if new_run and _is_main() and folder.is_dir() and not any(folder.glob("member-*/checkpoint-*")) \
                and not any(folder.glob("member-*/member.json")):  # fmt: skip
            if keep_folder:
                for item in folder.iterdir():
                    shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
            else:
                shutil.rmtree(folder, ignore_errors=True)
        raise


def _quiet(trainer: Trainer, quiet: bool) -> None:
    """Without progress bars, no printed logs either (they go to log.jsonl and metrics.json)."""
    if quiet:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)


def _is_main() -> bool:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


# ---------------------------------------------------------------------------- the command
def train_splice(
    data_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    context: int | None = None,
    config_overrides: dict[str, Any] | None = None,
    model_type: str | None = None,
    width: int | None = None,
    init: str | os.PathLike | None = None,
    init_member: int | None = None,
    freeze_stages: int = 0,
    members: int | None = None,
    epochs: float = 4.0,
    max_steps: int | None = None,
    batch_size: int = 64,
    eval_batch_size: int | None = None,
    learning_rate: float = 1e-3,
    lr_floor: float = 1e-5,
    lr_decay: float | None = None,
    seed: int = 42,
    save_steps: int | None = None,
    logging_steps: int = 50,
    bf16: bool | None = None,
    num_workers: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    trace_batches: bool = False,
    disable_tqdm: bool = False,
    extra_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a SpliceAI model (or an ensemble of ``members``) on a splice-data folder into ``output_dir``.

    See the module docstring for the loss, schedule, transfer, members, resume and outputs.
    ``max_steps`` (optimizer steps per member) overrides ``epochs``; ``save_steps`` checkpoints
    every N steps (default: every epoch). Returns the content of ``OUT/metrics.json``.
    ``output_dir`` must be missing or empty unless ``resume`` (continue its run) or ``overwrite``
    (replace it; the old folder stays until the new run's first checkpoint exists).
    """
    from transformers import set_seed

    from nucleoforge.io.outputs import (
        manifest_differences,
        prepare_output_folder,
        read_manifest,
        run_manifest,
        write_manifest,
    )

    data_dir, output_dir = Path(data_dir), Path(output_dir)
    out = prepare_output_folder(output_dir, command="train-splice", overwrite=overwrite, resume=resume,
                                resumable=("training.manifest.json", "member-*"), inputs=[data_dir, init])
    output_dir = out.path  # a staging folder beside the old one until the first checkpoint (--overwrite)
    # a new run in a missing or empty folder that stops before its first checkpoint leaves nothing behind
    # (as an --overwrite run leaves the old folder): a plain rerun then starts again
    new_run = not resume and not out.staged and not (output_dir.is_dir() and any(output_dir.iterdir()))
    folder_existed = output_dir.is_dir()
    dataset = open_dataset(data_dir)
    meta = dataset.meta
    train_path, val_path = _split_path(dataset, "train"), _split_path(dataset, "validation")
    if max_steps is not None and max_steps < 1:
        raise NucleoforgeError(f"--max-steps must be >= 1, got {max_steps}")
    if max_steps is None and not epochs > 0:
        raise NucleoforgeError(f"--epochs must be > 0, got {epochs}")
    if batch_size < 1:
        raise NucleoforgeError(f"--batch-size must be >= 1, got {batch_size}")
    if lr_decay is None:
        decay_rate(2, learning_rate, lr_floor)  # checks --lr and --lr-floor now, not after the data is read
    ExponentialDecay(learning_rate, lr_floor, lr_decay if lr_decay is not None else 1.0)

    # -- the architecture and the starting weights
    source = None
    lm = _language_model_type(model_type, init)
    if lm is not None:
        for flag, value in (("--members", members not in (None, 1)), ("--init-member", init_member is not None),
                            ("--freeze-stages", bool(freeze_stages))):
            if value:
                raise NucleoforgeError(f"{flag} applies to SpliceAI models, not to the {lm} token head")
        if config_overrides and init is not None:
            raise NucleoforgeError("--config cannot be combined with --init: the init model fixes the architecture")
        set_seed(seed)  # the one model (member 0): a fresh encoder's or new head's weights depend on --seed only
        net, tokenizer = _token_head_model(lm, init, config_overrides or {})
        max_nt = int(net.config.max_nucleotides)
        model_context = LM_CONTEXT if context is None else context
        if model_context < 0 or model_context % 2:
            raise NucleoforgeError(f"--context {model_context}: expected an even number >= 0 (context / 2 nt each side)")
        if width is None:
            width = min(dataset.block, max_nt - model_context)
        if width < 1 or width + model_context > max_nt:
            raise NucleoforgeError(f"the {lm} model reads at most {max_nt} nt: --context {model_context} leaves "
                             + ("no labelled position" if max_nt <= model_context else
                                f"at most --width {max_nt - model_context}, got {width}"))  # fmt: skip
        members = 1
        config = net.config
        config.splice_windows = {"context": model_context, "width": width}  # saved: evaluate-splice --data cuts the same windows
    elif width is not None:
        raise NucleoforgeError("--width applies to language-model token heads (--model-type / --init of a BERT-family model)")
    elif init is not None:
        if config_overrides:
            raise NucleoforgeError("--config cannot be combined with --init: the init model fixes the architecture")
        source = SpliceAIModel.from_pretrained(str(init))
        config = source.config
        if context is not None and context != config.context:
            raise NucleoforgeError(f"--context {context} does not match the context of the --init model {init} ({config.context})")
        if init_member is not None and not 0 <= init_member < config.num_members:
            raise NucleoforgeError(f"--init-member {init_member}: {init} has members 0..{config.num_members - 1}")
        if init_member is None:
            if members is not None and members != config.num_members:
                raise NucleoforgeError(f"--members {members} but {init} has {config.num_members} member(s); member i starts from "
                                 f"the init's member i, or pass --init-member K to start every member from member K")  # fmt: skip
            members = config.num_members
    else:
        if init_member is not None:
            raise NucleoforgeError("--init-member needs --init")
        if freeze_stages:
            raise NucleoforgeError("--freeze-stages needs --init (freezing randomly initialised stages trains nothing useful)")
        config = splice_config(context, config_overrides)
    members = 1 if members is None else members
    if members < 1:
        raise NucleoforgeError(f"--members must be >= 1, got {members}")
    if lm is None:
        if not 0 <= freeze_stages <= len(config.stages):
            raise NucleoforgeError(f"--freeze-stages {freeze_stages}: the model has {len(config.stages)} stage(s)")
        model_context = config.context
        train_set = SpliceBlockDataset(dataset, "train", model_context)
        val_set = SpliceBlockDataset(dataset, "validation", model_context)
        collate, trainer_class = collate_blocks, SpliceTrainer
    else:
        train_set = SpliceWindowDataset(dataset, "train", model_context, width, tokenizer)
        val_set = SpliceWindowDataset(dataset, "validation", model_context, width, tokenizer)
        collate, trainer_class = collate_windows, SpliceTokenTrainer
    counts = class_counts(dataset, "train")
    weights = class_weights(counts)

    # -- the run manifest: what a resume must match
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # start the process group now (the Trainer's settings), so the checks below are in step
        _ = training_arguments(output_dir, **({"bf16": bf16} if bf16 is not None else {})).device
    architecture = ({"stages": [list(s) for s in config.stages], "channels": config.channels} if lm is None else
                    {"model_type": lm, "config": _architecture(config), "width": width})  # fmt: skip
    settings = {
        "context": model_context, **architecture,
        "init": str(init) if init is not None else None, "init_member": init_member, "freeze_stages": freeze_stages,
        "members": members, "epochs": epochs if max_steps is None else None, "max_steps": max_steps,
        "batch_size": batch_size, "world_size": world, "learning_rate": learning_rate, "lr_floor": lr_floor,
        "lr_decay": lr_decay, "seed": seed, "bf16": bf16,
    }  # fmt: skip
    inputs = {"dataset.json": data_dir / "dataset.json", "train.h5": train_path, "validation.h5": val_path}
    manifest = run_manifest(_MANIFEST_COMMAND, inputs=inputs, parameters=settings, model=source if lm is None else
                            (net if init is not None else None))
    anchor = output_dir / "training"  # -> OUT/training.manifest.json
    manifest_file = output_dir / "training.manifest.json"
    if resume:  # (a run in a non-empty folder without --resume was refused by prepare_output_folder)
        old = read_manifest(anchor)
        if old is None:
            raise FileNotFoundError(f"--resume: {output_dir} holds no train-splice run (no {manifest_file.name})")
        diffs = manifest_differences(old, manifest)
        if diffs:
            raise NucleoforgeError(f"cannot resume {output_dir}: it was started with other settings or data (see {manifest_file}): "
                             + "; ".join(diffs))  # fmt: skip
    # an error before the first checkpoint removes the staging folder (the old one stays), or the new folder
    with _removed_if_untrained(output_dir, new_run, keep_folder=folder_existed), out:
        finish_distributed()  # every rank has checked the folder before rank 0 writes into it
        main = _is_main()
        if main:
            output_dir.mkdir(parents=True, exist_ok=True)
            if not resume:
                write_manifest(anchor, manifest)
        finish_distributed()

        report: dict[str, Any] = {"class_weights": dict(zip(("neither", "acceptor", "donor"), weights.tolist())),
                                  "class_counts": dict(zip(("neither", "acceptor", "donor"), counts.tolist())),
                                  "members": [], "ensemble": None}  # fmt: skip
        live: dict[str, Any] = {}

        def write_metrics(current: list[dict[str, Any]] | None = None) -> None:
            if not main:
                return
            rows = list(report["members"])
            if current is not None:
                rows.append({**live, "evaluations": current})
            _write_json(out.path / "metrics.json", {**report, "members": rows})  # moves with the folder at its commit

        for i in range(members):
            member_dir = out.path / f"member-{i}"  # out.path: the staging folder until the first checkpoint
            done = member_dir / "member.json"
            if done.is_file():
                report["members"].append(json.loads(done.read_text(encoding="utf-8")))
                logger.info("member %d: already trained (%s), skipped", i, done)
                continue
            member_seed = seed + i
            set_seed(member_seed)  # the fresh member's initial weights depend on its seed
            k = init_member if init_member is not None else i
            if lm is not None:
                model, frozen = net, []  # built (seeded) above; its config carries splice_windows
            else:
                model = _single_member(config, source, k) if source is not None else _single_member(config)
                frozen = freeze_first_stages(model, freeze_stages)
            overrides: dict[str, Any] = dict(
                per_device_train_batch_size=batch_size,
                per_device_eval_batch_size=eval_batch_size or batch_size,
                learning_rate=learning_rate,
                weight_decay=0.0,
                adam_beta1=0.9,
                adam_beta2=0.999,
                adam_epsilon=1e-8,
                optim="adamw_torch",
                max_grad_norm=0.0,
                num_train_epochs=epochs,
                max_steps=max_steps if max_steps is not None else -1,
                logging_steps=logging_steps,
                eval_strategy="epoch",
                save_strategy="steps" if save_steps else "epoch",
                save_steps=save_steps or 500,
                seed=member_seed,
                data_seed=member_seed,
                dataloader_num_workers=num_workers,
                disable_tqdm=disable_tqdm,
                label_names=["labels"],
            )
            if bf16 is not None:
                overrides["bf16"] = bf16
            overrides.update(extra_args or {})
            args = training_arguments(member_dir, **overrides)
            live = {"member": i, "seed": member_seed, "init": str(init) if init is not None else None,
                    "init_member": k if source is not None else None}  # fmt: skip
            trainer = trainer_class(
                model=model, args=args, train_dataset=train_set, eval_dataset=val_set, data_collator=collate,
                compute_metrics=SpliceMetrics(), preprocess_logits_for_metrics=_acceptor_donor,
                callbacks=[JsonLogCallback(member_dir / "log.jsonl"), _MetricsFileCallback(write_metrics, i, disable_tqdm)],
                class_weights=weights, lr_floor=lr_floor, lr_decay=lr_decay, frozen_norms=frozen,
                trace_dir=member_dir / "trace" if trace_batches else None, member=i,
            )  # fmt: skip
            _quiet(trainer, disable_tqdm)
            checkpoint = None
            if resume and any(member_dir.glob("checkpoint-*")):
                from transformers.trainer_utils import get_last_checkpoint

                checkpoint = get_last_checkpoint(str(member_dir))
            replace_at_first_checkpoint(trainer, out)  # --overwrite: the old folder is replaced at member 0's first checkpoint
            with _worker_errors():  # --num-workers: a worker's one-line error, not its traceback
                result = trainer.train(resume_from_checkpoint=checkpoint)
            member_dir, done = out.path / member_dir.name, out.path / member_dir.name / "member.json"
            evaluations = _evaluations(trainer.state.log_history)
            if not evaluations or evaluations[-1]["step"] != trainer.state.global_step:
                trainer.evaluate()  # the end of a run that stopped inside an epoch
                evaluations = _evaluations(trainer.state.log_history)
            trainer.save_model(str(member_dir))
            if lm is not None and main:
                tokenizer.save_pretrained(str(member_dir))
            train_metrics = dict(result.metrics)
            if "train_samples_per_second" in train_metrics:
                per_example = meta["block"] if lm is None else width
                train_metrics["train_positions_per_second"] = round(train_metrics["train_samples_per_second"] * per_example * world, 1)
            entry = {**live, "steps": trainer.state.global_step, "lr_decay": getattr(trainer, "decay", lr_decay),
                     "evaluations": evaluations, "final": evaluations[-1], "train": train_metrics}  # fmt: skip
            if main:
                _write_json(done, entry)
            report["members"].append(entry)
            write_metrics()
            finish_distributed()

    output_dir = out.target
    member_dirs = [output_dir / f"member-{i}" for i in range(members)]

    # -- one ensemble folder
    if main and lm is not None:
        for name in os.listdir(member_dirs[0]):  # the one trained model: config, weights, tokenizer files
            if (member_dirs[0] / name).is_file() and name.endswith((".json", ".safetensors", ".txt")) and name != "member.json":
                shutil.copyfile(member_dirs[0] / name, output_dir / name)
    elif main:
        ensemble = assemble_members(member_dirs, output_dir)
        if source is not None:
            licence = Path(str(getattr(source, "name_or_path", "") or "")) / "LICENSE"
            if licence.is_file():  # e.g. the CC BY-NC 4.0 note of the converted SpliceAI weights
                shutil.copyfile(licence, output_dir / "LICENSE")
    finish_distributed()
    if members > 1:
        ensemble = SpliceAIModel.from_pretrained(str(output_dir))
        eval_args = training_arguments(output_dir, per_device_eval_batch_size=eval_batch_size or batch_size,
                                       disable_tqdm=disable_tqdm, label_names=["labels"], report_to="none",
                                       **({"bf16": bf16} if bf16 is not None else {}))  # fmt: skip
        scorer = SpliceTrainer(model=ensemble, args=eval_args, eval_dataset=val_set, data_collator=collate_blocks,
                               compute_metrics=SpliceMetrics(), preprocess_logits_for_metrics=_acceptor_donor,
                               class_weights=weights)  # fmt: skip
        _quiet(scorer, disable_tqdm)
        report["ensemble"] = _eval_metrics(scorer.evaluate())
    else:
        report["ensemble"] = {k: v for k, v in report["members"][0]["final"].items() if k not in ("epoch", "step")}
    if main:
        write_metrics()
        training = {
            "format": "nucleoforge-train-splice/1",
            "data": {"path": str(data_dir.resolve()), "dataset": meta, "inputs": manifest["inputs"]},
            "settings": settings,
            "init_model": manifest["model"],
            "class_counts": report["class_counts"],
            "class_weights": report["class_weights"],
            "members": [{k: v for k, v in m.items() if k != "evaluations"} for m in report["members"]],
            "ensemble": report["ensemble"],
            "versions": manifest["versions"],
        }
        _write_json(output_dir / "training.json", training)
    finish_distributed()
    return _json_safe(report)
