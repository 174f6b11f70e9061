"""The Pangolin answers of ``nucleoforge serve`` (``GET /pangolin/``, ``POST /pangolin/batch``).

The scores are the entries of ``nucleoforge variants --model pangolin`` (the original ``pangolin``
command's rules, :mod:`nucleoforge.splicing.rules_pangolin`) for the same variant, distance and
mask; the JSON keys are those of the Broad's SpliceAI-lookup Pangolin answers, so that its
clients keep working. Per entry (one per gene containing the variant, ``+``-strand genes first):

* ``g_name``, ``g_id``, ``t_id``, ``t_strand``, ``TX_START``/``TX_END`` (the gene body, 1-based),
  ``EXON_STARTS``/``EXON_ENDS`` (1-based: the annotated sites the mask reads);
* ``DS_SG``/``DS_SL``: the largest splice gain and loss (strings, two decimals: the entry's
  numbers, which the original rounds to two decimals), ``DP_SG``/``DP_SL``: their positions
  relative to POS (integers); ``ENTRY``: the INFO entry itself (``GENE|DP:GAIN|DP:LOSS|Warnings:``),
  ``WARNINGS``: what follows ``Warnings:``;
* with the model's tracks (``tracks=1``, or whenever the model ran): ``SG_REF``/``SG_ALT``, the
  REF and ALT probability of a splice site at ``DP_SG`` in the tissue whose change is the gain
  there, and ``SL_REF``/``SL_ALT`` likewise at ``DP_SL`` for the loss (each tissue's probability
  being the mean over its three models); ``tracks``: the same four as per-position arrays over
  ``POS - distance … POS + len(REF) - 1 + distance`` (genomic order, the ALT track after
  Pangolin's indel alignment) for the page's plot.

At the top, as for ``/spliceai/``: ``variant``, ``genomeVersion``, ``chrom``, ``pos``, ``ref``,
``alt``, ``distance``, ``mask``, ``scores``, ``source``, and ``allNonZeroScores`` (rows ``{pos,
SG_REF, SG_ALT, SL_REF, SL_ALT}`` of the first entry where a probability reaches
:data:`MIN_SHOWN`, and at its ``DP_SG``, ``DP_SL`` and POS).

>>> import numpy as np
>>> ref = np.array([[0.1, 0.1, 0.2, 0.2], [0.5, 0.5, 0.5, 0.5]], dtype=np.float32)   # 2 positions x 4 models
>>> alt = np.array([[0.4, 0.4, 0.2, 0.2], [0.5, 0.5, 0.1, 0.3]], dtype=np.float32)
>>> [[round(float(x), 2) for x in a] for a in tissue_tracks(ref, alt, [0, 0, 1, 1])]   # SG_REF SG_ALT SL_REF SL_ALT
[[0.1, 0.5], [0.4, 0.5], [0.2, 0.5], [0.2, 0.2]]
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nucleoforge.errors import NucleoforgeError

__all__ = ["pangolin_result", "tissue_tracks", "check_pangolin", "NOT_SERVED", "MIN_SHOWN", "TRACK_KEYS"]

#: the answer of a Pangolin request to a server without a Pangolin model (HTTP 404)
NOT_SERVED = ("this server has no Pangolin model: start it with --pangolin pangolin (after `nucleoforge convert "
              "pangolin SRC`) or --pangolin FOLDER")
#: a position enters ``allNonZeroScores`` when one of its four probabilities reaches this (Pangolin's
#: background P(splice site) is about 0.05 almost everywhere, SpliceAI's near 0)
MIN_SHOWN = 0.1
#: the per-position tracks of an entry, in the plot's order
TRACK_KEYS = ("SG_REF", "SG_ALT", "SL_REF", "SL_ALT")


def check_pangolin(model: Any, where: str | None = None) -> Any:
    """``model`` when it is a Pangolin model (``config.head == "pangolin"``), else a one-line error
    starting with ``where`` (default ``--pangolin <its folder>``)."""
    head = getattr(getattr(model, "config", None), "head", None)
    if head != "pangolin":
        where = where or f"--pangolin {getattr(model, 'name_or_path', '') or 'model'}"
        raise NucleoforgeError(f"{where}: not a Pangolin model folder (its config has head {head!r}, expected "
                               "'pangolin'; convert Pangolin's final.*.v2 files with `nucleoforge convert pangolin SRC OUT`)")
    return model


def tissue_tracks(y_ref: np.ndarray, y_alt: np.ndarray, member_tissues: Sequence[int]) -> tuple[np.ndarray, ...]:
    """``(SG_REF, SG_ALT, SL_REF, SL_ALT)`` per position from the per-model tracks ``(L, models)``
    (ALT aligned): the tissue means of REF and ALT in the tissue whose change (the mean over its
    models of ``ALT - REF``, as the gain and loss take it) is the largest (gain) and the smallest
    (loss) at that position, the first tissue on ties."""
    tissues = sorted(set(member_tissues))
    members = [[m for m, t in enumerate(member_tissues) if t == tissue] for tissue in tissues]
    change = np.array([np.mean([y_alt[:, m] - y_ref[:, m] for m in ms], axis=0) for ms in members])
    ref = np.array([y_ref[:, ms].mean(axis=1) for ms in members])
    alt = np.array([y_alt[:, ms].mean(axis=1) for ms in members])
    cols = np.arange(change.shape[1])
    gain_t, loss_t = np.argmax(change, axis=0), np.argmin(change, axis=0)
    return ref[gain_t, cols], alt[gain_t, cols], ref[loss_t, cols], alt[loss_t, cols]


def _genes(scorer: Any, chrom: str, pos: int) -> list[Any]:
    """The genes of the entries of ``chrom:pos``, in entry order (the scorer's Pangolin gene view)."""
    family, genes = scorer.family, scorer.genes
    groups = family.gene_groups(genes, genes.overlapping(chrom, pos), pos)
    return [genes[gi] for group in groups for gi in group]


def _row(gene: Any, record: Any, track: Any, member_tissues: Sequence[int], distance: int) -> dict[str, Any]:
    text = str(record)
    row: dict[str, Any] = {"g_name": gene.symbol or gene.name, "g_id": gene.name, "t_id": gene.transcript_id or "",
                           "t_strand": gene.strand, "TX_START": gene.tx_start + 1, "TX_END": gene.tx_end,
                           "EXON_STARTS": [s + 1 for s in gene.exon_starts], "EXON_ENDS": list(gene.exon_ends),
                           "ENTRY": text, "WARNINGS": text.rpartition("Warnings:")[2]}  # fmt: skip
    scores = record.scores  # (gain position, gain, loss position, loss), None for another entry form
    if scores is None:
        row.update({"DS_SG": None, "DS_SL": None, "DP_SG": None, "DP_SL": None})
        return row
    dp_sg, gain, dp_sl, loss = scores
    row.update({"DS_SG": f"{gain:.2f}", "DS_SL": f"{loss:.2f}", "DP_SG": dp_sg, "DP_SL": dp_sl})
    if track is not None:
        arrays = tissue_tracks(*track, member_tissues)
        for key, values, at in zip(TRACK_KEYS, arrays, (dp_sg, dp_sg, dp_sl, dp_sl)):
            row[key] = f"{float(values[at + distance]):.2f}"
        row["tracks"] = {key: [round(float(v), 4) for v in values] for key, values in zip(TRACK_KEYS, arrays)}
    return row


def pangolin_result(scorer: Any, job: Any, records: list[Any], tracks: list | None, source: str) -> dict:
    """The SpliceAI-lookup-shaped Pangolin answer of ``job`` (a :class:`~.worker.Job`) from its
    entries (:class:`~nucleoforge.splicing.rules_pangolin.PangolinEntry`, one per gene) and, when
    the model ran, their ``(ref, alt)`` per-model tracks; ``scorer``: the Pangolin scorer of the
    job's setting (its gene view names the genes)."""
    distance, member_tissues = job.distance, scorer.family.member_tissues
    genes = _genes(scorer, job.chrom, job.pos)
    if len(genes) != len(records):
        raise RuntimeError(f"{len(records)} Pangolin entries for {len(genes)} genes at {job.chrom}:{job.pos}")
    scores = [_row(g, r, tracks[k] if tracks is not None else None, member_tissues, distance)
              for k, (g, r) in enumerate(zip(genes, records))]
    first = next((r for r in scores if "tracks" in r), None)
    non_zero = None
    if first is not None:
        t = first["tracks"]
        keep = {distance, first["DP_SG"] + distance, first["DP_SL"] + distance}
        non_zero = [{"pos": job.pos - distance + i, **{k: f"{t[k][i]:.2f}" for k in TRACK_KEYS}}
                    for i in range(len(t["SG_REF"])) if i in keep or max(t[k][i] for k in TRACK_KEYS) >= MIN_SHOWN]
    return {"variant": f"{job.chrom}-{job.pos}-{job.ref}-{job.alt}", "genomeVersion": job.genome, "chrom": job.chrom,
            "pos": job.pos, "ref": job.ref, "alt": job.alt, "distance": distance, "mask": int(bool(job.mask)),
            "scores": scores, "source": source, "allNonZeroScores": non_zero,
            "allNonZeroScoresTranscriptId": (first["t_id"] or first["g_id"]) if first else None,
            "allNonZeroScoresStrand": first["t_strand"] if first else None}  # fmt: skip
