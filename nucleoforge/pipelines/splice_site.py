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

import os
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from transformers import Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

__all__ = ["SpliceSitePipeline", "SpliceSitePrediction", "write_tsv", "write_bedgraph", "plot_tracks"]


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
    call), ``chunk_size`` (predicted positions per chunk), ``progress`` (tqdm bar).
    """

    def _sanitize_parameters(self, strand: str | None = None, min_score: float | None = None,
                             window_batch_size: int | None = None, chunk_size: int | None = None,
                             progress: bool | None = None, **kwargs: Any):
        pre: dict[str, Any] = {}
        fwd: dict[str, Any] = {}
        post: dict[str, Any] = {}
        if strand is not None:
            if strand not in ("+", "-"):
                raise ValueError(f"strand must be '+' or '-', got {strand!r}")
            pre["strand"] = strand
        if window_batch_size is not None:
            fwd["batch_size"] = window_batch_size
        if chunk_size is not None:
            fwd["chunk_size"] = chunk_size
        if progress is not None:
            fwd["progress"] = progress
        if min_score is not None:
            post["min_score"] = min_score
        return pre, fwd, post

    def preprocess(self, inputs: str | dict[str, Any], strand: str = "+") -> dict[str, Any]:
        if isinstance(inputs, str):
            item = {"sequence": inputs}
        elif isinstance(inputs, dict) and "sequence" in inputs:
            item = dict(inputs)
        else:
            raise ValueError(f"splice-site input must be a sequence string or a dict with 'sequence', got {type(inputs).__name__}")
        item.setdefault("strand", strand)
        if item["strand"] not in ("+", "-"):
            raise ValueError(f"strand must be '+' or '-', got {item['strand']!r}")
        item.setdefault("name", "sequence")
        item.setdefault("start", 0)
        item.setdefault("chrom", None)
        left, right = item.setdefault("context", (0, 0))
        if left < 0 or right < 0 or left + right >= len(item["sequence"]):
            raise ValueError(f"context {item['context']} leaves no position of the {len(item['sequence'])}-nt sequence to report")
        return item

    def _forward(self, item: dict[str, Any], batch_size: int = 1, chunk_size: int | None = None,
                 progress: bool = False) -> dict[str, Any]:
        from nucleoforge.models.spliceai.predict import DEFAULT_CHUNK_SIZE, predict_sequence

        probs = predict_sequence(self.model, item["sequence"], strand=item["strand"], batch_size=batch_size,
                                 chunk_size=chunk_size or DEFAULT_CHUNK_SIZE, progress=progress)
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


def write_tsv(pred: SpliceSitePrediction, handle: IO[str], *, min_score: float | None = None, header: bool = True,
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


def write_bedgraph(pred: SpliceSitePrediction, prefix: str | os.PathLike, *, append: bool = False,
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


def plot_tracks(pred: SpliceSitePrediction, path: str | os.PathLike, *, genes: Any = None,
                title: str | None = None) -> None:
    """Acceptor (up) and donor (down) tracks, with the exons of annotated genes in view when
    ``genes`` (a :class:`~nucleoforge.io.annotation.GeneTable`) is given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = pred.positions
    shown: list[Any] = []
    if genes is not None and pred.chrom is not None:
        lo, hi = pred.start, pred.start + len(pred.acceptor)
        shown = [g for g in genes if genes.resolve(pred.chrom) == g.chrom and g.tx_start < hi and g.tx_end > lo]
    rows = 2 + (1 if shown else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(12, 1.8 * rows + 0.6), sharex=True,
                             gridspec_kw={"height_ratios": [3, 3] + ([1.2] if shown else [])})
    axes[0].vlines(x, 0, pred.acceptor, color="tab:blue", linewidth=0.8)
    axes[0].set_ylabel("acceptor")
    axes[1].vlines(x, 0, pred.donor, color="tab:red", linewidth=0.8)
    axes[1].set_ylabel("donor")
    for ax in axes[:2]:
        ax.set_ylim(0, 1.02)
    if shown:
        ax = axes[2]
        for row, g in enumerate(shown):
            ax.hlines(row, max(g.tx_start, pred.start) + 1, min(g.tx_end, pred.start + len(x)), color="grey", linewidth=1)
            for s, e in zip(g.exon_starts, g.exon_ends):
                ax.add_patch(plt.Rectangle((s + 1, row - 0.3), e - s, 0.6, color="black"))
            ax.text(max(g.tx_start, pred.start) + 1, row + 0.35, f"{g.name} ({g.strand})", fontsize=8, va="bottom")
        ax.set_ylim(-0.8, len(shown) - 0.2)
        ax.set_yticks([])
        ax.set_ylabel("genes")
    from matplotlib.ticker import FuncFormatter

    axes[-1].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))
    axes[-1].set_xlabel(f"{pred.chrom or pred.name} position (1-based)")
    axes[-1].set_xlim(x[0], x[-1])
    fig.suptitle(title or f"SpliceAI {pred.name} ({pred.strand})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


PIPELINE_REGISTRY.register_pipeline("splice-site", pipeline_class=SpliceSitePipeline, type="text")
