"""Train SpliceAI (-80/-400/-2k/-10k) on a ``nucleoforge splice-data`` dataset, from scratch or by transfer.

**Data** (format ``nucleoforge-splice-data/1``, read and checked by
:mod:`nucleoforge.io.splice_h5`): ``DIR/dataset.json`` (``context`` C, ``block``) and
``DIR/{train,validation,test}.h5`` with ``X`` uint8 ``(N, block + C)`` (0 = N, 1–4 = A, C, G,
T, on the transcript's strand), ``Y`` int8 ``(N, block)`` (0 neither, 1 acceptor, 2 donor, -1
padding) and ``W`` uint8 ``(N, block)`` (1 = the position counts). A model of context ``c <= C``
reads ``X[:, (C - c) // 2 : (C - c) // 2 + block + c]``; one-hot = ``eye(5)[X][..., 1:]`` (N →
zeros). **A training example is one block row**; a batch is ``batch_size`` rows (64 by default),
so one step trains ``64 × block`` positions. Memory grows with ``block + c`` per row: SpliceAI-10k
at batch 64 keeps about 10 GB of activations for the backward pass (fp32; measure with
``bench/train_splice.py``); lower ``--batch-size`` if that does not fit.

**Loss.** Per-position cross-entropy weighted by ``W × w[y]``, summed and divided by the number of
counted positions (W = 1) of the batch. The class weights come from the *training split's*
counted positions (:func:`~nucleoforge.io.splice_h5.counted`: W = 1 and Y >= 0; ``n0`` neither, ``n1`` acceptors, ``n2`` donors, ``n = n0 + n1 + n2``)::

    w_neither = n / (2 n0),  w_acceptor = n / (4 n1),  w_donor = n / (4 n2)

so that over the training split the positives weigh as much as the negatives (``w1 n1 + w2 n2 =
w0 n0 = n / 2``), acceptors as much as donors (``w1 n1 = w2 n2 = n / 4``), and the mean weight of
a counted position is 1 (:func:`~nucleoforge.splicing.training.objective.class_weights`).

**Optimiser and schedule.** Adam (``torch.optim.AdamW`` with weight decay 0, which is Adam;
betas 0.9/0.999, eps 1e-8), no gradient clipping, learning rate ``lr_t = max(floor, lr · γ^t)``
at optimizer step ``t = 0 … T-1``; by default ``γ = (floor / lr)^(1 / (T - 1))`` so that the
floor (1e-5) is reached exactly at the last step ``T - 1`` (:func:`~nucleoforge.splicing.training.objective.decay_rate`); ``lr_decay``
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
read with ``context / 2`` nt each side (:class:`~nucleoforge.splicing.training.data.SpliceWindowDataset`; default context
:data:`~nucleoforge.splicing.training.token_head.LM_CONTEXT`, width = the model's longest input minus the context), with the same loss,
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

**Modules.** :mod:`~nucleoforge.splicing.training.data` (the examples),
:mod:`~nucleoforge.splicing.training.objective` (class weights, loss, schedule, metrics),
:mod:`~nucleoforge.splicing.training.spliceai` (the SpliceAI trainer, architecture, members),
:mod:`~nucleoforge.splicing.training.token_head` (the token-head trainer),
:mod:`~nucleoforge.splicing.training.recipe` (what the two differ in) and
:mod:`~nucleoforge.splicing.training.run` (:func:`train_splice`, which dispatches to them).
"""

from __future__ import annotations

from nucleoforge.splicing.training.data import (
    SpliceBlockDataset,
    SpliceWindowDataset,
    class_counts,
    collate_blocks,
    collate_windows,
)
from nucleoforge.splicing.training.objective import (
    ExponentialDecay,
    SpliceMetrics,
    class_weights,
    decay_rate,
    exponential_lr,
    weighted_splice_loss,
)
from nucleoforge.splicing.training.run import reuse_freed_cpu_memory, train_splice
from nucleoforge.splicing.training.spliceai import (
    CONTEXTS,
    SpliceTrainer,
    assemble_members,
    freeze_first_stages,
    splice_config,
)
from nucleoforge.splicing.training.token_head import LM_CONTEXT, SpliceTokenTrainer

__all__ = [
    "CONTEXTS",
    "LM_CONTEXT",
    "ExponentialDecay",
    "SpliceBlockDataset",
    "SpliceMetrics",
    "SpliceTokenTrainer",
    "SpliceTrainer",
    "SpliceWindowDataset",
    "assemble_members",
    "class_counts",
    "class_weights",
    "collate_blocks",
    "collate_windows",
    "decay_rate",
    "exponential_lr",
    "freeze_first_stages",
    "reuse_freed_cpu_memory",
    "splice_config",
    "train_splice",
    "weighted_splice_loss",
]
