"""``nucleotide-embedding``: per-nucleotide or pooled hidden states.

Token states of the chosen layer are mapped to nucleotide positions with
:func:`nucleoforge.heads.nucleotide_states` (for k-mer models each nucleotide takes the mean
of the k-mers covering it). ``pool="none"`` returns ``(N, H)`` per sequence, ``"mean"`` the
mean over nucleotides and ``"cls"`` the [CLS] state (the mean of the windows' [CLS] states
when a long sequence needs several windows). Long sequences are windowed and stitched per
nucleotide (:mod:`nucleoforge.pipelines.windows`).

The streaming writers for the results (``.npz``, ``.parquet``) are in :mod:`nucleoforge.io.tables`.

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

from typing import Any

import numpy as np
import torch
from transformers import AutoModelForMaskedLM
from transformers.pipelines import PIPELINE_REGISTRY

from nucleoforge.errors import NucleoforgeError
from nucleoforge.heads import nucleotide_states
from nucleoforge.pipelines._common import NucleotidePipeline, parse_masks
from nucleoforge.pipelines.windows import stitch

__all__ = ["NucleotideEmbeddingPipeline"]

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
                raise NucleoforgeError(f"layer must be in {-(n + 1)}..{n} (0 = embeddings, {n} or -1 = last layer), got {layer}")
            fwd["layer"] = layer
        if pool is not None:
            if pool not in POOLING:
                raise NucleoforgeError(f"pool must be one of {POOLING}, got {pool!r}")
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


PIPELINE_REGISTRY.register_pipeline(
    "nucleotide-embedding", pipeline_class=NucleotideEmbeddingPipeline, pt_model=AutoModelForMaskedLM, type="text"
)
