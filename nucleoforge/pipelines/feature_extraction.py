"""``nucleotide-embedding``: per-nucleotide or pooled hidden states, and streaming writers.

Token states of the chosen layer are mapped to nucleotide positions with
:func:`nucleoforge.heads.nucleotide_states` (for k-mer models each nucleotide takes the mean
of the k-mers covering it). ``pool="none"`` returns ``(N, H)`` per sequence, ``"mean"`` the
mean over nucleotides and ``"cls"`` the [CLS] state (the mean of the windows' [CLS] states
when a long sequence needs several windows). Long sequences are windowed and stitched per
nucleotide (:mod:`nucleoforge.pipelines.windows`).

The writers stream: :class:`NpzWriter` appends one ``.npy`` member per sequence to the zip
archive as it goes (``numpy.load`` reads the result), :class:`ParquetWriter` writes row
groups of ``rows_per_group`` sequences. Neither holds more than one group in memory.

>>> import torch
>>> from transformers import pipeline
>>> import nucleoforge as nf
>>> _ = torch.manual_seed(0)
>>> model = nf.UtrBertForMaskedLM(nf.UtrBertConfig(k=3, hidden_size=16, num_hidden_layers=1,
...     num_attention_heads=2, intermediate_size=32, max_position_embeddings=20))
>>> embed = pipeline("nucleotide-embedding", model=model,
...                  tokenizer=nf.NucleotideTokenizer.for_model("utrbert", k=3), device="cpu")
>>> out = embed(["ACGUACGUAC", "ACGUACGUACGUACGUACGUACGUAC"], pool="none")
>>> [o["embedding"].shape for o in out]
[(10, 16), (26, 16)]
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForMaskedLM
from transformers.pipelines import PIPELINE_REGISTRY

from nucleoforge.heads import nucleotide_states
from nucleoforge.pipelines._common import NucleotidePipeline, parse_masks
from nucleoforge.pipelines.windows import stitch

__all__ = ["NucleotideEmbeddingPipeline", "NpzWriter", "ParquetWriter", "open_embedding_writer"]

POOLING = ("mean", "cls", "none")


class NucleotideEmbeddingPipeline(NucleotidePipeline):
    """Hidden states of any BERT-family nucleotide model (MLM or bare encoder).

    Call parameters: ``layer`` (index into embeddings + layers: 0 = embedding output,
    -1 = last layer, the default), ``pool`` (``mean`` default, ``cls``, ``none``),
    ``window``/``stride``, plus the batching parameters.

    Returns per input a dict: ``name``, ``length`` (nucleotides) and ``embedding``
    (float32 ``(H,)`` pooled, or ``(length, H)`` with ``pool="none"``).
    """

    _nucleotide_outputs = ("states",)

    def _sanitize_parameters(self, layer: int | None = None, pool: str | None = None, window: int | None = None,
                             stride: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"unexpected embedding parameters: {sorted(kwargs)}")
        pre: dict[str, Any] = {}
        fwd: dict[str, Any] = {}
        post: dict[str, Any] = {}
        if layer is not None:
            n = self.model.config.num_hidden_layers
            if not -(n + 1) <= layer <= n:
                raise ValueError(f"layer must be in {-(n + 1)}..{n} (0 = embeddings, {n} or -1 = last layer), got {layer}")
            fwd["layer"] = layer
        if pool is not None:
            if pool not in POOLING:
                raise ValueError(f"pool must be one of {POOLING}, got {pool!r}")
            post["pool"] = pool
        if window is not None:
            pre["window"] = window
        if stride is not None:
            pre["stride"] = stride
        return pre, fwd, post

    def preprocess(self, item: dict[str, Any], window: int | None = None, stride: int | None = None) -> dict[str, Any]:
        plain, masked = parse_masks(item["sequence"])
        return {"name": item["name"], "length": len(plain), "chunks": self.window_chunks(item["name"], plain, masked, window, stride)}

    def _forward(self, batch: dict[str, torch.Tensor], layer: int = -1) -> dict[str, torch.Tensor]:
        encoder = self.model.base_model
        last = layer in (-1, self.model.config.num_hidden_layers)
        out = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=not last)
        hidden = out.last_hidden_state if last else out.hidden_states[layer]
        states, _ = nucleotide_states(hidden, batch["input_ids"], batch["attention_mask"], self.k, self._special_ids())
        return {"states": states, "cls": hidden[:, 0]}  # right padding: [CLS] is token 0

    def postprocess(self, job: dict[str, Any], pool: str = "mean") -> dict[str, Any]:
        if pool == "cls":
            embedding = np.mean([o["cls"] for o in job["outputs"]], axis=0)
        else:
            states = stitch([o["states"] for o in job["outputs"]], [c["window"] for c in job["chunks"]])
            embedding = states.mean(axis=0) if pool == "mean" else states
        return {"name": job["name"], "length": job["length"], "embedding": embedding.astype(np.float32, copy=False)}


# ---------------------------------------------------------------------------- writers
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


PIPELINE_REGISTRY.register_pipeline(
    "nucleotide-embedding", pipeline_class=NucleotideEmbeddingPipeline, pt_model=AutoModelForMaskedLM, type="text"
)
