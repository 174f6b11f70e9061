"""Figures of splice-site predictions."""

from __future__ import annotations

import os
from typing import Any

from nucleoforge.pipelines.splice_site import SpliceSitePrediction

__all__ = ["plot_reliability", "plot_tracks", "reliability_figure", "tracks_figure", "tracks_title"]


def tracks_title(pred: SpliceSitePrediction) -> str:
    """``SpliceAI NAME (STRAND)``, the strand stated once: a name that already ends in this strand
    (``22:100-200:+`` from ``--region``, ``chr22:99-200(+)`` from ``bedtools getfasta -s``) loses
    that suffix.

    >>> import numpy as np
    >>> from nucleoforge.pipelines.splice_site import SpliceSitePrediction
    >>> tracks_title(SpliceSitePrediction("22:20105071-20114704:+", np.zeros(3), np.zeros(3), strand="+"))
    'SpliceAI 22:20105071-20114704 (+)'
    """
    name, strand = pred.name, pred.strand
    for suffix in (f":{strand}", f"({strand})"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return f"SpliceAI {name} ({strand})"


def tracks_figure(pred: SpliceSitePrediction, *, genes: Any = None, title: str | None = None) -> Any:
    """The matplotlib figure of :func:`plot_tracks` (its title: ``title`` or :func:`tracks_title`);
    the caller closes it (``matplotlib.pyplot.close(fig)``)."""
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
    fig.suptitle(title or tracks_title(pred))
    fig.tight_layout()
    return fig


def plot_tracks(pred: SpliceSitePrediction, path: str | os.PathLike, *, genes: Any = None,
                title: str | None = None) -> None:
    """Acceptor (up) and donor (down) tracks, with the exons of annotated genes in view when
    ``genes`` (a :class:`~nucleoforge.io.annotation.GeneTable`) is given, written to ``path``
    (the file type from its extension)."""
    fig = tracks_figure(pred, genes=genes, title=title)
    import matplotlib.pyplot as plt

    from nucleoforge.io.outputs import atomic_output

    with atomic_output(path, "wb") as fh:  # an existing PNG is replaced only by a complete one
        fig.savefig(fh, dpi=120, format=os.path.splitext(str(path))[1][1:].lower() or None)
    plt.close(fig)


def plot_reliability(before: Any, after: Any, path: str | os.PathLike, *, title: str | None = None,
                     format: str | None = None) -> None:
    """The reliability diagram of :func:`reliability_figure` written to ``path``. ``format``
    overrides the file type (for a temporary file name without the extension)."""
    import matplotlib.pyplot as plt

    fig = reliability_figure(before, after, title=title)
    fig.savefig(path, dpi=110, format=format)
    plt.close(fig)


def reliability_figure(before: Any, after: Any, *, title: str | None = None) -> Any:
    """Reliability diagram of a calibration: one column per class (acceptor, donor), the
    reliability curve (mean confidence vs observed frequency per non-empty bin, diagonal =
    calibrated) before and after on top, the positions per bin (weighted, log scale) below.

    ``before`` / ``after`` map a class name to its bins as
    :func:`nucleoforge.splicing.calibration.reliability_bins` returns them (``edges``,
    ``confidence``, ``accuracy``, ``weight``, ``ece``). Returns the matplotlib figure; the caller
    closes it (``matplotlib.pyplot.close(fig)``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    kinds = [k for k in before if k in after]
    fig, axes = plt.subplots(2, len(kinds), figsize=(5.2 * len(kinds), 6.6), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.4]})
    styles = {"before": ("tab:orange", "s", "uncalibrated"), "after": ("tab:blue", "o", "calibrated")}
    for col, kind in enumerate(kinds):
        top, bottom = axes[0, col], axes[1, col]
        top.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
        edges = np.asarray(before[kind]["edges"])
        centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        for shift, (when, bins) in zip((-0.2, 0.2), (("before", before[kind]), ("after", after[kind]))):
            color, marker, label = styles[when]
            conf, acc, weight = (np.asarray(bins[k], dtype=float) for k in ("confidence", "accuracy", "weight"))
            filled = weight > 0
            top.plot(conf[filled], acc[filled], marker=marker, color=color, lw=1.5, ms=5,
                     label=f"{label} (ECE {bins['ece']:.2e})")
            bottom.bar(centres + shift * width, np.where(filled, weight, np.nan), width=0.4 * width, color=color,
                       label=label)
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_aspect("equal")
        top.set_title(kind)
        top.set_xlabel(f"predicted {kind} probability (bin mean)")
        top.set_ylabel(f"observed {kind} frequency")
        top.legend(loc="upper left", fontsize=8)
        bottom.set_yscale("log")
        bottom.set_xlim(0, 1)
        bottom.set_xlabel(f"predicted {kind} probability ({len(centres)} bins)")
        bottom.set_ylabel("positions")
    fig.suptitle(title or "SpliceAI reliability diagram")
    fig.tight_layout()
    return fig
