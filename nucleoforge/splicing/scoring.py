"""Variant scoring: delta scores compatible with Illumina's ``spliceai`` CLI, on a model-agnostic engine.

For every ALT allele x overlapping gene the entry is computed like ``spliceai`` 1.3.1 does:

* ``cov = 2 * distance + 1`` positions centred on POS are compared; the model sees
  ``context + cov`` reference bases around POS, with every base outside the gene's
  transcript (``TX_START < p <= TX_END``) replaced by N; the ALT input is that window with
  REF replaced by ALT. Minus-strand genes are scored on the reverse complement.
* the record rules (:mod:`.variant_rules`): records are left unscored (with a logged warning)
  when REF does not match the reference, the window passes a chromosome end, REF is longer than
  ``2 * distance``, or the chromosome is not in the FASTA. ALTs containing ``. - * < >`` are
  skipped silently.
* what the model family decides (:mod:`.variant_family`; SpliceAI's in :mod:`.rules_spliceai`):
  the prediction of a window, the indel alignment of the ALT track, the delta scores, the
  masking rule (``mask=True``) and the INFO entry. A family may group genes (Pangolin,
  :mod:`.rules_pangolin`: one plain-reference window per strand, its own gene view, allele
  rules and track span; the hooks are listed in :mod:`.variant_family`).

Unlike the original (two model calls per ALT x gene), the reference track is predicted once
per gene over runs of nearby variants. Single-base substitutions are then predicted from that
reference pass's activations, computing at every layer only the positions the substitution
changes (the family's :class:`~.variant_family.IncrementalModel`); other ALTs (indels) get a full
ALT pass, windows of equal length batched. The VCF driver is :mod:`.scoring_vcf`.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome
from nucleoforge.splicing.scoring_model import ModelRuns
from nucleoforge.splicing.scoring_sources import Key, ScoreSources
from nucleoforge.splicing.variant_family import ScoringFamily, family_for
from nucleoforge.splicing.variant_rules import (
    AlleleResult,
    Failure,
    SkipReason,
    VariantCheck,
    VariantInput,
    check_variant,
    reason_text,
    unsupported_alt,
)

logger = logging.getLogger("nucleoforge.spliceai")

__all__ = ["VariantScorer", "VariantInput", "AlleleResult", "SkipReason", "reason_text"]


@dataclass
class _Task:
    """One ALT x gene (or gene group) whose delta scores need the model."""

    record: int  # index within the chunk
    slot: int  # position in that record's entry list
    alt: str
    gene: int
    ref_len: int
    alt_window: str  # the ALT model input, forward strand
    dist_boundary: int
    key: Any = None  # its reference track: the gene (windows N-masked outside it) or (chrom, strand) of a group
    genes: tuple[int, ...] = ()  # the genes of its entries (slot, slot + 1, ...)
    span: tuple[int, int] = (0, 0)  # first and last track position, relative to POS


class VariantScorer(ModelRuns, ScoreSources):
    """Score variants with a splice model (a :class:`~.variant_family.ScoringFamily`).

    Args:
        model: the family, or a ``SpliceAIModel`` ensemble (``SpliceAIModel.from_pretrained("spliceai-10k")``),
            which :func:`~.variant_family.family_for` wraps (with ``device``, ``calibrated``, ``predict``).
        genome: reference FASTA (any ``chr`` spelling).
        genes: gene table giving strands, transcript bounds and exons.
        distance: maximum distance between the variant and a gained/lost site (``-D``).
        mask: mask annotated-site gains and unannotated-site losses (``-M 1``).
        batch_size: ALT windows per model call.
        max_ref_span: longest reference stretch predicted in one call (outputs).
        calibrated: apply the model's fitted per-class temperatures (``calibrate-splice``);
            recorded in the run manifest.
        cache: the SQLite score cache file (:class:`~nucleoforge.io.score_cache.ScoreCache`, opened
            here under :meth:`cache_setting`; ``cache_readonly``: for lookups only), or None.
        precomputed: :class:`~nucleoforge.io.precomputed.PrecomputedScores` files, asked in this order.
        incremental: predict single-base substitutions from the reference pass's activations
            (the family's cones) instead of a full ALT pass; the entries are the same. Only with
            the built-in prediction (no ``predict``).
        activation_memory: bytes of reference activations kept at a time for ``incremental``
            (whole reference windows; longer runs of nearby variants are split to fit).
        family_options: the family's own options (Pangolin: ``score_cutoff``, ``score_exons``,
            ``exon_tags``; see :func:`~.variant_family.family_for`).

    The scorer owns its cache and score files: :meth:`close` closes them.
    """

    def __init__(
        self,
        model: Any,
        genome: Genome,
        genes: GeneTable,
        *,
        distance: int = 50,
        mask: bool = False,
        batch_size: int = 16,
        max_ref_span: int = 20_000,
        device: str | None = None,
        predict: Callable[[np.ndarray], np.ndarray] | None = None,
        calibrated: bool = False,
        cache: str | os.PathLike | None = None,
        cache_readonly: bool = False,
        precomputed: Sequence[Any] = (),
        transcript_entries: bool = False,
        incremental: bool = True,
        activation_memory: int = 1 << 30,
        family_options: dict[str, Any] | None = None,
    ) -> None:
        if not 0 <= distance < 5000:
            raise NucleoforgeError(f"distance must be in [0, 5000), got {distance}")
        self.family: ScoringFamily = family_for(model, device=device, calibrated=calibrated, predict=predict,
                                                options=family_options)
        view = getattr(self.family, "gene_view", None)  # the family's reading of the annotation (Pangolin: gene bodies)
        genes = view(genes) if view is not None else genes
        self._grouped = hasattr(self.family, "group_entries")  # genes sharing one prediction per strand
        self.model, self.genome, self.genes = self.family.model, genome, genes
        self.distance, self.mask = distance, bool(mask)
        self.batch_size, self.max_ref_span = max(1, batch_size), max_ref_span
        self.context = int(self.family.context)
        self.flank = self.context // 2
        self.cov = 2 * distance + 1
        self.wid = self.context + self.cov
        self.calibrated = bool(calibrated)
        self.incremental = bool(incremental) and self.family.incremental is not None
        self.activation_memory = int(activation_memory)
        if self.incremental:
            self.max_ref_span = min(self.max_ref_span, self._span_fitting(self.activation_memory))
        self.incremental_alts = 0  # substitutions predicted from reference activations (not in model_positions)
        self.counts: dict[str, int] = {}
        self.model_positions = 0  # input positions run through the model (a cost measure)
        self.provenance: dict[str, int] = {}  # ALT alleles with entries, per source ("precomputed FILE", "cache", "model")
        # SYMBOL|TRANSCRIPT_ID in each entry (the SpliceAI_TX field) instead of the gene name
        self.transcript_entries = bool(transcript_entries)
        if self.transcript_entries:
            missing = next((g for g in genes if not g.transcript_id), None)
            if missing is not None:
                raise NucleoforgeError(f"--transcripts needs a GTF or GFF3 annotation with transcript IDs; {genes.source} has none "
                                       f"({missing.name})")
        self.log_skips = True  # False: count skipped records without a warning (a second pass over the same records)
        # False: records on a chromosome absent from the FASTA are only counted (score_vcf reports
        # them once at the end); True: one warning per such chromosome
        self.log_missing_chromosomes = True
        self._warned_chromosomes: set[str] = set()
        # called after each model call with the share (0..1] of the current chunk's model input done
        self.progress: Callable[[float], None] | None = None
        self._planned = self._done = 0
        self._open_sources(cache, cache_readonly, precomputed)

    # -- helpers ----------------------------------------------------------------------------------
    def label(self, gene_idx: int) -> str:
        """The gene field of an entry: ``SYMBOL``, or ``SYMBOL|TRANSCRIPT_ID`` for transcript entries."""
        g = self.genes[gene_idx]
        return f"{g.symbol or g.name}|{g.transcript_id}" if self.transcript_entries else g.name

    def _skip(self, failure: Failure, v: VariantInput) -> None:
        """Count the record left unscored for ``failure`` and warn about it (once per missing
        chromosome; never for a record outside every gene)."""
        reason, detail, log = failure.reason, failure.detail, failure.reason != SkipReason.NO_GENE
        if reason == SkipReason.FASTA:  # warned once per chromosome (or reported by score_vcf)
            log = self.log_missing_chromosomes and v.chrom not in self._warned_chromosomes
            self._warned_chromosomes.add(v.chrom)
            detail = f"chromosome {v.chrom!r}; its other records are skipped silently"
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if self.log_skips and log:
            label = v.label or f"{v.chrom}:{v.pos} {v.ref}>{','.join(v.alts or ['.'])}"
            logger.warning("skipping %s: %s%s", label, reason, f" ({detail})" if detail else "")

    def _gene_window(self, chrom: str, gene_idx: int, start: int, end: int) -> str:
        """Reference bases ``[start, end)`` (0-based) with everything outside the transcript as N."""
        g = self.genes[gene_idx]
        seq = self.genome.fetch(chrom, start, end).upper()
        lo, hi = max(g.tx_start - start, 0), max(end - g.tx_end, 0)
        if lo >= len(seq) or hi >= len(seq) or lo + hi >= len(seq):
            return "N" * len(seq)
        return "N" * lo + seq[lo : len(seq) - hi] + "N" * hi

    def _mask_window(self, seq: str, dist_tx_start: int, dist_tx_end: int) -> str:
        half, wid = self.wid // 2, self.wid
        pad0, pad1 = max(half + dist_tx_start, 0), max(half - dist_tx_end, 0)
        return "N" * pad0 + seq[pad0 : wid - pad1] + "N" * pad1

    # -- public API -------------------------------------------------------------------------------
    def score(self, variants: Iterable[VariantInput], chunk_size: int = 256) -> Iterator[list[str] | None]:
        """Yield, per input variant and in input order, its INFO entries (None = leave unscored).

        Variants are processed ``chunk_size`` at a time, so memory stays constant.
        """
        chunk: list[VariantInput] = []
        for v in variants:
            chunk.append(v)
            if len(chunk) >= chunk_size:
                yield from self.score_chunk(chunk)
                chunk = []
        if chunk:
            yield from self.score_chunk(chunk)

    def score_chunk(self, chunk: Sequence[VariantInput]) -> list[list[str] | None]:
        """Score a list of variants together (shared reference tracks, batched ALT windows): per
        variant its INFO entries, ALT-major (None = leave unscored). :meth:`score_alleles` says
        the same per ALT allele, with the reason of every ALT left without delta scores."""
        return [[e for a in alleles for e in a.entries] or None for alleles in self.score_alleles(chunk)]

    def check(self, v: VariantInput) -> VariantCheck:
        """Every record rule ``v`` fails (:func:`~.variant_rules.check_variant` at this scorer's
        window and distance), its genes and its reference window; nothing is counted or logged."""
        if v.alts is None:
            return VariantCheck([Failure(SkipReason.BAD_INPUT)])
        return check_variant(self.genome, v.chrom, v.pos, v.ref, genes=self.genes, width=self.wid, distance=self.distance)

    def score_alleles(self, chunk: Sequence[VariantInput]) -> list[list[AlleleResult]]:
        """Like :meth:`score_chunk`, per ALT allele: one :class:`AlleleResult` per ALT of each
        variant (one with ALT ``.`` for a variant without ALT), holding its entries and, when it
        has no delta scores, why (the record's :class:`SkipReason`, ``unsupported ALT`` for a
        symbolic or ``*`` allele, or ``REF and ALT both longer than one base``).

        With :attr:`precomputed` files and/or a :attr:`cache`, each ALT is looked up in them in
        that order (the first that has it wins); records whose every ALT is found take the found
        entries, the others are scored and their entries (per ALT) stored in the cache. Only
        scored records are stored (a record left unscored is cheap to find again), so with a
        cache alone the output is the same either way. :attr:`provenance` counts the ALTs with
        entries per source. :attr:`progress` hears after each model call how much of this
        chunk's model input is done.
        """
        self._planned = self._done = 0
        if self.cache is None and not self.precomputed:
            return self._score_alleles(chunk)
        self.check_sources()
        keys = [self._keys(v) for v in chunk]
        found, source = self._look_up(keys)
        results: list[list[AlleleResult]] = [[] for _ in chunk]
        todo = []
        for r, ks in enumerate(keys):
            if ks and all(k in found for k in ks):
                results[r] = [AlleleResult(k[3], list(found[k]), self._entries_reason(found[k], k, i)) for i, k in enumerate(ks)]
                for k in ks:
                    if found[k]:
                        self.provenance[source[k]] = self.provenance.get(source[k], 0) + 1
            else:
                todo.append(r)
        scored = self._score_alleles([chunk[r] for r in todo]) if todo else []
        self._store_scored([keys[r] for r in todo], scored)
        for r, alleles in zip(todo, scored):
            results[r] = alleles
        return results

    def score_with_tracks(self, chunk: Sequence[VariantInput]) -> list[list[AlleleResult]]:
        """Like :meth:`score_alleles`, always from the model (no look-ups: the tracks need it),
        with per entry the family's delta-score record (:attr:`AlleleResult.records`) and the
        per-position tracks behind it (:attr:`AlleleResult.tracks`): ``(ref, alt)`` arrays
        ``(2 * distance + 1, C)`` (for SpliceAI neither / acceptor / donor at ``POS - distance …
        POS + distance``, the ALT track after the indel rules), or None for an entry that needs no
        model. The entries are stored in the cache like those of :meth:`score_alleles`."""
        self._planned = self._done = 0
        scored = self._score_alleles(chunk, tracks=True)
        if self.cache is not None:
            self._store_scored([self._keys(v) for v in chunk], scored)
        return scored


    def _keys(self, v: VariantInput) -> list[Key] | None:
        """The look-up keys of ``v``'s ALTs; None for a record the rules skip (never looked up)."""
        ok = v.alts and len(set(v.alts)) == len(v.alts) and self.check(v).first() is None
        return [(self.genome.resolve(v.chrom), int(v.pos), v.ref, a) for a in v.alts] if ok else None  # type: ignore[misc]

    # -- the model run ----------------------------------------------------------------------------
    def _score_alleles(self, chunk: Sequence[VariantInput], tracks: bool = False) -> list[list[AlleleResult]]:
        """The record rules, then the model for every ALT x gene that needs it; with ``tracks``,
        each allele also gets its records and tracks."""
        results: list[list[Any] | None] = [None] * len(chunk)
        # per record, per ALT: (ALT, first entry, end of its entries, reason it has no delta scores)
        spans: list[list[tuple[str, int, int, str | None]]] = []
        tasks: list[_Task] = []
        for r, v in enumerate(chunk):
            span, results[r] = self._plan(r, v, tasks)
            spans.append(span)
        track_of: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = {} if tracks else None
        if tasks:
            self._fill(chunk, tasks, results, track_of)
        out = []
        select = getattr(self.family, "select_entries", None)  # the entries kept per ALT (CI-SpliceAI: one)
        for r in range(len(chunk)):
            records = results[r] or []
            kept = [list(range(a, b)) if select is None or b - a < 2 else [a + i for i in select(records[a:b])]
                    for _, a, b, _ in spans[r]]
            out.append([AlleleResult(alt, [str(records[i]) for i in keep], reason,
                                     None if track_of is None else [track_of.get((r, i)) for i in keep],
                                     None if track_of is None else [records[i] for i in keep])
                        for (alt, _, _, reason), keep in zip(spans[r], kept)])  # fmt: skip
        return out

    def _plan(self, r: int, v: VariantInput, tasks: list[_Task]) -> tuple[list[tuple[str, int, int, str | None]], list | None]:
        """Record ``r``'s ALT spans and entry slots: a skipped record is counted (and warned about);
        each ALT x gene (x gene group, for a grouping family) that needs the model becomes a
        :class:`_Task` (its slots None until filled)."""
        alts = list(v.alts or [])
        check = self.check(v)
        failure = check.first()
        groups = self._groups(check, v) if failure is None else []
        if failure is None and not groups:
            failure = Failure(SkipReason.NO_GENE)
        if failure is None and self._grouped:  # a track past POS + distance (a long REF) must fit the chromosome too
            end = v.pos + self.family.track_span(len(str(v.ref)), 1, self.distance)[1] + self.flank  # type: ignore[attr-defined]
            if end > check.length:
                failure = Failure(SkipReason.CHROM_END, f"the window ends at {end:,}, past the end of {check.chrom} "
                                                        f"(length {check.length:,})")
        if failure is not None:
            self._skip(failure, v)
            return [(a, 0, 0, failure.reason) for a in alts] or [(".", 0, 0, SkipReason.NO_ALT)], None
        ref = str(v.ref)
        spans: list[tuple[str, int, int, str | None]] = []
        entries: list[Any] = []
        for index, alt in enumerate(alts):
            first_entry = len(entries)
            reason = SkipReason.UNSUPPORTED_ALT if unsupported_alt(alt) else self._allele_rule(ref, alt, index)
            if reason is not None and reason != SkipReason.MNV:
                spans.append((alt or ".", first_entry, first_entry, reason))
                continue
            for key, group in groups:
                if reason == SkipReason.MNV:
                    entries.extend(self.family.unscored_entry(alt, self.label(gi)) for gi in group)
                    continue
                tasks.append(self._task(r, v, check, alt, key, group, len(entries)))
                entries.extend([None] * len(group))
            spans.append((alt, first_entry, len(entries), reason))
        return spans, entries

    def _groups(self, check: VariantCheck, v: VariantInput) -> list[tuple[Any, tuple[int, ...]]]:
        """The genes of ``v`` as ``(track key, gene ids)``: each gene alone with its own N-masked
        windows, or the family's groups (:meth:`gene_groups`) sharing the plain reference of a strand."""
        if not self._grouped:
            return [(gi, (gi,)) for gi in check.gene_ids]
        groups = self.family.gene_groups(self.genes, check.gene_ids, v.pos)  # type: ignore[attr-defined]
        if getattr(self.family, "gene_windows", False):  # one gene per group, N outside it (CI-SpliceAI)
            return [(g[0], tuple(g)) for g in groups if g]
        return [((check.chrom, self.genes[g[0]].strand), tuple(g)) for g in groups if g]

    def _allele_rule(self, ref: str, alt: str, index: int) -> str | None:
        """Why ALT number ``index`` gets no delta scores (``MNV``: an unscored entry per gene), or None."""
        rule = getattr(self.family, "allele_rule", None)
        if rule is not None:
            return rule(ref, alt, index)
        return SkipReason.MNV if len(ref) > 1 and len(alt) > 1 else None

    def _task(self, r: int, v: VariantInput, check: VariantCheck, alt: str, key: Any, group: tuple[int, ...], slot: int) -> _Task:
        """The model work of one ALT x gene (group): its ALT window and reference span."""
        ref, d = str(v.ref), self.distance
        if not self._grouped:
            gi, half = group[0], self.wid // 2
            gene = self.genes[gi]
            bounds = [s + 1 for s in gene.exon_starts] + list(gene.exon_ends)
            # Nearest boundary; on a tie the upstream one (the original takes the smaller).
            dist_b = min(sorted(set(b - v.pos for b in bounds)), key=abs)
            masked = self._mask_window(check.window, gene.tx_start + 1 - v.pos, gene.tx_end - v.pos)
            alt_window = masked[:half] + alt.upper() + masked[half + len(ref) :]
            return _Task(r, slot, alt, gi, len(ref), alt_window, dist_b, key, group, (-d, d))
        lo, hi = self.family.track_span(len(ref), len(alt), d)  # type: ignore[attr-defined]
        start, end = v.pos + lo - 1 - self.flank, v.pos + hi + self.flank
        window = check.window if isinstance(key, tuple) and (start, end) == (v.pos - 1 - self.wid // 2, v.pos + self.wid // 2) \
            else self._window(check.chrom, key, start, end)
        at = v.pos - 1 - start
        return _Task(r, slot, alt, group[0], len(ref), window[:at] + alt.upper() + window[at + len(ref) :], 0, key, group, (lo, hi))

    def _key_strand(self, key: Any) -> str:
        return key[1] if isinstance(key, tuple) else self.genes[key].strand

    def _window(self, chrom: str, key: Any, start: int, end: int) -> str:
        """Reference bases ``[start, end)`` of a track key: N outside the gene, or plain (a strand's key)."""
        return self.genome.fetch(chrom, start, end).upper() if isinstance(key, tuple) else self._gene_window(chrom, key, start, end)

    def _segments(self, chunk: Sequence[VariantInput], tasks: list[_Task]
                  ) -> tuple[list[tuple[Any, int, int]], dict[Any, set[tuple[int, int]]], dict[Any, str]]:
        """The reference windows of ``tasks``: ``(key, first, last)`` output positions (1-based,
        inclusive) per window, one window shared by nearby variants of a track key (merged when the
        gap is shorter than the context, which is cheaper than a second window, and capped in
        length); and per key the spans its variants need and its chromosome."""
        by_key: dict[Any, set[tuple[int, int]]] = {}
        chrom_of: dict[Any, str] = {}
        for t in tasks:
            v = chunk[t.record]
            by_key.setdefault(t.key, set()).add((v.pos + t.span[0], v.pos + t.span[1]))
            chrom_of[t.key] = self.genome.resolve(v.chrom)
        segments: list[tuple[Any, int, int]] = []  # (key, first, last)
        for key, spans in by_key.items():
            cur: list[int] | None = None
            for lo, hi in sorted(spans):
                if cur and lo - cur[1] <= self.context and hi - cur[0] < self.max_ref_span:
                    cur[1] = max(cur[1], hi)
                else:
                    if cur:
                        segments.append((key, cur[0], cur[1]))
                    cur = [lo, hi]
            if cur:
                segments.append((key, cur[0], cur[1]))
        return segments, by_key, chrom_of

    def _reference_tracks(self, chunk: Sequence[VariantInput], planned: tuple[list[tuple[Any, int, int]], dict[Any, set[tuple[int, int]]],
                          dict[Any, str]], cones: Sequence[_Task] = ()) -> tuple[dict[tuple[Any, int, int], np.ndarray], dict[int, np.ndarray]]:
        """Reference predictions per (key, first, last) span over the windows ``planned`` by
        :meth:`_segments`, sharing one model call across nearby variants; and the ALT tracks of the
        substitutions ``cones`` (by ``id`` of the task), computed from the activations of those
        same reference calls."""
        d, flank = self.distance, self.flank
        segments, by_key, chrom_of = planned
        # Batch segments of equal length and strand.
        groups: OrderedDict[tuple[int, str], list[tuple[Any, int, int]]] = OrderedDict()
        for seg in segments:
            groups.setdefault((seg[2] - seg[1] + 1, self._key_strand(seg[0])), []).append(seg)
        cones_of: dict[Any, list[_Task]] = {}
        for t in cones:
            cones_of.setdefault(t.key, []).append(t)
        tracks: dict[tuple[Any, int, int], np.ndarray] = {}
        alt_tracks: dict[int, np.ndarray] = {}
        for (_, strand), segs in groups.items():
            windows = [self._window(chrom_of[k], k, first - 1 - flank, last + flank) for k, first, last in segs]
            # substitutions whose outputs lie in each segment (window index of POS, ALT base)
            inside = [[t for t in cones_of.get(k, ()) if first <= chunk[t.record].pos - d and chunk[t.record].pos + d <= last]
                      for k, first, last in segs]  # fmt: skip
            if any(inside):
                items = [[(chunk[t.record].pos - first + flank, t.alt) for t in ts] for ts, (_, first, _) in zip(inside, segs)]
                preds, alts = self._run_with_cones(windows, strand, items)
                for ts, ys in zip(inside, alts):
                    alt_tracks.update((id(t), y) for t, y in zip(ts, ys))
            else:
                preds = self._run(windows, strand)
            for (k, first, last), y in zip(segs, preds):
                for lo, hi in by_key[k]:
                    if first <= lo and hi <= last:
                        tracks[(k, lo, hi)] = y[lo - first : hi - first + 1]
        return tracks, alt_tracks

    def _fill(self, chunk: Sequence[VariantInput], tasks: list[_Task], results: list,
              track_of: dict[tuple[int, int], Any] | None) -> None:
        """Put each task's records into ``results`` (and their tracks into ``track_of`` when given)."""
        # substitutions: from the reference activations; other ALTs: a full ALT pass
        cones = [t for t in tasks if t.ref_len == 1 and len(t.alt) == 1] if self.incremental else []
        # ALT windows: identical inputs predicted once; equal lengths and strands batched.
        unique: OrderedDict[tuple[str, str], list[_Task]] = OrderedDict()
        in_cone = {id(t) for t in cones}
        for t in tasks:
            if id(t) not in in_cone:
                unique.setdefault((self._key_strand(t.key), t.alt_window), []).append(t)
        planned = self._segments(chunk, tasks)
        # the model input this chunk needs, for progress reports: reference windows, then ALT windows
        self._planned += sum(last - first + 1 + self.context for _, first, last in planned[0])
        self._planned += sum(len(window) for _, window in unique)
        ref_tracks, cone_tracks = self._reference_tracks(chunk, planned, cones)

        def y_ref(t: _Task) -> np.ndarray:
            pos = chunk[t.record].pos
            return ref_tracks[(t.key, pos + t.span[0], pos + t.span[1])]

        def put(t: _Task, ys: tuple[np.ndarray, np.ndarray]) -> None:
            if self._grouped:
                genes = [(self.label(g), self.genes[g]) for g in t.genes]
                records = self.family.group_entries(t.alt, chunk[t.record].pos, self.distance, genes, *ys,  # type: ignore[attr-defined]
                                                    self.mask)
            else:
                records = [self.family.entry(t.alt, self.label(t.gene), *ys, t.dist_boundary, self.mask)]
            for i, record in enumerate(records):
                results[t.record][t.slot + i] = record
                if track_of is not None:
                    track_of[(t.record, t.slot + i)] = ys

        for t in cones:
            put(t, (y_ref(t), cone_tracks[id(t)]))
        by_shape: OrderedDict[tuple[int, str], list[str]] = OrderedDict()
        for strand, window in unique:
            by_shape.setdefault((len(window), strand), []).append(window)
        alt_pred: dict[tuple[str, str], np.ndarray] = {}
        for (_, strand), windows in by_shape.items():
            for w, y in zip(windows, self._run(windows, strand)):
                alt_pred[(strand, w)] = y
        for key, group in unique.items():
            for t in group:
                put(t, self.family.align(y_ref(t), alt_pred[key], t.ref_len, len(t.alt)))
