"""``nucleotide-fill-mask``: per-nucleotide A/C/G/T(U) probabilities at masked positions.

Write ``<mask>`` (or ``[MASK]``) for each masked nucleotide. For single-nucleotide models the
candidates are the four nucleotide tokens only (softmax over their logits); pass
``candidates="all"`` to rank every vocabulary token (``N``, specials, RNAErnie's RNA types).
For k-mer models (3UTRBERT) the tokenizer masks every k-mer covering a masked nucleotide
(the whole-k-mer rule the model was trained with) and the per-nucleotide probabilities are
derived from the k-mer predictions as documented in :mod:`nucleoforge.pipelines._common`
(per covering k-mer: conditional on the unmasked bases of that k-mer; across covering
k-mers: ``combine="mean"`` or ``"product"``).

Sequences longer than the model are processed in overlapping windows (``window``,
``stride``); each mask is predicted by the window in which it lies most centrally.

>>> import tempfile, torch
>>> from transformers import pipeline
>>> import nucleoforge as nf
>>> _ = torch.manual_seed(0)
>>> model = nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(hidden_size=16, num_hidden_layers=1,
...     num_attention_heads=2, intermediate_size=32, max_position_embeddings=34))
>>> fill = pipeline("nucleotide-fill-mask", model=model,
...                 tokenizer=nf.NucleotideTokenizer.for_model("splicebert"), device="cpu")
>>> out = fill("ACGU<mask>ACGU")
>>> [(m["position"], sorted(m["probabilities"]), round(sum(m["probabilities"].values()), 6)) for m in out]
[(4, ['A', 'C', 'G', 'T'], 1.0)]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import AutoModelForMaskedLM
from transformers.pipelines import PIPELINE_REGISTRY

from nucleoforge.errors import NucleoforgeError
from nucleoforge.pipelines._common import (
    NucleotidePipeline,
    base_alphabet,
    base_codes,
    base_distributions,
    check_combine,
    parse_masks,
)

__all__ = ["NucleotideFillMaskPipeline"]


class NucleotideFillMaskPipeline(NucleotidePipeline):
    """Fill-mask for nucleotide MLMs (single-nucleotide and k-mer vocabularies).

    Call parameters: ``candidates`` (``"nucleotides"`` default, or ``"all"`` for k = 1
    models), ``top_k`` (with ``candidates="all"``: tokens reported, default 5), ``combine``
    (``"mean"``/``"product"``, k-mer models), ``window``/``stride`` (long sequences), plus
    the batching parameters of :class:`~nucleoforge.pipelines._common.NucleotidePipeline`.

    Returns, per input, a list with one dict per masked nucleotide (in sequence order):
    ``name``, ``position`` (0-based nucleotide index), ``probabilities`` (base → probability,
    summing to 1; token → probability for the ``top_k`` tokens with ``candidates="all"``),
    ``token`` (the most probable candidate) and ``score`` (its probability).
    """

    _token_outputs = ("probs",)

    def _sanitize_parameters(self, candidates: str | None = None, top_k: int | None = None, combine: str | None = None,
                             window: int | None = None, stride: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"unexpected fill-mask parameters: {sorted(kwargs)}")
        pre: dict[str, Any] = {}
        fwd: dict[str, Any] = {}
        post: dict[str, Any] = {}
        if candidates is not None:
            if candidates not in ("nucleotides", "all"):
                raise NucleoforgeError(f"candidates must be 'nucleotides' or 'all', got {candidates!r}")
            if candidates == "all" and self.k != 1:
                raise NucleoforgeError(f"candidates='all' needs a single-nucleotide model; this one has {self.k}-mer tokens")
            fwd["candidates"] = post["candidates"] = candidates
        if top_k is not None:
            if top_k < 1:
                raise NucleoforgeError(f"top_k must be >= 1, got {top_k}")
            post["top_k"] = top_k
        if combine is not None:
            post["combine"] = check_combine(combine)
        if window is not None:
            pre["window"] = window
        if stride is not None:
            pre["stride"] = stride
        return pre, fwd, post

    def preprocess(self, item: dict[str, Any], window: int | None = None, stride: int | None = None) -> dict[str, Any]:
        plain, masked = parse_masks(item["sequence"])
        positions = np.flatnonzero(masked)
        if positions.size == 0:
            raise NucleoforgeError(f"sequence {item['name']!r} has no <mask> to fill")
        chunks = []
        for chunk in self.window_chunks(item["name"], plain, masked, window, stride):
            w = chunk["window"]
            targets = positions[(positions >= w.keep_start) & (positions < w.keep_end)]
            if targets.size:  # windows without a mask to report are not run
                chunks.append({**chunk, "targets": targets})
        return {"name": item["name"], "plain": plain, "masked": masked, "chunks": chunks}

    def _forward(self, batch: dict[str, torch.Tensor], candidates: str = "nucleotides") -> dict[str, torch.Tensor]:
        if candidates == "all":
            logits = self.model(**batch).logits
            return {"probs": torch.softmax(logits.float(), dim=-1)}
        return {"probs": self._kmer_probs(batch)}

    def postprocess(self, job: dict[str, Any], candidates: str = "nucleotides", top_k: int = 5,
                    combine: str = "mean") -> list[dict[str, Any]]:
        alphabet = base_alphabet(self.tokenizer)
        results = []
        for chunk, out in zip(job["chunks"], job["outputs"]):
            w = chunk["window"]
            local = chunk["targets"] - w.start
            probs = out["probs"][1:-1]  # drop [CLS] and [SEP]
            if candidates == "all":
                for p, row in zip(chunk["targets"], probs[local]):
                    best = np.argsort(-row, kind="stable")[:top_k]
                    tokens = self.tokenizer.convert_ids_to_tokens(best.tolist())
                    results.append({"name": job["name"], "position": int(p),
                                    "probabilities": {t: float(row[i]) for t, i in zip(tokens, best)},
                                    "token": tokens[0], "score": float(row[best[0]])})
                continue
            known = base_codes(job["plain"][w.start : w.end], job["masked"][w.start : w.end])
            dist = base_distributions(probs, known, self.k, local, combine)
            for p, row in zip(chunk["targets"], dist):
                best = int(np.argmax(row))
                results.append({"name": job["name"], "position": int(p),
                                "probabilities": {b: float(v) for b, v in zip(alphabet, row)},
                                "token": alphabet[best], "score": float(row[best])})
        return results


PIPELINE_REGISTRY.register_pipeline(
    "nucleotide-fill-mask", pipeline_class=NucleotideFillMaskPipeline, pt_model=AutoModelForMaskedLM, type="text"
)
