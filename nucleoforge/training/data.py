"""Pretraining data: a streaming FASTA dataset, a fixed pre-masked evaluation set and their padding.

Pretraining (:class:`FastaChunkDataset`): FASTA records are read one at a time (plain or gzip),
cut into chunks of a fixed length or of random lengths in ``[min_length, max_length]``
(SpliceBERT's 64–1024 nt stage), tokenised in batches, shuffled in a buffer and grouped into
length buckets so that a batch holds chunks of similar length. Everything depends only on
``seed`` and the epoch, so a run resumed from a checkpoint sees the same data in the same order.

The labelled files of fine-tuning are read by :mod:`nucleoforge.training.labelled`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.fasta import read_fasta
from nucleoforge.tokenization import IGNORE_INDEX, pad_batch

_SEED_MIX = 0x9E3779B97F4A7C15


def _world() -> tuple[int, int]:
    """(rank, world size) from torch.distributed or the torchrun environment."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class FastaChunkDataset(IterableDataset):
    """Stream chunks of FASTA records as ``{"input_ids": np.ndarray, "seed": int}`` examples.

    Args:
        paths: one or more FASTA files (``.fa`` or ``.fa.gz``).
        tokenizer: a :class:`~nucleoforge.tokenization.NucleotideTokenizer`; ids include [CLS]/[SEP].
        min_length, max_length: chunk length in nucleotides; equal values give fixed-length
            chunks, otherwise each chunk's length is uniform in ``[min_length, max_length]``.
            A record's last piece is kept if it has at least ``min_length`` nucleotides.
        seed: data-order seed; the order also depends on the epoch (:meth:`set_epoch`).
        shuffle_buffer: chunks held in memory for shuffling and length bucketing (0 = keep the
            file order).
        bucket_size: chunks per length bucket — set it to the global batch size
            (per-device batch × processes) so each batch holds chunks of similar length.
        max_n_fraction: chunks with a larger fraction of non-ACGT/U letters are skipped.
        random_offset: start each record at a random offset below ``max_length`` (changes the
            chunk boundaries every epoch).

    Chunks are produced in file order; with several dataloader workers each takes every n-th
    chunk. Splitting across processes (DDP) is left to the caller (``accelerate`` shards the
    batches of an ``IterableDataset``), so every process must see the same stream.
    """

    def __init__(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        tokenizer: Any,
        min_length: int = 510,
        max_length: int = 510,
        seed: int = 0,
        shuffle_buffer: int = 2048,
        bucket_size: int = 1,
        max_n_fraction: float = 0.1,
        random_offset: bool = True,
    ) -> None:
        super().__init__()
        self.paths = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
        for p in self.paths:
            if not p.is_file():
                raise MissingPathError(f"training corpus {p} does not exist")
        if not 1 <= min_length <= max_length:
            raise NucleoforgeError(f"need 1 <= min_length <= max_length, got {min_length} and {max_length}")
        if min_length < tokenizer.k:
            raise NucleoforgeError(f"min_length ({min_length}) is shorter than k={tokenizer.k}")
        self.tokenizer = tokenizer
        self.min_length, self.max_length = int(min_length), int(max_length)
        self.seed = int(seed)
        self.shuffle_buffer = int(shuffle_buffer)
        self.bucket_size = max(1, int(bucket_size))
        self.max_n_fraction = float(max_n_fraction)
        self.random_offset = random_offset
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the Trainer at the start of each epoch; changes chunking and order."""
        self.epoch = int(epoch)

    # -------------------------------------------------------------- chunks
    def chunks(self) -> Iterator[tuple[int, str]]:
        """``(chunk_index, sequence)`` in file order (before shuffling)."""
        index = 0
        record_number = 0
        for path in self.paths:
            # record names do not matter to a corpus (and a set of them would grow with it)
            for record in read_fasta(path, uppercase=True, unique_names=False):
                rng = np.random.default_rng([self.seed, self.epoch, record_number, 1])
                record_number += 1
                seq = record.sequence
                pos = int(rng.integers(0, min(self.max_length, len(seq)))) if self.random_offset and len(seq) > self.max_length else 0
                while pos < len(seq):
                    n = int(rng.integers(self.min_length, self.max_length + 1))
                    piece = seq[pos : pos + n]
                    pos += n
                    if len(piece) < self.min_length:
                        break
                    acgt = sum(piece.count(c) for c in "ACGTU")
                    if len(piece) - acgt > self.max_n_fraction * len(piece):
                        continue
                    yield index, piece
                    index += 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker = get_worker_info()
        n_workers, worker_id = (worker.num_workers, worker.id) if worker is not None else (1, 0)
        rng = np.random.default_rng([self.seed, self.epoch, worker_id, 2])
        buffer: list[tuple[int, str]] = []
        size = max(self.shuffle_buffer, self.bucket_size)
        for index, piece in self.chunks():
            if index % n_workers != worker_id:
                continue
            buffer.append((index, piece))
            if len(buffer) >= size:
                yield from self._emit(buffer, rng)
                buffer = []
        if buffer:
            yield from self._emit(buffer, rng)

    def _emit(self, buffer: list[tuple[int, str]], rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        ids = self.tokenizer.encode_sequences([p for _, p in buffer], errors="replace", add_special_tokens=True)
        examples = [{"input_ids": t, "seed": self._example_seed(i)} for (i, _), t in zip(buffer, ids)]
        if self.shuffle_buffer <= 0:
            yield from examples
            return
        order = rng.permutation(len(examples))
        if self.bucket_size > 1:
            # sort the shuffled buffer by length, cut it into buckets, shuffle the buckets
            order = sorted(order, key=lambda j: len(examples[j]["input_ids"]))
            buckets = [order[s : s + self.bucket_size] for s in range(0, len(order), self.bucket_size)]
            order = [j for b in rng.permutation(len(buckets)) for j in buckets[b]]
        for j in order:
            yield examples[j]

    def _example_seed(self, index: int) -> int:
        return (self.seed * _SEED_MIX + self.epoch * 1_000_003 + index) % (2**63)


def masked_eval_examples(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    tokenizer: Any,
    collator: Any,
    length: int,
    max_examples: int | None = None,
    seed: int = 12345,
    max_n_fraction: float = 0.1,
) -> list[dict[str, np.ndarray]]:
    """A fixed, pre-masked evaluation set: non-overlapping ``length``-nt chunks, masked once.

    Masking with a fixed seed per chunk makes evaluation loss and accuracy comparable between
    runs and across resumption. Returns a list (a map-style dataset) of ``input_ids``/``labels``.
    """
    stream = FastaChunkDataset(
        paths, tokenizer, length, length, seed=0, shuffle_buffer=0, max_n_fraction=max_n_fraction, random_offset=False
    )
    out = []
    for example in stream:
        ids = example["input_ids"][None, :]
        masked, labels = collator.mask(ids, np.random.default_rng([seed, len(out)]))
        out.append({"input_ids": masked[0], "labels": labels[0]})
        if max_examples is not None and len(out) >= max_examples:
            break
    if not out:
        raise NucleoforgeError(f"evaluation corpus {paths} gave no chunk of {length} nt")
    return out


class PaddingCollator:
    """Pad pre-masked ``input_ids`` (with ``pad_token_id``) and ``labels`` (with ``IGNORE_INDEX``)."""

    def __init__(self, pad_token_id: int = 0) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ids, mask = pad_batch([e["input_ids"] for e in examples], self.pad_token_id)
        labels, _ = pad_batch([e["labels"] for e in examples], IGNORE_INDEX, width=ids.shape[1])
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask), "labels": torch.from_numpy(labels)}
