"""Tabular and array writers: splice-site TSV and bedGraph tracks, per-gene evaluation TSV,
embedding files (``.npz``, ``.parquet``).

Writers take plain values (a :class:`~nucleoforge.pipelines.splice_site.SpliceSitePrediction`-like
object with ``name``, ``chrom``, ``start``, ``acceptor`` and ``donor``; dicts; arrays); they never
run a model.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from typing import IO, Any

import numpy as np

__all__ = ["write_splice_tsv", "write_bedgraph", "write_dict_tsv", "NpzWriter", "ParquetWriter", "open_embedding_writer"]


def write_splice_tsv(pred: Any, handle: IO[str], *, min_score: float | None = None, header: bool = True,
              digits: int = 4) -> int:
    """Write ``name position acceptor donor`` rows (all positions, or only those >= ``min_score``)."""
    if header:
        handle.write("name\tposition\tacceptor\tdonor\n")
    keep = np.arange(len(pred.acceptor))
    if min_score is not None:
        keep = np.flatnonzero((pred.acceptor >= min_score) | (pred.donor >= min_score))
    name = pred.name
    pos = pred.start + 1 + keep
    fmt = f"{{:.{digits}f}}"
    lines = [f"{name}\t{p}\t{fmt.format(a)}\t{fmt.format(d)}\n" for p, a, d in zip(pos.tolist(), pred.acceptor[keep].tolist(), pred.donor[keep].tolist())]
    handle.writelines(lines)
    return len(lines)


def write_bedgraph(pred: Any, prefix: str | os.PathLike, *, append: bool = False,
                   min_value: float = 1e-4) -> list[str]:
    """Write ``PREFIX.acceptor.bedGraph`` and ``PREFIX.donor.bedGraph`` (0-based, one base per
    line; values below ``min_value`` left out to keep the tracks small). Returns the paths."""
    chrom = pred.chrom or pred.name
    paths = []
    for kind, track in (("acceptor", pred.acceptor), ("donor", pred.donor)):
        path = f"{prefix}.{kind}.bedGraph"
        with open(path, "a" if append else "w") as fh:
            if not append:
                fh.write(f'track type=bedGraph name="SpliceAI {kind}" description="SpliceAI {kind} probability"\n')
            idx = np.flatnonzero(track >= min_value)
            starts = pred.start + idx
            fh.writelines(f"{chrom}\t{s}\t{s + 1}\t{v:.4f}\n" for s, v in zip(starts.tolist(), track[idx].tolist()))
        paths.append(path)
    return paths


def write_dict_tsv(rows: Sequence[Mapping[str, Any]], handle: IO[str]) -> int:
    """Write rows of equal keys as a TSV with a header (the keys of the first row); returns the count."""
    keys = list(rows[0]) if rows else []
    handle.write("\t".join(keys) + "\n")
    for row in rows:
        handle.write("\t".join(str(row[k]) for k in keys) + "\n")
    return len(rows)


class NpzWriter:
    """Write one array per sequence into a ``.npz`` as they come (zip members ``NAME.npy``).

    Repeated names get ``_2``, ``_3``… suffixes. ``numpy.load(path)`` reads the file.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        self._zip = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._seen: dict[str, int] = {}

    def write(self, name: str, array: np.ndarray, length: int | None = None) -> str:
        count = self._seen.get(name, 0)
        key = name
        while key in self._seen:
            count += 1
            key = f"{name}_{count + 1}"
        self._seen[name] = count
        self._seen.setdefault(key, 0)
        with self._zip.open(key + ".npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)
        return key

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ParquetWriter:
    """Write ``name``, ``length`` and ``embedding`` columns in row groups (pyarrow).

    ``embedding`` is a ``fixed_size_list<float32>[H]`` for pooled vectors and a
    ``list<fixed_size_list<float32>[H]>`` (one entry per nucleotide) otherwise.
    """

    def __init__(self, path: str | os.PathLike, rows_per_group: int = 256) -> None:
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:  # pragma: no cover - pyarrow is in the train/test extras
            raise ImportError("writing parquet needs pyarrow: pip install pyarrow") from exc
        self.path = str(path)
        self.rows_per_group = rows_per_group
        self._rows: list[tuple[str, int, np.ndarray]] = []
        self._writer: Any = None

    def write(self, name: str, array: np.ndarray, length: int | None = None) -> str:
        self._rows.append((name, int(length if length is not None else array.shape[0]), np.asarray(array, dtype=np.float32)))
        if len(self._rows) >= self.rows_per_group:
            self._flush()
        return name

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._rows:
            return
        names, lengths, arrays = zip(*self._rows)
        width = arrays[0].shape[-1]
        if any(a.shape[-1] != width or a.ndim != arrays[0].ndim for a in arrays):
            raise ValueError("all embeddings written to one parquet file need the same shape per row")
        flat = pa.array(np.concatenate([a.reshape(-1) for a in arrays]), type=pa.float32())
        vectors = pa.FixedSizeListArray.from_arrays(flat, width)
        if arrays[0].ndim == 1:
            column = vectors
        else:
            offsets = np.concatenate([[0], np.cumsum([a.shape[0] for a in arrays])]).astype(np.int32)
            column = pa.ListArray.from_arrays(pa.array(offsets), vectors)
        table = pa.table({"name": pa.array(names, pa.string()), "length": pa.array(lengths, pa.int32()), "embedding": column})
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)
        self._rows = []

    def close(self) -> None:
        self._flush()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> ParquetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_embedding_writer(path: str | os.PathLike, rows_per_group: int = 256) -> NpzWriter | ParquetWriter:
    """An :class:`NpzWriter` for ``*.npz``, a :class:`ParquetWriter` for ``*.parquet``."""
    text = str(path)
    if text.endswith(".npz"):
        return NpzWriter(text)
    if text.endswith(".parquet") or text.endswith(".pq"):
        return ParquetWriter(text, rows_per_group)
    raise ValueError(f"cannot tell the output format of {text!r}: use a .npz or .parquet file name")
