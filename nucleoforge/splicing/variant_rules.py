"""The record rules of variant scoring, shared by every splice-model family, by ``nucleoforge
variants``, ``nucleoforge serve`` and ``nucleoforge variant-effect``.

:func:`check_variant` returns *every* rule a variant fails, as structured :class:`Failure`
values; each caller picks the first in its own order and words it itself:

* the scorer (:class:`~nucleoforge.splicing.scoring.VariantScorer`) follows Illumina's
  ``spliceai`` (:data:`SCORER_ORDER`: no gene, chromosome, window, REF, REF length), which is
  what its per-reason counts and the ``variants`` summary line report;
* the server (:mod:`nucleoforge.serve.service`) tells a user the most basic problem first
  (:data:`REQUEST_ORDER`: chromosome, REF, gene, window, REF length).

ALT alleles are checked one by one (:func:`unsupported_alt`).

>>> unsupported_alt("<DEL>"), unsupported_alt("AG")
(True, False)
>>> first_failure([Failure(SkipReason.REF_MISMATCH), Failure(SkipReason.NO_GENE)], SCORER_ORDER).reason
'no gene'
>>> first_failure([Failure(SkipReason.REF_MISMATCH), Failure(SkipReason.NO_GENE)], REQUEST_ORDER).reason
'REF does not match the reference'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["SkipReason", "reason_text", "Failure", "VariantCheck", "check_variant", "first_failure", "unsupported_alt",
           "VariantInput", "AlleleResult", "SCORER_ORDER", "REQUEST_ORDER"]

_BAD_ALT_CHARS = set(".-*<>")


class SkipReason:
    """Why a record got no entry (keys of :attr:`VariantScorer.counts`), and why an ALT
    allele got no delta scores (:attr:`AlleleResult.reason`: the record's reason, or one of the
    allele-level reasons at the end)."""

    BAD_INPUT = "bad input"
    NO_GENE = "no gene"
    FASTA = "chromosome not in reference"
    REF_MISMATCH = "REF does not match the reference"
    CHROM_END = "near chromosome end"
    REF_TOO_LONG = "REF longer than 2 x distance"
    # with CHROM_END when REF itself reaches past the chromosome's end (the server names it first)
    PAST_END = "REF past the chromosome end"
    # allele level only
    NO_ALT = "no ALT allele"  # ALT is '.'
    UNSUPPORTED_ALT = "unsupported ALT"  # symbolic or spanning-deletion ALTs: '.', '-', '*', '<...>'
    MNV = "REF and ALT both longer than one base"  # the entry is ALT|GENE|.|.|.|.|.|.|.|.
    # Pangolin's allele rules (its original command scores ALT[0] only, and no complex indels)
    NOT_FIRST_ALT = "not the first ALT (Pangolin scores the first)"
    FORMAT = "variant format not supported (Pangolin)"


#: the order of Illumina's ``spliceai`` (and so of the ``variants`` counts)
SCORER_ORDER = (SkipReason.BAD_INPUT, SkipReason.NO_GENE, SkipReason.FASTA, SkipReason.CHROM_END,
                SkipReason.REF_MISMATCH, SkipReason.REF_TOO_LONG)
#: the order a user is told: chromosome, REF (past the end, then its bases), gene, window, REF length
REQUEST_ORDER = (SkipReason.BAD_INPUT, SkipReason.FASTA, SkipReason.PAST_END, SkipReason.REF_MISMATCH,
                 SkipReason.NO_GENE, SkipReason.CHROM_END, SkipReason.REF_TOO_LONG)


def reason_text(reason: str) -> str:
    """A skip reason as the summary line and the table's NOTE column spell it."""
    return "outside annotated genes" if reason == SkipReason.NO_GENE else reason


@dataclass(frozen=True)
class Failure:
    """One rule a variant fails: its :class:`SkipReason`, what the scorer's warning adds
    (``detail``) and, for a REF mismatch, the reference's bases at POS (``found``)."""

    reason: str
    detail: str = ""
    found: str = ""


