"""Reading and writing the splice-site training datasets of ``nucleoforge splice-data``.

A dataset is a folder (format ``nucleoforge-splice-data/1``; the full description, with the
recipe that fills it, is in :mod:`nucleoforge.splicing.dataset`)::

    DIR/dataset.json                      context C, block B, reference, annotation, split, seed, summary
    DIR/train.h5, validation.h5, test.h5  one per split that has a transcript
        X   uint8 (N, B + C)  codes 0 = N/unknown, 1 A, 2 C, 3 G, 4 T on the transcript's strand;
                              X[:, C//2 + i] is labelled position i of the block
        Y   int8  (N, B)      0 neither, 1 acceptor, 2 donor, -1 past the transcript's end
        W   uint8 (N, B)      1 counts in loss/metrics, 0 excluded
        tx  int32 (N,)        row of the block's transcript in the group "transcripts"
        transcripts/{name, chrom, strand, tx_start, tx_end, first_block}

X, Y and W are chunked by one row and gzip-compressed (level 4), so a shuffled reader reads
only the rows it needs. Each file's attributes repeat ``format``, ``context``, ``block`` and
``split``.

This module owns the contract of such a folder; every reader (training, ``evaluate-splice
--data``, ``calibrate-splice``) goes through it:

* opening: :func:`read_splice_dataset` checks ``dataset.json``, :meth:`SpliceDataset.check_split`
  a split's X, Y and W (names, dtypes, widths, rows) and every label (Y in {-1, 0, 1, 2}, W in
  {0, 1}: one error naming the file, the dataset, the row and the column of a bad value);
* the crop rule: a model of context ``c`` reads :func:`context_columns` of X;
* the rows: :func:`read_block_rows` (a slice, or indices in any order);
* the counted positions: :func:`counted` (W = 1 and Y >= 0), the one rule for class counts,
  losses and metrics.

A damaged file (a truncated copy, a corrupted chunk) is one :class:`~nucleoforge.errors.NucleoforgeError`
naming the file (and the dataset and rows that could not be read) whenever it is opened or read
(:func:`read_rows`).

>>> import numpy as np
>>> x = np.arange(14).reshape(1, 14)          # block 4, context C = 10: 5 nt each side
>>> crop_context(x, 10, 2).tolist()           # context c = 2 keeps 1 nt each side
[[4, 5, 6, 7, 8, 9]]
>>> one_hot_codes(np.array([0, 1, 4], dtype=np.uint8)).astype(int).tolist()
[[0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from nucleoforge.errors import MissingPathError, NucleoforgeError


__all__ = [
    "DATASET_FORMAT", "METADATA", "SPLITS", "Y_VALUES", "SpliceH5Writer", "SpliceDataset", "read_splice_dataset",
    "iter_splice_batches", "counted", "counted_labels", "context_columns", "crop_context", "one_hot_codes", "write_metadata",
    "read_metadata", "open_h5", "read_rows", "read_block_rows",
]  # fmt: skip

DATASET_FORMAT = "nucleoforge-splice-data/1"
METADATA = "dataset.json"
SPLITS = ("train", "validation", "test")
_TRANSCRIPT_FIELDS = ("name", "chrom", "strand", "tx_start", "tx_end", "first_block")
#: the values Y may hold: -1 padding (past the transcript's end), 0 neither, 1 acceptor, 2 donor
Y_VALUES = (-1, 0, 1, 2)
_Y_EXPECTED = "-1 (padding), 0 (neither), 1 (acceptor) or 2 (donor)"
_REBUILD = "the file is damaged: rebuild the dataset with nucleoforge splice-data"


def _h5_reason(exc: BaseException) -> str:
    """h5py's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def open_h5(path: str | os.PathLike) -> Any:
    """``h5py.File(path, "r")``; a file HDF5 cannot open (truncated, overwritten, not HDF5) is one
    :class:`NucleoforgeError` naming it."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if not os.path.isfile(path):
            raise
        raise NucleoforgeError(f"{path}: not a readable HDF5 file ({_h5_reason(exc)}); {_REBUILD}") from None


def _rows_text(index: Any) -> str:
    """``rows 4-7`` / ``row 3`` / ``rows 2, 9, 11`` of an h5py row index (a slice, an int, a list)."""
    if isinstance(index, tuple):
        index = index[0]
    if isinstance(index, slice):
        lo, hi = index.start or 0, index.stop
        return f"row {lo}" if hi is not None and hi - lo == 1 else f"rows {lo}-{'end' if hi is None else hi - 1}"
    if isinstance(index, (int, np.integer)):
        return f"row {int(index)}"
    rows = [int(r) for r in np.asarray(index).reshape(-1)]
    return "rows " + ", ".join(map(str, rows[:4])) + (f" and {len(rows) - 4} more" if len(rows) > 4 else "")


def read_rows(dataset: Any, index: Any = slice(None)) -> np.ndarray:
    """``dataset[index]`` of an open h5py dataset; an HDF5 read error (a corrupted chunk, a
    truncated file) is one :class:`NucleoforgeError` naming the file, the dataset and the rows."""
    try:
        return dataset[index]
    except (OSError, RuntimeError) as exc:
        raise NucleoforgeError(f"{dataset.file.filename}: cannot read {_rows_text(index)} of {dataset.name.lstrip('/')} "
                               f"({_h5_reason(exc)}); {_REBUILD}") from None


def counted(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The positions that count in the loss and the metrics: ``W = 1`` and a label (``Y >= 0``).

    The one rule for training's class counts and labels, ``evaluate-splice --data`` and
    ``calibrate-splice``; :meth:`SpliceDataset.check_split` has checked W and Y beforehand.

    >>> counted(np.array([0, 1, 2, -1, 1]), np.array([1, 1, 0, 0, 1])).tolist()
    [True, True, False, False, True]
    """
    return (np.asarray(w) == 1) & (np.asarray(y) >= 0)


