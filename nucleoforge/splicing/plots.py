"""Figures of splice-site predictions."""

from __future__ import annotations

import os
from typing import Any

from nucleoforge.pipelines.splice_site import SpliceSitePrediction

__all__ = ["plot_tracks"]


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
