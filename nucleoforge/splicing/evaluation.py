"""SpliceAI's evaluation on annotated genes: top-k accuracy and PR-AUC per splice-site class.

Every position of each transcript is a sample; the gene table's exon boundaries are the
positives (acceptor = first base of an exon after an intron, donor = last base before one,
on the transcript's strand). As in Jaganathan et al. (2019):

* **top-k accuracy**: with k = the number of true sites of a class, the fraction of the k
  highest-scoring positions that are true sites (pooled over all genes);
* **PR-AUC**: average precision of the class probability against the labels.

>>> import numpy as np
>>> y, s = np.array([0, 1, 0, 1, 0]), np.array([0.1, 0.9, 0.8, 0.3, 0.2])
>>> topk_accuracy(y, s), round(average_precision(y, s), 4)
(0.5, 0.8333)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome, parse_region

__all__ = ["topk_accuracy", "average_precision", "select_genes", "evaluate_genes", "SpliceEvaluation", "gene_labels",
           "SITE_SCORE", "site_metrics", "site_scores"]

#: How a per-tissue model (Pangolin: P(splice site) per tissue, no acceptor/donor classes) is scored.
SITE_SCORE = ("splice site = acceptor or donor; score = max over tissues of P(splice site); acceptor_*/donor_*: "
              "the same score, the other class's sites left out")


def site_scores(probabilities: np.ndarray) -> np.ndarray:
    """A per-tissue model's site score: the highest tissue's P(splice site) at each position."""
    return np.asarray(probabilities).max(axis=-1)


def site_metrics(labels: np.ndarray, score: np.ndarray, factors: Sequence[float] = ()) -> dict[str, float]:
    """Top-k accuracy and PR-AUC of one site score (:data:`SITE_SCORE`) against 0/1/2 labels.

    ``site_*``: positives are acceptors and donors together. ``acceptor_*`` / ``donor_*``: positives
    that class, negatives the positions labelled neither (the other class's sites left out, since
    the score does not tell them apart). ``factors``: also ``*_top{f}k`` for each.

    >>> m = site_metrics(np.array([0, 1, 0, 2, 0]), np.array([0.1, 0.9, 0.8, 0.7, 0.2]))
    >>> m["sites"], m["site_topk"], m["acceptor_topk"], m["donor_topk"]
    (2, 0.5, 1.0, 0.0)
    """
    y, score = np.asarray(labels), np.asarray(score)
    out: dict[str, float] = {"sites": int((y > 0).sum())}
    for name, keep, positive in (("site", slice(None), y > 0), ("acceptor", y != 2, y == 1), ("donor", y != 1, y == 2)):
        labels_, scores_ = positive[keep], score[keep]
        out[f"{name}_topk"] = topk_accuracy(labels_, scores_)
        for f in factors:
            out[f"{name}_top{f:g}k"] = topk_accuracy(labels_, scores_, f)
        out[f"{name}_pr_auc"] = average_precision(labels_, scores_)
    return out


def topk_accuracy(labels: np.ndarray, scores: np.ndarray, factor: float = 1.0) -> float:
    """Fraction of the ``round(factor * k)`` top-scoring positions that are positives (k = #positives).

    Ties at the cut are broken by position (stable sort), so the value is deterministic.
    """
    labels = np.asarray(labels).astype(bool)
    k = int(round(factor * labels.sum()))
    if k == 0:
        return float("nan")
    top = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]
    return float(labels[top].sum() / min(k, labels.sum()) if factor >= 1 else labels[top].mean())


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as the step sum ``sum (R_n - R_{n-1}) P_n`` over
    distinct score thresholds (the definition scikit-learn's ``average_precision_score`` uses)."""
    labels = np.asarray(labels).astype(np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    total = labels.sum()
    if total == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    # Keep the last index of each run of equal scores: one point per threshold.
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, n = tp[last], last + 1
    precision, recall = tp / n, tp / total
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def gene_labels(genes: GeneTable, index: int) -> np.ndarray:
    """``(tx_end - tx_start,)`` int8 labels over a transcript: 0 neither, 1 acceptor, 2 donor."""
    g = genes[index]
    y = np.zeros(g.tx_end - g.tx_start, dtype=np.int8)
    for p in g.acceptors:
        y[p - g.tx_start] = 1
    for p in g.donors:
        y[p - g.tx_start] = 2
    return y


def select_genes(genes: GeneTable, genome: Genome | None, regions: Sequence[str] = (), names: Sequence[str] = ()) -> list[int]:
    """Indices of genes named in ``names`` or whose whole transcript lies in one of ``regions``
    (``chrom:start-end``); genes on chromosomes missing from ``genome`` are left out."""
    chosen: list[int] = []
    for text in regions:
        r = parse_region(text)
        if genome is not None and r.chrom in genome and r.end > genome.length(r.chrom):
            raise NucleoforgeError(f"region {text} ends after {genome.resolve(r.chrom)} in {genome.path} "
                             f"(length {genome.length(r.chrom):,})")
        chosen += genes.within(r.chrom, r.start, r.end)
    wanted = set(names)
    if wanted:
        found = [i for i, g in enumerate(genes) if g.name in wanted]
        missing = wanted - {genes[i].name for i in found}
        if missing:
            raise NucleoforgeError(f"genes not in {genes.source}: {', '.join(sorted(missing))}")
        chosen += found
    out = list(dict.fromkeys(chosen))
    if genome is not None:
        out = [i for i in out if genes[i].chrom in genome]
        for i in out:
            g = genes[i]
            if g.tx_end > genome.length(g.chrom):
                raise NucleoforgeError(
                    f"gene {g.name} ({g.chrom}:{g.tx_start + 1:,}-{g.tx_end:,}) lies past the end of "
                    f"{genome.resolve(g.chrom)} in {genome.path} (length {genome.length(g.chrom):,})"
                )
    return out


@dataclass
class SpliceEvaluation:
    """Per-gene and pooled results of :func:`evaluate_genes`."""

    genes: list[dict[str, Any]] = field(default_factory=list)
    pooled: dict[str, float] = field(default_factory=dict)
    score: str | None = None  # a per-tissue model's scoring rule (SITE_SCORE); None: acceptor/donor classes

    def summary(self) -> dict[str, Any]:
        return {"genes": len(self.genes), **self.pooled, **({"score": self.score} if self.score else {})}

    def table(self) -> str:
        if self.score:
            return self._site_table()
        rows = [f"{'gene':<18} {'strand':>6} {'length':>8} {'introns':>7} {'acc top-k':>9} {'don top-k':>9}"]
        for g in self.genes:
            rows.append(f"{g['gene']:<18} {g['strand']:>6} {g['length']:>8,} {g['introns']:>7} "
                        f"{g['acceptor_topk']:>9.3f} {g['donor_topk']:>9.3f}")
        p = self.pooled
        rows.append(
            f"pooled: {p['positions']:,} positions, {p['introns']} introns | acceptor top-k {p['acceptor_topk']:.4f} "
            f"PR-AUC {p['acceptor_pr_auc']:.4f} | donor top-k {p['donor_topk']:.4f} PR-AUC {p['donor_pr_auc']:.4f}"
        )
        return "\n".join(rows)

    def _site_table(self) -> str:
        rows = [f"{'gene':<18} {'strand':>6} {'length':>8} {'introns':>7} {'site top-k':>10} {'acc top-k':>9} {'don top-k':>9}"]
        for g in self.genes:
            rows.append(f"{g['gene']:<18} {g['strand']:>6} {g['length']:>8,} {g['introns']:>7} {g['site_topk']:>10.3f} "
                        f"{g['acceptor_topk']:>9.3f} {g['donor_topk']:>9.3f}")
        p = self.pooled
        rows.append(
            f"pooled: {p['positions']:,} positions, {p['introns']} introns | site top-k {p['site_topk']:.4f} PR-AUC "
            f"{p['site_pr_auc']:.4f} | acceptor top-k {p['acceptor_topk']:.4f} PR-AUC {p['acceptor_pr_auc']:.4f} | "
            f"donor top-k {p['donor_topk']:.4f} PR-AUC {p['donor_pr_auc']:.4f}"
        )
        rows.append(f"scored as: {self.score}")
        return "\n".join(rows)

    def write_tsv(self, path: str | os.PathLike) -> None:
        """Per-gene rows as a TSV, written beside ``path`` and renamed over it when complete."""
        from nucleoforge.io.outputs import atomic_output
        from nucleoforge.io.tables import write_dict_tsv

        with atomic_output(path) as fh:
            write_dict_tsv(self.genes, fh)


def evaluate_genes(
    model: Any,
    genome: Genome,
    genes: GeneTable,
    indices: Sequence[int],
    *,
    batch_size: int = 4,
    device: str | None = None,
    progress: bool = False,
    calibrated: bool = False,
) -> SpliceEvaluation:
    """Predict every transcript in ``indices`` (flanks outside it as N) and score the predictions
    (``calibrated``: with the model's fitted temperatures, see ``calibrate-splice``)."""
    from nucleoforge.pipelines.splice_predict import predict_sequence

    if getattr(model.config, "head", "softmax") == "pangolin":
        return _evaluate_sites(model, genome, genes, indices, batch_size=batch_size, device=device, progress=progress)
    result = SpliceEvaluation()
    all_y, all_p = [], []
    for i in indices:
        g = genes[i]
        seq = genome.fetch_padded(g.chrom, g.tx_start, g.tx_end).upper()
        probs = predict_sequence(model, seq, strand=g.strand, batch_size=batch_size, device=device, progress=progress,
                                 calibrated=calibrated)
        y = gene_labels(genes, i)
        all_y.append(y)
        all_p.append(probs[:, 1:3].astype(np.float32))
        result.genes.append({
            "gene": g.name, "chrom": g.chrom, "strand": g.strand, "tx_start": g.tx_start, "tx_end": g.tx_end,
            "length": len(seq), "introns": len(g.introns),
            "acceptor_topk": topk_accuracy(y == 1, probs[:, 1]) if g.introns else float("nan"),
            "donor_topk": topk_accuracy(y == 2, probs[:, 2]) if g.introns else float("nan"),
        })
    y = np.concatenate(all_y)
    p = np.concatenate(all_p)
    pooled: dict[str, float] = {"positions": int(len(y)), "introns": int(sum(g["introns"] for g in result.genes))}
    for c, name in ((1, "acceptor"), (2, "donor")):
        pooled[f"{name}_topk"] = round(topk_accuracy(y == c, p[:, c - 1]), 4)
        for f in (0.5, 2.0, 4.0):
            pooled[f"{name}_top{f:g}k"] = round(topk_accuracy(y == c, p[:, c - 1], f), 4)
        pooled[f"{name}_pr_auc"] = round(average_precision(y == c, p[:, c - 1]), 4)
    result.pooled = pooled
    return result


def _evaluate_sites(model: Any, genome: Genome, genes: GeneTable, indices: Sequence[int], *, batch_size: int,
                    device: str | None, progress: bool) -> SpliceEvaluation:
    """:func:`evaluate_genes` for a per-tissue model: one site score per position (:data:`SITE_SCORE`)."""
    from nucleoforge.pipelines.splice_predict import predict_sequence

    result = SpliceEvaluation(score=SITE_SCORE)
    all_y, all_s = [], []
    for i in indices:
        g = genes[i]
        seq = genome.fetch_padded(g.chrom, g.tx_start, g.tx_end).upper()
        score = site_scores(predict_sequence(model, seq, strand=g.strand, batch_size=batch_size, device=device,
                                             progress=progress)).astype(np.float32)
        y = gene_labels(genes, i)
        all_y.append(y)
        all_s.append(score)
        per_gene = site_metrics(y, score) if g.introns else {}
        result.genes.append({
            "gene": g.name, "chrom": g.chrom, "strand": g.strand, "tx_start": g.tx_start, "tx_end": g.tx_end,
            "length": len(seq), "introns": len(g.introns),
            **{f"{k}_topk": per_gene.get(f"{k}_topk", float("nan")) for k in ("site", "acceptor", "donor")},
        })
    y, score = np.concatenate(all_y), np.concatenate(all_s)
    pooled: dict[str, float] = {"positions": int(len(y)), "introns": int(sum(g["introns"] for g in result.genes))}
    pooled.update({k: round(v, 4) if isinstance(v, float) else v for k, v in site_metrics(y, score, (0.5, 2.0, 4.0)).items()})
    result.pooled = pooled
    return result
