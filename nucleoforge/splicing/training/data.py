"""The training examples of ``train-splice``: block rows for SpliceAI, windows of them for a token head.

Both read a split through :mod:`nucleoforge.io.splice_h5` (checked when opened: its arrays and
every label), crop the stored context to the model's (:func:`~nucleoforge.io.splice_h5.context_columns`)
and label only the counted positions (:func:`~nucleoforge.io.splice_h5.counted`; ``-100``
elsewhere). An item depends only on its index, so a resumed run sees the same batches.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.splice_h5 import SpliceDataset, counted, counted_labels, one_hot_codes, read_block_rows
from nucleoforge.tokenization import IGNORE_INDEX

__all__ = ["SpliceBlockDataset", "SpliceWindowDataset", "class_counts", "collate_blocks", "collate_windows", "split_path"]

#: splice-data codes -> letters (0 = N, 1-4 = A, C, G, T)
_CODE_LETTERS = np.frombuffer(b"NACGT", dtype=np.uint8)


def split_path(ds: SpliceDataset, split: str) -> Path:
    """``DIR/{split}.h5``; a missing one is train-splice's error naming the file."""
    path = ds.path / f"{split}.h5"
    if not path.is_file():
        raise MissingPathError(f"{path}: no such file; train-splice needs the train and validation splits of {ds.path}")
    return path


def class_counts(dataset: SpliceDataset, split: str = "train", chunk_rows: int = 1024) -> np.ndarray:
    """Counted positions per class ``[neither, acceptor, donor]`` of one split (every label
    checked; :meth:`~nucleoforge.io.splice_h5.SpliceDataset.label_counts`)."""
    split_path(dataset, split)
    return dataset.label_counts(split, chunk_rows)


class SpliceBlockDataset(torch.utils.data.Dataset):
    """The block rows of one split as training examples for a model of context ``model_context``.

    Item ``i``: ``{"input": (block + c, 4) float32 one-hot, "labels": (block,) int64 (class, or
    -100 where the position is not counted), "block_index": i}``. Depends only on ``i`` (no
    randomness), so a resumed run sees the same batches. The h5 file is opened lazily in each process.
    """

    def __init__(self, dataset: SpliceDataset, split: str, model_context: int) -> None:
        self.dataset, self.split = dataset, split
        split_path(dataset, split)  # train-splice's message for a missing split
        self.block, self.context = dataset.block, model_context
        dataset.check_context(model_context)
        self.columns = dataset.columns(model_context)
        self.path = dataset.file(split)
        self.rows = dataset.check_split(split)
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
        return read_block_rows(self._file(), np.asarray(indices, dtype=np.int64), self.columns)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        x, y, w = self.read(indices)
        labels = counted_labels(y, w, IGNORE_INDEX)
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
    flanks, where the position is not counted and past the block), "block_index": row · pieces + p}``.
    """

    def __init__(self, dataset: SpliceDataset, split: str, context: int, width: int, tokenizer: Any) -> None:
        super().__init__(dataset, split, context)
        if not 1 <= width:
            raise NucleoforgeError(f"--width must be >= 1, got {width}")
        self.width, self.tokenizer = min(width, self.block), tokenizer
        self.pieces = -(-self.block // self.width)
        has_counted = np.zeros((self.rows, self.pieces), dtype=bool)
        with dataset.open(split) as h5:
            for start in range(0, self.rows, 1024):
                y, w = read_block_rows(h5, slice(start, start + 1024), names=("Y", "W"))
                keep = np.pad(counted(y, w), ((0, 0), (0, self.pieces * self.width - self.block)))
                has_counted[start : start + len(y)] = keep.reshape(len(y), self.pieces, self.width).any(-1)
        self.items = np.flatnonzero(has_counted.reshape(-1))
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
        labels = np.pad(counted_labels(y, w, IGNORE_INDEX),
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
