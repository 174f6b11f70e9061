"""``splice-site`` pipeline: per-position SpliceAI acceptor/donor probabilities.

>>> import torch
>>> from transformers import pipeline
>>> from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
>>> _ = torch.manual_seed(0)
>>> model = SpliceAIModel(SpliceAIConfig(stages=[(1, 3, 2)], channels=4)).eval()
>>> splice = pipeline("splice-site", model=model, device="cpu")
>>> pred = splice("ACGTTAGGTAAGTC", strand="-")
>>> pred.acceptor.shape, pred.strand, pred.positions[:3].tolist()
((14,), '-', [1, 2, 3])
>>> len(splice(["ACGTAC", {"sequence": "GGTAAG", "name": "x", "start": 100}]))
2

Inputs are sequence strings, dicts (``sequence`` plus optional ``name``, ``chrom``,
``start`` — the 0-based genomic offset of the first base — and ``strand``) or lists of
those; ``context = (left, right)`` marks that many leading/trailing bases as context only
(e.g. real genomic flanks): they are seen by the model but not reported. The result is a :class:`SpliceSitePrediction`; with ``min_score`` its ``sites`` list
the positions whose acceptor or donor probability reaches the threshold. The pipeline
never reads files: the ``nucleoforge splice`` command does that and calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from nucleoforge.errors import NucleoforgeError

__all__ = ["SpliceSitePipeline", "SpliceSitePrediction"]


@dataclass
class SpliceSitePrediction:
    """Probabilities for one input; arrays run along the forward (plus-strand) coordinates."""

    name: str
    acceptor: np.ndarray
    donor: np.ndarray
    strand: str = "+"
    chrom: str | None = None
    start: int = 0  # 0-based offset of the first base (genomic for regions)
    sites: list[dict[str, Any]] = field(default_factory=list)

    @property
    def positions(self) -> np.ndarray:
        """1-based coordinates of the rows."""
        return np.arange(self.start + 1, self.start + 1 + len(self.acceptor))

    def top_sites(self, kind: str, n: int) -> list[tuple[int, float]]:
        """``n`` highest-scoring ``(1-based position, probability)`` for ``acceptor``/``donor``."""
        track = self.acceptor if kind == "acceptor" else self.donor
        idx = np.argsort(-track, kind="stable")[:n]
        return [(int(self.start + 1 + i), float(track[i])) for i in idx]

    def sites_above(self, min_score: float) -> list[dict[str, Any]]:
        out = []
        for kind, track in (("acceptor", self.acceptor), ("donor", self.donor)):
            for i in np.flatnonzero(track >= min_score):
                out.append({"position": int(self.start + 1 + i), "type": kind, "score": float(track[i])})
        return sorted(out, key=lambda s: (s["position"], s["type"]))


class SpliceSitePipeline(Pipeline):
    """transformers Pipeline for :class:`~nucleoforge.models.spliceai.SpliceAIModel`.

    Call parameters: ``strand`` (``"+"``/``"-"``, default plus; minus = reverse complement
    in, flipped out), ``min_score`` (fill ``sites``), ``window_batch_size`` (chunks per model
    call), ``chunk_size`` (predicted positions per chunk), ``progress`` (tqdm bar),
    ``calibrated`` (apply the model's fitted temperatures, see ``calibrate-splice``).
    """

    def _sanitize_parameters(self, strand: str | None = None, min_score: float | None = None,
                             window_batch_size: int | None = None, chunk_size: int | None = None,
                             progress: bool | None = None, calibrated: bool | None = None, **kwargs: Any):
        pre: dict[str, Any] = {}
        fwd: dict[str, Any] = {}
        post: dict[str, Any] = {}
        if strand is not None:
            if strand not in ("+", "-"):
                raise NucleoforgeError(f"strand must be '+' or '-', got {strand!r}")
            pre["strand"] = strand
        if window_batch_size is not None:
            fwd["batch_size"] = window_batch_size
        if chunk_size is not None:
            fwd["chunk_size"] = chunk_size
        if progress is not None:
            fwd["progress"] = progress
        if calibrated is not None:
            fwd["calibrated"] = calibrated
        if min_score is not None:
            post["min_score"] = min_score
        return pre, fwd, post

    def preprocess(self, inputs: str | dict[str, Any], strand: str = "+") -> dict[str, Any]:
        if isinstance(inputs, str):
            item = {"sequence": inputs}
        elif isinstance(inputs, dict) and "sequence" in inputs:
            item = dict(inputs)
        else:
            raise NucleoforgeError(f"splice-site input must be a sequence string or a dict with 'sequence', got {type(inputs).__name__}")
        item.setdefault("strand", strand)
        if item["strand"] not in ("+", "-"):
            raise NucleoforgeError(f"strand must be '+' or '-', got {item['strand']!r}")
        item.setdefault("name", "sequence")
        item.setdefault("start", 0)
        item.setdefault("chrom", None)
        left, right = item.setdefault("context", (0, 0))
        if left < 0 or right < 0 or left + right >= len(item["sequence"]):
            raise NucleoforgeError(f"context {item['context']} leaves no position of the {len(item['sequence'])}-nt sequence to report")
        return item

    def _forward(self, item: dict[str, Any], batch_size: int = 1, chunk_size: int | None = None,
                 progress: bool = False, calibrated: bool = False) -> dict[str, Any]:
        from nucleoforge.pipelines.splice_predict import DEFAULT_CHUNK_SIZE, predict_sequence

        if getattr(self.model.config, "head", "softmax") != "softmax":  # e.g. Pangolin: columns are tissues
            raise NucleoforgeError(f"the splice-site pipeline reads acceptor/donor classes; this model's head "
                                   f"{self.model.config.head!r} gives P(splice site) per tissue: use "
                                   "nucleoforge.splicing.predict.predict_tissues")
        probs = predict_sequence(self.model, item["sequence"], strand=item["strand"], batch_size=batch_size,
                                 chunk_size=chunk_size or DEFAULT_CHUNK_SIZE, progress=progress, calibrated=calibrated)
        return {**item, "probs": probs}

    def postprocess(self, out: dict[str, Any], min_score: float | None = None) -> SpliceSitePrediction:
        left, right = out["context"]
        probs = out["probs"][left : len(out["probs"]) - right]
        pred = SpliceSitePrediction(name=out["name"], acceptor=probs[:, 1].copy(), donor=probs[:, 2].copy(),
                                    strand=out["strand"], chrom=out["chrom"], start=int(out["start"]))
        if min_score is not None:
            pred.sites = pred.sites_above(min_score)
        return pred

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        # A list of inputs is a batch of independent sequences (each may be long).
        if isinstance(inputs, (list, tuple)):
            return [super(SpliceSitePipeline, self).__call__(x, **kwargs) for x in inputs]
        return super().__call__(inputs, **kwargs)


PIPELINE_REGISTRY.register_pipeline("splice-site", pipeline_class=SpliceSitePipeline, pt_model=AutoModel, type="text")