@dataclass
class VariantCheck:
    """What :func:`check_variant` found: every failing rule, the genes at POS, the chromosome as
    the FASTA names it and its length (``""``/0 when it is missing), and the upper-case reference
    window around POS (``""`` unless the window was asked for and fits the chromosome)."""

    failures: list[Failure]
    gene_ids: list[int] = field(default_factory=list)
    chrom: str = ""
    length: int = 0
    window: str = ""

    def first(self, order: Sequence[str] = SCORER_ORDER) -> Failure | None:
        """The failure that comes first in ``order`` (None: the variant passes)."""
        return first_failure(self.failures, order)


def first_failure(failures: Sequence[Failure], order: Sequence[str]) -> Failure | None:
    """The failure of ``failures`` whose reason comes first in ``order`` (None when there is none)."""
    ranked = [f for f in failures if f.reason in order]
    return min(ranked, key=lambda f: order.index(f.reason)) if ranked else None


def unsupported_alt(alt: str | None) -> bool:
    """Whether an ALT allele cannot be scored (Illumina's rule): empty, symbolic or a spanning deletion."""
    return not alt or bool(_BAD_ALT_CHARS.intersection(alt))


def check_variant(genome: Any, chrom: str, pos: int | None, ref: str | None, *, genes: Any = None,
                  width: int | None = None, distance: int | None = None) -> VariantCheck:
    """Every rule the variant ``chrom:pos ref`` fails against ``genome`` (a
    :class:`~nucleoforge.io.genome.Genome`): the chromosome, REF past the chromosome end, REF's
    bases; with ``genes``, a gene at POS; with ``width``, the ``width``-nt window centred on POS
    inside the chromosome; with ``distance``, REF at most ``2 * distance`` nt.

    A missing chromosome ends the check (nothing else can be read); a ``None`` REF or POS is
    ``bad input``."""
    if ref is None or pos is None:
        return VariantCheck([Failure(SkipReason.BAD_INPUT)])
    failures: list[Failure] = []
    gene_ids = list(genes.overlapping(chrom, pos)) if genes is not None else []
    if genes is not None and not gene_ids:
        failures.append(Failure(SkipReason.NO_GENE))
    if chrom not in genome:
        return VariantCheck(failures + [Failure(SkipReason.FASTA)], gene_ids)
    name = genome.resolve(chrom)
    n = genome.lengths[name]
    window = ""
    if width is not None:
        half = width // 2
        start, end = pos - half - 1, pos + half
        if start < 0 or end > n:
            failures.append(Failure(SkipReason.CHROM_END, f"the {width}-nt window passes the end of {name} (length {n:,})"))
        else:
            window = genome.fetch(name, start, end).upper()
    if pos + len(ref) - 1 > n:
        failures.append(Failure(SkipReason.PAST_END))
    else:
        if window and half + len(ref) <= len(window):
            has = window[half : half + len(ref)]
        else:
            has = genome.fetch(name, pos - 1, pos - 1 + len(ref)).upper()
        if has != ref:
            failures.append(Failure(SkipReason.REF_MISMATCH, f"reference has {has}", has))
    if distance is not None and len(ref) > 2 * distance:
        failures.append(Failure(SkipReason.REF_TOO_LONG, f"{len(ref)} > {2 * distance}"))
    return VariantCheck(failures, gene_ids, name, n, window)


@dataclass
class VariantInput:
    """What the scorer needs from a VCF record (``alts`` None = no ALT)."""

    chrom: str
    pos: int
    ref: str | None
    alts: Sequence[str] | None
    label: str = ""  # for messages, e.g. "22:20000146 G>A"


@dataclass
class AlleleResult:
    """One ALT allele of a record: its INFO entries (one per gene, ALT-major like the INFO
    field; empty when it has none), why it has no delta scores (``None``: it has them) and, when
    asked for (:meth:`~nucleoforge.splicing.scoring.VariantScorer.score_with_tracks`), per entry
    the model's ``(ref, alt)`` tracks behind it (None for an entry that needed no model) and the
    family's delta-score record (``str(record)`` is the entry)."""

    alt: str
    entries: list[str]
    reason: str | None = None
    tracks: list[Any] | None = None
    records: list[Any] | None = None
