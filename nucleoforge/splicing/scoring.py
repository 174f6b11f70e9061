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
  masking rule (``mask=True``) and the INFO entry.

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

from nucleoforge.alphabet import one_hot, reverse_complement_one_hot
from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome
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
    """One ALT x gene whose delta scores need the model."""

    record: int  # index within the chunk
    slot: int  # position in that record's entry list
    alt: str
    gene: int
    ref_len: int
    alt_window: str  # the ALT model input, forward strand
    dist_boundary: int


class VariantScorer(ScoreSources):
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
    ) -> None:
        if not 0 <= distance < 5000:
            raise NucleoforgeError(f"distance must be in [0, 5000), got {distance}")
        self.family: ScoringFamily = family_for(model, device=device, calibrated=calibrated, predict=predict)
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

    # -- model ---------------------------------------------------------------------------------
    def _run(self, windows: list[str], strand: str) -> list[np.ndarray]:
        """Predict ``(len - context, C)`` tracks for equal-length forward-strand windows."""
        out: list[np.ndarray] = []
        for i in range(0, len(windows), self.batch_size):
            batch = self._encode(windows[i : i + self.batch_size], strand)
            y = self.family.predict(batch)
            if strand == "-":
                y = y[:, ::-1]
            out.extend(np.ascontiguousarray(y[j]) for j in range(y.shape[0]))
            self._advance(batch.shape[0] * batch.shape[1])
        return out

    def _encode(self, windows: list[str], strand: str) -> np.ndarray:
        """One-hot ``(B, L, 4)`` model input of forward-strand windows (reverse-complemented on ``-``),
        counted in :attr:`model_positions`."""
        batch = np.stack([one_hot(w) for w in windows])
        if strand == "-":
            batch = reverse_complement_one_hot(batch)
        self.model_positions += batch.shape[0] * batch.shape[1]
        return batch

    def _advance(self, positions: int) -> None:
        """``positions`` model input positions of the current chunk are done: tell :attr:`progress`."""
        self._done += positions
        if self.progress is not None and self._planned:
            self.progress(min(1.0, self._done / self._planned))

    def _span_fitting(self, memory: int) -> int:
        """Most reference outputs one window may hold with its activations within ``memory`` bytes."""
        activation_bytes = self.family.incremental.activation_bytes  # type: ignore[union-attr]
        one = activation_bytes(self.wid)  # the window of a single variant
        if one > memory:
            raise NucleoforgeError(f"activation memory {memory / 2**20:.0f} MiB is less than one variant's window needs "
                                   f"({one / 2**20:.0f} MiB for this model at distance {self.distance}); raise it "
                                   "(--activation-memory) or use --full-alt-pass")  # fmt: skip
        per_position = activation_bytes(self.wid + 1) - one
        return self.cov + (memory - one) // per_position

    def _run_with_cones(self, windows: list[str], strand: str, cones: list[list[tuple[int, str]]]) -> tuple[list, list]:
        """Like :meth:`_run`, plus ALT tracks ``(cov, C)`` for substitutions in the windows.

        ``cones[i]``: ``(forward-strand window index, ALT base)`` per substitution in window ``i``.
        Returns the reference tracks and, per window, the ALT tracks in ``cones`` order.
        """
        inc = self.family.incremental
        assert inc is not None
        length = len(windows[0])
        per_call = max(1, min(self.batch_size, self.activation_memory // inc.activation_bytes(length)))
        ref_out: list[np.ndarray] = []
        alt_out: list[list[np.ndarray]] = []
        for i in range(0, len(windows), per_call):
            batch = self._encode(windows[i : i + per_call], strand)
            items = [(b, j, alt) for b, window_cones in enumerate(cones[i : i + per_call]) for j, alt in window_cones]
            alt_x = np.stack([one_hot(alt)[0] for _, _, alt in items]) if items else np.zeros((0, 4), np.float32)
            centers = np.array([j for _, j, _ in items], dtype=np.int64)
            if strand == "-":  # the window was reverse-complemented: so are the ALT bases and their places
                alt_x, centers = alt_x[:, ::-1], length - 1 - centers
            self.incremental_alts += len(items)
            y, alts = inc.run(batch, np.array([b for b, _, _ in items], dtype=np.int64), centers, alt_x,
                              distance=self.distance, batch_size=self.batch_size)
            if strand == "-":
                y, alts = y[:, ::-1], [a[::-1] for a in alts]
            ref_out.extend(np.ascontiguousarray(y[j]) for j in range(y.shape[0]))
            per_window: list[list[np.ndarray]] = [[] for _ in range(batch.shape[0])]
            for (b, _, _), a in zip(items, alts):
                per_window[b].append(np.ascontiguousarray(a))
            alt_out.extend(per_window)
            self._advance(batch.shape[0] * batch.shape[1])
        return ref_out, alt_out

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
                results[r] = [AlleleResult(k[3], list(found[k]), self._entries_reason(found[k])) for k in ks]
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
        for r in range(len(chunk)):
            records = results[r] or []
            out.append([AlleleResult(alt, [str(e) for e in records[a:b]], reason,
                                     None if track_of is None else [track_of.get((r, i)) for i in range(a, b)],
                                     None if track_of is None else list(records[a:b]))
                        for alt, a, b, reason in spans[r]])  # fmt: skip
        return out

    def _plan(self, r: int, v: VariantInput, tasks: list[_Task]) -> tuple[list[tuple[str, int, int, str | None]], list | None]:
        """Record ``r``'s ALT spans and entry slots: a skipped record is counted (and warned about);
        each ALT x gene that needs the model becomes a :class:`_Task` (its slot None until filled)."""
        alts = list(v.alts or [])
        check = self.check(v)
        failure = check.first()
        if failure is not None:
            self._skip(failure, v)
            return [(a, 0, 0, failure.reason) for a in alts] or [(".", 0, 0, SkipReason.NO_ALT)], None
        half, seq, ref = self.wid // 2, check.window, str(v.ref)
        spans: list[tuple[str, int, int, str | None]] = []
        entries: list[Any] = []
        for alt in alts:
            first_entry = len(entries)
            if unsupported_alt(alt):
                spans.append((alt or ".", first_entry, first_entry, SkipReason.UNSUPPORTED_ALT))
                continue
            mnv = len(ref) > 1 and len(alt) > 1
            for gi in check.gene_ids:
                gene = self.genes[gi]
                if mnv:
                    entries.append(self.family.unscored_entry(alt, self.label(gi)))
                    continue
                bounds = [s + 1 for s in gene.exon_starts] + list(gene.exon_ends)
                # Nearest boundary; on a tie the upstream one (the original takes the smaller).
                dist_b = min(sorted(set(b - v.pos for b in bounds)), key=abs)
                masked = self._mask_window(seq, gene.tx_start + 1 - v.pos, gene.tx_end - v.pos)
                alt_window = masked[:half] + alt.upper() + masked[half + len(ref) :]
                tasks.append(_Task(r, len(entries), alt, gi, len(ref), alt_window, dist_b))
                entries.append(None)
            spans.append((alt, first_entry, len(entries), SkipReason.MNV if mnv else None))
        return spans, entries

    def _segments(self, chunk: Sequence[VariantInput], tasks: list[_Task]
                  ) -> tuple[list[tuple[int, int, int]], dict[int, set[int]], dict[int, str]]:
        """The reference windows of ``tasks``: ``(gene, first, last)`` output positions (1-based,
        inclusive) per window, one window shared by nearby variants of a gene (merged when the gap
        is shorter than the context, which is cheaper than a second window, and capped in length);
        and per gene its variant positions and chromosome."""
        d = self.distance
        by_gene: dict[int, set[int]] = {}
        chrom_of: dict[int, str] = {}
        for t in tasks:
            v = chunk[t.record]
            by_gene.setdefault(t.gene, set()).add(v.pos)
            chrom_of[t.gene] = self.genome.resolve(v.chrom)
        segments: list[tuple[int, int, int]] = []  # (gene, first, last)
        for gi, positions in by_gene.items():
            cur: list[int] | None = None
            for p in sorted(positions):
                lo, hi = p - d, p + d
                if cur and lo - cur[1] <= self.context and hi - cur[0] < self.max_ref_span:
                    cur[1] = max(cur[1], hi)
                else:
                    if cur:
                        segments.append((gi, cur[0], cur[1]))
                    cur = [lo, hi]
            if cur:
                segments.append((gi, cur[0], cur[1]))
        return segments, by_gene, chrom_of

    def _reference_tracks(self, chunk: Sequence[VariantInput], planned: tuple[list[tuple[int, int, int]], dict[int, set[int]],
                          dict[int, str]], cones: Sequence[_Task] = ()) -> tuple[dict[tuple[int, int], np.ndarray], dict[int, np.ndarray]]:
        """Reference predictions per (gene, POS) over the windows ``planned`` by :meth:`_segments`,
        sharing one model call across nearby variants; and the ALT tracks of the substitutions
        ``cones`` (by ``id`` of the task), computed from the activations of those same reference calls."""
        d, flank = self.distance, self.flank
        segments, by_gene, chrom_of = planned
        # Batch segments of equal length and strand.
        groups: OrderedDict[tuple[int, str], list[tuple[int, int, int]]] = OrderedDict()
        for seg in segments:
            groups.setdefault((seg[2] - seg[1] + 1, self.genes[seg[0]].strand), []).append(seg)
        cones_of: dict[int, list[_Task]] = {}
        for t in cones:
            cones_of.setdefault(t.gene, []).append(t)
        tracks: dict[tuple[int, int], np.ndarray] = {}
        alt_tracks: dict[int, np.ndarray] = {}
        for (_, strand), segs in groups.items():
            windows = [self._gene_window(chrom_of[g], g, first - 1 - flank, last + flank) for g, first, last in segs]
            # substitutions whose outputs lie in each segment (window index of POS, ALT base)
            inside = [[t for t in cones_of.get(g, ()) if first <= chunk[t.record].pos - d and chunk[t.record].pos + d <= last]
                      for g, first, last in segs]  # fmt: skip
            if any(inside):
                items = [[(chunk[t.record].pos - first + flank, t.alt) for t in ts] for ts, (_, first, _) in zip(inside, segs)]
                preds, alts = self._run_with_cones(windows, strand, items)
                for ts, ys in zip(inside, alts):
                    alt_tracks.update((id(t), y) for t, y in zip(ts, ys))
            else:
                preds = self._run(windows, strand)
            for (g, first, last), y in zip(segs, preds):
                for p in by_gene[g]:
                    if first <= p - d and p + d <= last:
                        tracks[(g, p)] = y[p - d - first : p + d - first + 1]
        return tracks, alt_tracks

    def _fill(self, chunk: Sequence[VariantInput], tasks: list[_Task], results: list,
              track_of: dict[tuple[int, int], Any] | None) -> None:
        """Put each task's record into ``results`` (and its tracks into ``track_of`` when given)."""
        # substitutions: from the reference activations; other ALTs: a full ALT pass
        cones = [t for t in tasks if t.ref_len == 1 and len(t.alt) == 1] if self.incremental else []
        # ALT windows: identical inputs predicted once; equal lengths and strands batched.
        unique: OrderedDict[tuple[str, str], list[_Task]] = OrderedDict()
        in_cone = {id(t) for t in cones}
        for t in tasks:
            if id(t) not in in_cone:
                unique.setdefault((self.genes[t.gene].strand, t.alt_window), []).append(t)
        planned = self._segments(chunk, tasks)
        # the model input this chunk needs, for progress reports: reference windows, then ALT windows
        self._planned += sum(last - first + 1 + self.context for _, first, last in planned[0])
        self._planned += sum(len(window) for _, window in unique)
        ref_tracks, cone_tracks = self._reference_tracks(chunk, planned, cones)

        def put(t: _Task, y_ref: np.ndarray, y_alt: np.ndarray) -> None:
            results[t.record][t.slot] = self.family.entry(t.alt, self.label(t.gene), y_ref, y_alt, t.dist_boundary, self.mask)
            if track_of is not None:
                track_of[(t.record, t.slot)] = (y_ref, y_alt)

        for t in cones:
            put(t, ref_tracks[(t.gene, chunk[t.record].pos)], cone_tracks[id(t)])
        by_shape: OrderedDict[tuple[int, str], list[str]] = OrderedDict()
        for strand, window in unique:
            by_shape.setdefault((len(window), strand), []).append(window)
        alt_pred: dict[tuple[str, str], np.ndarray] = {}
        for (_, strand), windows in by_shape.items():
            for w, y in zip(windows, self._run(windows, strand)):
                alt_pred[(strand, w)] = y
        for key, group in unique.items():
            for t in group:
                put(t, *self.family.align(ref_tracks[(t.gene, chunk[t.record].pos)], alt_pred[key], t.ref_len, len(t.alt)))