def counted_labels(y: np.ndarray, w: np.ndarray, ignore: int) -> np.ndarray:
    """int64 labels: ``Y`` where the position is :func:`counted`, else ``ignore``.

    >>> counted_labels(np.array([[0, 1, 2, -1]]), np.array([[1, 1, 0, 0]]), -100).tolist()
    [[0, 1, -100, -100]]
    """
    return np.where(counted(y, w), y, ignore).astype(np.int64)


def context_columns(context: int, c: int, block: int) -> slice:
    """The columns of a stored row (``block + context`` codes) that a model with context ``c``
    reads: ``(context - c)//2 : (context - c)//2 + block + c`` (the crop rule); ``c`` must be
    within ``[0, context]`` with an even difference, so both sides are cropped alike.

    >>> context_columns(10, 2, 4)
    slice(4, 10, None)
    """
    if not 0 <= c <= context or (context - c) % 2:
        raise NucleoforgeError(f"cannot crop a context of {context} nt to {c}: need 0 <= c <= {context} and an even difference")
    lo = (context - c) // 2
    return slice(lo, lo + block + c)


def crop_context(x: np.ndarray, context: int, c: int) -> np.ndarray:
    """The columns of ``x`` (rows of ``block + context`` codes) that a model with context ``c``
    sees (:func:`context_columns`; a view)."""
    if c == context:
        return x
    return x[..., context_columns(context, c, x.shape[-1] - context)]


_ONE_HOT = np.eye(5, dtype=np.float32)[:, 1:]


