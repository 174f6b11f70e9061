"""Tabular and array writers: splice-site TSV and bedGraph tracks, per-gene evaluation TSV,
embedding files (``.npz``, ``.parquet``).

Writers take plain values (a :class:`~nucleoforge.pipelines.splice_site.SpliceSitePrediction`-like
object with ``name``, ``chrom``, ``start``, ``acceptor`` and ``donor``; dicts; arrays); they never
run a model.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

import numpy as np

from nucleoforge.errors import NucleoforgeError

__all__ = [
    "write_splice_tsv", "write_bedgraph", "bedgraph_paths", "write_fill_mask_tsv", "write_attention_tsv", "write_dict_tsv", "NpzWriter", "ParquetWriter", "open_embedding_writer",
    "embedding_format", "VARIANT_EFFECT_COLUMNS", "variant_effect_header", "variant_effect_row", "read_variant_effect_table",
]  # fmt: skip


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


def bedgraph_paths(prefix: str | os.PathLike) -> dict[str, str]:
    """``{"acceptor": PREFIX.acceptor.bedGraph, "donor": PREFIX.donor.bedGraph}``."""
    return {kind: f"{prefix}.{kind}.bedGraph" for kind in ("acceptor", "donor")}


def write_bedgraph(pred: Any, prefix: str | os.PathLike, *, append: bool = False,
                   min_value: float = 1e-4, handles: Mapping[str, IO[str]] | None = None) -> list[str]:
    """Write ``PREFIX.acceptor.bedGraph`` and ``PREFIX.donor.bedGraph`` (0-based, one base per
    line; values below ``min_value`` left out to keep the tracks small). Returns the paths.

    ``handles`` (``{"acceptor": fh, "donor": fh}``, e.g. atomic outputs) are written instead of
    opening the files; ``append=False`` then means "write the track line first"."""
    chrom = pred.chrom or pred.name
    paths = []
    for kind, track in (("acceptor", pred.acceptor), ("donor", pred.donor)):
        path = bedgraph_paths(prefix)[kind]
        with (contextlib.nullcontext(handles[kind]) if handles else open(path, "a" if append else "w")) as fh:
            if not append:
                fh.write(f'track type=bedGraph name="SpliceAI {kind}" description="SpliceAI {kind} probability"\n')
            idx = np.flatnonzero(track >= min_value)
            starts = pred.start + idx
            fh.writelines(f"{chrom}\t{s}\t{s + 1}\t{v:.4f}\n" for s, v in zip(starts.tolist(), track[idx].tolist()))
        paths.append(path)
    return paths


#: Columns of the ``variant-effect`` TSV; the header line is ``#`` + these, tab-separated.
VARIANT_EFFECT_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "kl_sum", "kl_max", "llr", "p_ref", "p_alt", "n_flank")


def variant_effect_header() -> str:
    """The header line of a ``variant-effect`` TSV."""
    return "#" + "\t".join(VARIANT_EFFECT_COLUMNS) + "\n"


def variant_effect_row(chrom: str, pos: int, vid: str, ref: str, alt: str, scores: Mapping[str, Any]) -> str:
    """One ``variant-effect`` TSV line: the VCF fields, then ``kl_sum kl_max llr p_ref p_alt``
    (``%.6g``) and ``n_flank``.

    >>> variant_effect_row("22", 5, "rs1", "C", "T", dict(kl_sum=0.5, kl_max=0.25, llr=-1.0, p_ref=0.7, p_alt=0.1, n_flank=40))
    '22\\t5\\trs1\\tC\\tT\\t0.5\\t0.25\\t-1\\t0.7\\t0.1\\t40\\n'
    """
    values = (f"{scores[c]:.6g}" for c in ("kl_sum", "kl_max", "llr", "p_ref", "p_alt"))
    return "\t".join([chrom, str(pos), vid, ref, alt, *values, str(scores["n_flank"])]) + "\n"


def read_variant_effect_table(path: str | os.PathLike) -> tuple[list[list[str]], int]:
    """The complete rows of an existing (possibly interrupted) ``variant-effect`` TSV, and the
    byte length of its complete part (a last line cut short is not a row). ``ValueError``
    when the file does not start with the variant-effect header."""
    with open(path, "rb") as fh:
        data = fh.read()
    end = data.rfind(b"\n") + 1
    try:
        lines = data[:end].decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise NucleoforgeError(f"{path} is not a variant-effect table ({exc})") from exc
    if not lines or lines[0] + "\n" != variant_effect_header():
        raise NucleoforgeError(f"{path} exists but does not start with the variant-effect header "
                         f"({variant_effect_header().strip()}); remove it or rerun without --resume")
    return [line.split("\t") for line in lines[1:]], end


def write_fill_mask_tsv(results: Iterable[Sequence[Mapping[str, Any]]], handle: IO[str], candidates: str = "nucleotides") -> int:
    """``name position <one column per nucleotide | candidates> prediction score`` rows for the
    masks of fill-mask results (1-based positions); returns the row count."""
    header: list[str] | None = None
    n = 0
    for masks in results:
        for m in masks:
            if header is None:
                header = list(m["probabilities"]) if candidates == "nucleotides" else []
                handle.write("\t".join(["name", "position", *(header or ["candidates"]), "prediction", "score"]) + "\n")
            values = ([f"{m['probabilities'][b]:.6f}" for b in header] if header
                      else [",".join(f"{t}:{p:.6f}" for t, p in m["probabilities"].items())])
            handle.write("\t".join([m["name"], str(m["position"] + 1), *values, m["token"], f"{m['score']:.6f}"]) + "\n")
            n += 1
    return n


def write_attention_tsv(bases: str, cls_attention: np.ndarray, handle: IO[str]) -> int:
    """``position base cls_attention`` rows (1-based positions); returns the row count."""
    handle.write("position\tbase\tcls_attention\n")
    handle.writelines(f"{i + 1}\t{bases[i]}\t{v:.6g}\n" for i, v in enumerate(np.asarray(cls_attention).tolist()))
    return len(bases)


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
    ``list<fixed_size_list<float32>[H]>`` (one entry per nucleotide) otherwise; with no rows at
    all the file holds an empty table whose ``embedding`` is ``list<float32>``.
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
            raise NucleoforgeError("all embeddings written to one parquet file need the same shape per row")
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
        if self._writer is None:  # no rows: an empty table (its vector width unknown), not a 0-byte file
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema([("name", pa.string()), ("length", pa.int32()), ("embedding", pa.list_(pa.float32()))])
            self._writer = pq.ParquetWriter(self.path, schema)
        self._writer.close()

    def __enter__(self) -> ParquetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def embedding_format(path: str | os.PathLike) -> str:
    """``"npz"`` or ``"parquet"`` from an output name (``ValueError`` for anything else)."""
    text = str(path)
    if text.endswith(".npz"):
        return "npz"
    if text.endswith(".parquet") or text.endswith(".pq"):
        return "parquet"
    raise NucleoforgeError(f"cannot tell the output format of {text!r}: use a .npz or .parquet file name")


def open_embedding_writer(path: str | os.PathLike, rows_per_group: int = 256, *,
                          format: str | None = None) -> NpzWriter | ParquetWriter:
    """An :class:`NpzWriter` for ``*.npz``, a :class:`ParquetWriter` for ``*.parquet``
    (``format`` overrides the name, e.g. for a temporary file: see :func:`nucleoforge.io.outputs.atomic_path`)."""
    kind = format or embedding_format(path)
    if kind == "npz":
        return NpzWriter(str(path))
    if kind == "parquet":
        return ParquetWriter(str(path), rows_per_group)
    raise NucleoforgeError(f"unknown embedding format {kind!r}: npz or parquet")