def one_hot_codes(x: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    """``(..., 4)`` one-hot (A, C, G, T) of an array of codes; code 0 (N) is all zeros."""
    return _ONE_HOT.astype(dtype, copy=False)[np.asarray(x, dtype=np.intp)]


# ---------------------------------------------------------------------------- metadata
def write_metadata(folder: str | os.PathLike, meta: dict[str, Any]) -> Path:
    """Write ``folder/dataset.json`` (``meta`` must carry ``format`` = :data:`DATASET_FORMAT`)."""
    if meta.get("format") != DATASET_FORMAT:
        raise NucleoforgeError(f"dataset metadata must have format {DATASET_FORMAT!r}")
    path = Path(folder) / METADATA
    with open(path, "w") as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")
    return path


def read_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    """``folder/dataset.json``; ``FileNotFoundError``/``ValueError`` when it is not a splice dataset."""
    folder = Path(folder)
    path = folder / METADATA
    if not folder.is_dir():
        raise MissingPathError(f"splice dataset folder not found: {folder}")
    if not path.exists():
        raise MissingPathError(f"{folder} is not a splice dataset: it has no {METADATA} (write one with nucleoforge splice-data)")
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NucleoforgeError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != DATASET_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise NucleoforgeError(f"{path}: format {found!r}, expected {DATASET_FORMAT!r}")
    return meta


# ---------------------------------------------------------------------------- writer
class SpliceH5Writer:
    """Append transcripts' blocks to one split file, buffering ``rows_per_write`` rows at a time
    (memory stays bounded by the buffer and one transcript)."""

    def __init__(self, path: str | os.PathLike, *, context: int, block: int, split: str, rows_per_write: int = 256) -> None:
        import h5py

        self.path, self.context, self.block, self.rows_per_write = Path(path), context, block, rows_per_write
        self._f = h5py.File(self.path, "w")
        self._f.attrs.update({"format": DATASET_FORMAT, "context": context, "block": block, "split": split})
        width = block + context
        gz = {"compression": "gzip", "compression_opts": 4}
        self._x = self._f.create_dataset("X", (0, width), np.uint8, maxshape=(None, width), chunks=(1, width), **gz)
        self._y = self._f.create_dataset("Y", (0, block), np.int8, maxshape=(None, block), chunks=(1, block), **gz)
        self._w = self._f.create_dataset("W", (0, block), np.uint8, maxshape=(None, block), chunks=(1, block), **gz)
        self._tx = self._f.create_dataset("tx", (0,), np.int32, maxshape=(None,), chunks=(4096,), **gz)
        group = self._f.create_group("transcripts")
        text = h5py.string_dtype()
        self._t = {name: group.create_dataset(name, (0,), text if name in ("name", "chrom", "strand") else np.int64,
                                              maxshape=(None,), chunks=(1024,), **gz) for name in _TRANSCRIPT_FIELDS}
        self.rows = 0  # blocks written or buffered
        self.transcripts = 0
        self._buf: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._tbuf: list[tuple[str, str, str, int, int, int]] = []
        self._buffered = 0

    def add(self, name: str, chrom: str, strand: str, tx_start: int, tx_end: int,
            x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        """Append one transcript: its ``(n, block + context)`` codes and ``(n, block)`` labels and weights."""
        n = len(x)
        if x.shape != (n, self.block + self.context) or y.shape != (n, self.block) or w.shape != (n, self.block):
            raise NucleoforgeError(f"{name}: block arrays of shapes {x.shape}, {y.shape}, {w.shape} do not match "
                             f"block {self.block} + context {self.context}")
        self._tbuf.append((name, chrom, strand, int(tx_start), int(tx_end), self.rows))
        self._buf.append((x, y, w, np.full(n, self.transcripts, dtype=np.int32)))
        self.rows += n
        self.transcripts += 1
        self._buffered += n
        if self._buffered >= self.rows_per_write:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            lo = self._x.shape[0]
            for ds, k in ((self._x, 0), (self._y, 1), (self._w, 2), (self._tx, 3)):
                arr = np.concatenate([b[k] for b in self._buf])
                ds.resize(lo + len(arr), axis=0)
                ds[lo:] = arr
        if self._tbuf:
            lo = self._t["name"].shape[0]
            for j, name in enumerate(_TRANSCRIPT_FIELDS):
                ds = self._t[name]
                ds.resize(lo + len(self._tbuf), axis=0)
                ds[lo:] = [row[j] for row in self._tbuf]
        self._buf, self._tbuf, self._buffered = [], [], 0

    def close(self) -> None:
        if self._f.id.valid:
            try:
                self.flush()
            finally:
                self._f.close()

    def __enter__(self) -> "SpliceH5Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------- reader
def _check_arrays(path: Path, h5: Any, context: int, block: int) -> int:
    """Rows of one open split file after checking X, Y and W (names, dtypes, widths, row counts)."""
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


def _check_labels(path: Path, start: int, y: np.ndarray, w: np.ndarray) -> None:
    """Y in :data:`Y_VALUES` and W in {0, 1} for rows ``start …`` of a split; else one error naming
    the file, the dataset, the row and the column of the first bad value."""
    for name, values, bad, text in (
        ("Y", y, (y < min(Y_VALUES)) | (y > max(Y_VALUES)), _Y_EXPECTED),
        ("W", w, (w < 0) | (w > 1), "0 (not counted) or 1 (counted)"),
    ):  # fmt: skip
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise NucleoforgeError(f"{path}: {name} row {start + r} column {c} holds {int(values[r, c])}; expected {text}")


@dataclass
class SpliceDataset:
    """A dataset folder written by ``nucleoforge splice-data`` (see :func:`read_splice_dataset`).

    :meth:`check_split` validates a split before it is used (its arrays and every label), so the
    rows that :meth:`read` and :meth:`iter_batches` return hold only the documented values.
    """

    path: Path
    meta: dict[str, Any] = field(repr=False)
    _label_counts: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def context(self) -> int:
        """C: the flank stored around each block (C/2 each side)."""
        return int(self.meta["context"])

    @property
    def block(self) -> int:
        return int(self.meta["block"])

    @property
    def summary(self) -> dict[str, dict[str, int]]:
        return self.meta.get("summary", {})

    @property
    def splits(self) -> list[str]:
        """The splits that have a file (a split without a transcript has none)."""
        return [s for s in SPLITS if (self.path / f"{s}.h5").exists()]

    def file(self, split: str) -> Path:
        if split not in SPLITS:
            raise NucleoforgeError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
        path = self.path / f"{split}.h5"
        if not path.exists():
            raise MissingPathError(f"{self.path} has no {split} split (its summary: "
                                    f"{self.summary.get(split, {}).get('transcripts', 0)} transcripts)")
        return path

    def open(self, split: str):
        """The split's h5 file, read-only (``h5py.File``; use it as a context manager); a file
        HDF5 cannot open is one error naming it (:func:`open_h5`)."""
        return open_h5(self.file(split))

    def num_blocks(self, split: str) -> int:
        with self.open(split) as f:
            return int(f["X"].shape[0])

    def check_split(self, split: str) -> int:
        """The number of rows of a split after checking its file: X, Y and W present with the
        documented dtypes and widths and as many rows each (at least one), and every label
        (:meth:`label_counts`). A missing file, one HDF5 cannot open or read, or a value out of
        range is one error naming it."""
        path = self.file(split)
        with self.open(split) as h5:
            try:
                rows = _check_arrays(path, h5, self.context, self.block)
            except (OSError, RuntimeError, KeyError) as exc:  # a damaged object header or index
                reason = " ".join(str(exc).strip("'\"").split())
                raise NucleoforgeError(f"{path}: cannot read its X, Y and W datasets ({reason}); {_REBUILD}") from None
        self.label_counts(split)  # found now, not as an IndexError mid-run
        return rows

    def check_context(self, model_context: int) -> None:
        """The stored context C covers a model of context ``c`` (the rule of :func:`context_columns`);
        else one error naming the folder."""
        context = self.context
        if model_context > context or (context - model_context) % 2:
            raise NucleoforgeError(f"{self.path}: the data holds {context} nt of context, the model needs {model_context}"
                                   + ("; rebuild the data with a larger --context (or train a smaller --context)"
                                      if model_context > context else " (the difference must be even to crop both sides alike)"))

    def transcripts(self, split: str) -> dict[str, np.ndarray]:
        """The split's transcript table: ``name``, ``chrom``, ``strand`` (str arrays), ``tx_start``,
        ``tx_end``, ``first_block`` (int64)."""
        with self.open(split) as f:
            g = f["transcripts"]
            table = {k: read_rows(g[k]) for k in _TRANSCRIPT_FIELDS}
        for k, values in table.items():
            if values.dtype.kind == "O":  # variable-length strings come back as bytes
                table[k] = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in values], dtype=object)
        return table

    def label_counts(self, split: str, chunk_rows: int = 1024) -> np.ndarray:
        """Counted positions (:func:`counted`) per class ``[neither, acceptor, donor]`` of a split,
        after checking every label: Y in :data:`Y_VALUES`, W in {0, 1} (one error naming the file,
        the dataset, the row and the column of the first bad value). One pass over Y and W,
        remembered per split."""
        if split not in self._label_counts:
            path = self.file(split)
            counts = np.zeros(3, dtype=np.int64)
            with self.open(split) as h5:
                n = h5["Y"].shape[0]
                for start in range(0, n, chunk_rows):
                    y, w = read_block_rows(h5, slice(start, min(start + chunk_rows, n)), names=("Y", "W"))
                    _check_labels(path, start, y, w)
                    counts += np.bincount(y[counted(y, w)].astype(np.int64), minlength=3)
            self._label_counts[split] = counts
        return self._label_counts[split].copy()

    def columns(self, context: Optional[int] = None) -> slice:
        """The columns of X that a model of context ``context`` reads (default: the stored C)."""
        return context_columns(self.context, self.context if context is None else int(context), self.block)

    def arrays(self, split: str, context: Optional[int] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All of a split's ``(x, y, w)`` in memory (small splits: validation, calibration)."""
        cols = self.columns(context)
        with self.open(split) as f:
            return read_block_rows(f, slice(None), cols)

    def iter_batches(self, split: str, batch_size: int = 32, *, context: Optional[int] = None, shuffle: bool = False,
                     seed: int = 0, rows: Optional[np.ndarray] = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Batches ``(x, y, w)`` of a split: x uint8 ``(b, block + c)`` codes cropped to context ``c``
        (default: the stored C), y int8 and w uint8 ``(b, block)``. ``shuffle``: the rows in a
        random order drawn from ``seed``; ``rows``: only these row indices (in this order).
        Only one batch is in memory at a time."""
        if batch_size < 1:
            raise NucleoforgeError(f"batch_size must be >= 1, got {batch_size}")
        cols = self.columns(context)
        with self.open(split) as f:
            n = f["X"].shape[0]
            order = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
            if shuffle:
                order = order[np.random.default_rng(seed).permutation(len(order))]
            contiguous = rows is None and not shuffle
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                yield read_block_rows(f, slice(int(idx[0]), int(idx[-1]) + 1) if contiguous else idx, cols)


def read_block_rows(h5: Any, rows: Any, columns: Optional[slice] = None,
                    names: Sequence[str] = ("X", "Y", "W")) -> tuple[np.ndarray, ...]:
    """Rows of the datasets ``names`` of an open split file (X: only ``columns``, see
    :func:`context_columns`): the one way rows are read.

    ``rows`` is a slice (one read per dataset) or row indices in any order, repeats allowed (each
    distinct row is read once, one at a time: far faster than h5py's fancy indexing on chunks of
    one row). A read error is one :class:`NucleoforgeError` naming the file, the dataset and the
    rows (:func:`read_rows`).
    """
    cols = slice(None) if columns is None else columns
    if isinstance(rows, slice):
        return tuple(read_rows(h5[name], (rows, cols) if name == "X" else rows) for name in names)
    order, back = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
    out = []
    for name in names:
        ds = h5[name]
        width = (len(range(*cols.indices(ds.shape[1]))),) if name == "X" else ds.shape[1:]
        part = np.empty((len(order), *width), dtype=ds.dtype)
        for k, r in enumerate(order.tolist()):
            part[k] = read_rows(ds, (r, cols) if name == "X" else r)
        out.append(part[back.reshape(-1)])
    return tuple(out)


def _check_metadata(ds: SpliceDataset) -> SpliceDataset:
    meta_path = ds.path / METADATA
    for key in ("context", "block"):
        value = ds.meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "block" else 0):
            raise NucleoforgeError(f"{meta_path}: {key!r} must be a {'positive' if key == 'block' else 'non-negative'} "
                                   f"integer, got {value!r}")
    if ds.context % 2:
        raise NucleoforgeError(f"{meta_path}: context {ds.context} is odd; SpliceAI contexts are even (C/2 each side)")
    return ds


def read_splice_dataset(path: str | os.PathLike) -> SpliceDataset:
    """Open a dataset folder: ``dataset.json`` read and checked (its format; ``context`` an even
    integer >= 0, ``block`` a positive one); the h5 files are opened on use
    (:meth:`SpliceDataset.check_split` validates one)."""
    return _check_metadata(SpliceDataset(Path(path), read_metadata(path)))


def iter_splice_batches(path: str | os.PathLike | SpliceDataset, split: str, batch_size: int = 32,
                        **kwargs: Any) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``read_splice_dataset(path).iter_batches(split, batch_size, **kwargs)``."""
    ds = path if isinstance(path, SpliceDataset) else read_splice_dataset(path)
    return ds.iter_batches(split, batch_size, **kwargs)
