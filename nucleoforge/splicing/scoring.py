"""SpliceAI variant scoring: delta scores compatible with Illumina's ``spliceai`` CLI.

For every ALT allele x overlapping gene the score string is
``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL``, computed with the same
rules as ``spliceai`` 1.3.1 (read from its source, re-implemented here):

* ``cov = 2 * distance + 1`` positions centred on POS are compared; the model sees
  ``context + cov`` reference bases around POS, with every base outside the gene's
  transcript (``TX_START < p <= TX_END``) replaced by N; the ALT input is that window with
  REF replaced by ALT. Minus-strand genes are scored on the reverse complement.
* deletions: zeros are inserted into the ALT track after the ALT allele; insertions: the
  inserted positions are collapsed into one by their maximum.
* ``DS_AG = max(alt - ref)`` (acceptor), ``DS_AL = max(ref - alt)``, likewise for donors;
  ``DP = argmax - distance``; scores printed with two decimals.
* ``mask=True``: gains at the annotated exon boundary nearest to POS and losses anywhere
  else are set to 0.
* records are left unscored (with a logged warning) when no ALT can be scored because REF
  does not match the reference, the window passes a chromosome end, REF is longer than
  ``2 * distance``, or the chromosome is not in the FASTA. ALTs containing ``. - * < >``
  are skipped silently; when REF and ALT are both longer than one base the entry is
  ``ALT|GENE|.|.|.|.|.|.|.|.``.

Unlike the original (two model calls per ALT x gene), the reference track is predicted once
per gene over runs of nearby variants. Single-base substitutions are then predicted from that
reference pass's activations, computing at every layer only the positions the substitution
changes (:mod:`nucleoforge.models.spliceai.incremental`); other ALTs (indels) get a full ALT
pass, windows of equal length batched.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from nucleoforge.alphabet import one_hot, reverse_complement_one_hot
from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome

logger = logging.getLogger("nucleoforge.spliceai")

__all__ = ["VariantScorer", "VariantInput", "AlleleResult", "SkipReason", "cache_setting", "format_scores", "score_vcf",
           "variants_manifest", "VcfRunSummary", "reason_text", "allele_summary", "check_chromosomes_matched"]

_BAD_ALT_CHARS = set(".-*<>")


class SkipReason:
    """Why a record got no SpliceAI entry (keys of :attr:`VariantScorer.counts`), and why an ALT
    allele got no delta scores (:attr:`AlleleResult.reason`: the record's reason, or one of the
    three allele-level reasons at the end)."""

    BAD_INPUT = "bad input"
    NO_GENE = "no gene"
    FASTA = "chromosome not in reference"
    REF_MISMATCH = "REF does not match the reference"
    CHROM_END = "near chromosome end"
    REF_TOO_LONG = "REF longer than 2 x distance"
    # allele level only
    NO_ALT = "no ALT allele"  # ALT is '.'
    UNSUPPORTED_ALT = "unsupported ALT"  # symbolic or spanning-deletion ALTs: '.', '-', '*', '<...>'
    MNV = "REF and ALT both longer than one base"  # the entry is ALT|GENE|.|.|.|.|.|.|.|.


def reason_text(reason: str) -> str:
    """A skip reason as the summary line and the table's NOTE column spell it."""
    return "outside annotated genes" if reason == SkipReason.NO_GENE else reason


@dataclass
class AlleleResult:
    """One ALT allele of a record: its INFO entries (one per gene, ALT-major like the ``SpliceAI``
    field; empty when it has none) and why it has no delta scores (``None``: it has them)."""

    alt: str
    entries: list[str]
    reason: str | None = None


@dataclass
class VariantInput:
    """What the scorer needs from a VCF record (``alts`` None = no ALT)."""

    chrom: str
    pos: int
    ref: str | None
    alts: Sequence[str] | None
    label: str = ""  # for messages, e.g. "22:20000146 G>A"


@dataclass
class _Task:
    """One ALT x gene whose delta scores need the model."""

    record: int  # index within the chunk
    slot: int  # position in that record's score list
    alt: str
    gene: int
    ref_len: int
    alt_window: str  # the ALT model input, forward strand
    dist_boundary: int


def _entries_reason(entries: Sequence[str]) -> str | None:
    """Why an ALT with these entries (from a score file or the cache) has no delta scores: none
    (an unsupported ALT), dots (REF and ALT both longer than one base); ``None`` when it has them."""
    if not entries:
        return SkipReason.UNSUPPORTED_ALT
    return SkipReason.MNV if entries[0].split("|")[-8] == "." else None


def format_scores(alt: str, gene: str, ds: Sequence[float], dp: Sequence[int]) -> str:
    """The INFO entry, ``{:.2f}`` like the original (so ``-0.00`` can appear)."""
    return f"{alt}|{gene}|" + "|".join(f"{float(v):.2f}" for v in ds) + "|" + "|".join(str(int(p)) for p in dp)


class VariantScorer:
    """Score variants with a :class:`~nucleoforge.models.spliceai.SpliceAIModel`.

    Args:
        model: the ensemble (``SpliceAIModel.from_pretrained("spliceai-10k")``) in eval mode.
        genome: reference FASTA (any ``chr`` spelling).
        genes: gene table giving strands, transcript bounds and exons.
        distance: maximum distance between the variant and a gained/lost site (``-D``).
        mask: mask annotated-site gains and unannotated-site losses (``-M 1``).
        batch_size: ALT windows per model call.
        max_ref_span: longest reference stretch predicted in one call (outputs).
        calibrated: apply the model's fitted per-class temperatures (``calibrate-splice``);
            recorded in the run manifest.
        incremental: predict single-base substitutions from the reference pass's activations
            (:mod:`nucleoforge.models.spliceai.incremental`) instead of a full ALT pass; the
            entries are the same. Only with the built-in prediction (no ``predict``).
        activation_memory: bytes of reference activations kept at a time for ``incremental``
            (whole reference windows; longer runs of nearby variants are split to fit).
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
        cache: Any = None,
        precomputed: Sequence[Any] = (),
        transcript_entries: bool = False,
        incremental: bool = True,
        activation_memory: int = 1 << 30,
    ) -> None:
        if not 0 <= distance < 5000:
            raise NucleoforgeError(f"distance must be in [0, 5000), got {distance}")
        self.model, self.genome, self.genes = model, genome, genes
        self.distance, self.mask = distance, bool(mask)
        self.batch_size, self.max_ref_span = max(1, batch_size), max_ref_span
        self.context = int(model.config.context)
        self.flank = self.context // 2
        self.cov = 2 * distance + 1
        self.wid = self.context + self.cov
        self.calibrated = bool(calibrated)
        if self.calibrated and getattr(model.config, "calibration_temperatures", None) is None:
            raise NucleoforgeError("calibrated=True: the model has no calibration_temperatures (fit them with calibrate-splice)")
        self._predict = predict or self._default_predict(device)
        self.incremental = bool(incremental) and predict is None and hasattr(model, "_fused_network")
        self.activation_memory = int(activation_memory)
        if self.incremental:
            self.max_ref_span = min(self.max_ref_span, self._span_fitting(self.activation_memory))
        self.incremental_alts = 0  # substitutions predicted from reference activations (not in model_positions)
        self.counts: dict[str, int] = {}
        self.model_positions = 0  # input positions run through the model (a cost measure)
        self.cache = cache  # a nucleoforge.io.score_cache.ScoreCache opened with cache_setting(self), or None
        self.precomputed = list(precomputed)  # nucleoforge.io.precomputed.PrecomputedScores, asked in this order
        self.provenance: dict[str, int] = {}  # ALT alleles with entries, per source ("precomputed FILE", "cache", "model")
        self._checked_sources: set[int] = set()  # ids of the precomputed files whose build was checked
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
        self._tracks: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None  # see score_with_tracks

    # -- model ---------------------------------------------------------------------------------
    def _default_predict(self, device: str | None) -> Callable[[np.ndarray], np.ndarray]:
        from nucleoforge.pipelines.splice_predict import predict_flanked

        if device:
            self.model.to(device)
        self.model.eval()
        return lambda x: predict_flanked(self.model, x, calibrated=self.calibrated)

    def _run(self, windows: list[str], strand: str) -> list[np.ndarray]:
        """Predict ``(len - context, 3)`` tracks for equal-length forward-strand windows."""
        out: list[np.ndarray] = []
        for i in range(0, len(windows), self.batch_size):
            batch = self._encode(windows[i : i + self.batch_size], strand)
            y = self._predict(batch)
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
        from nucleoforge.models.spliceai.incremental import activation_bytes

        config = self.model.config
        one = activation_bytes(config, self.wid)  # the window of a single variant
        if one > memory:
            raise NucleoforgeError(f"activation memory {memory / 2**20:.0f} MiB is less than one variant's window needs "
                             f"({one / 2**20:.0f} MiB for this model at distance {self.distance}); raise it (--activation-memory) or use "
                             "--full-alt-pass")  # fmt: skip
        per_position = activation_bytes(config, self.wid + 1) - one
        return self.cov + (memory - one) // per_position

    def _run_with_cones(self, windows: list[str], strand: str, cones: list[list[tuple[int, str]]]) -> tuple[list, list]:
        """Like :meth:`_run`, plus ALT tracks ``(cov, 3)`` for substitutions in the windows.

        ``cones[i]``: ``(forward-strand window index, ALT base)`` per substitution in window ``i``.
        Returns the reference tracks and, per window, the ALT tracks in ``cones`` order.
        """
        import torch

        from nucleoforge.models.spliceai.incremental import activation_bytes, reference_pass, substitution_probabilities

        param = next(self.model.parameters())
        length, d = len(windows[0]), self.distance
        per_call = max(1, min(self.batch_size, self.activation_memory // activation_bytes(self.model.config, length)))
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
            with torch.inference_mode():
                x = torch.as_tensor(np.ascontiguousarray(batch)).to(param.device, param.dtype)
                ref = reference_pass(self.model, x, calibrated=self.calibrated)
                y = ref.probabilities.float().cpu().numpy()
                alts = []
                for k in range(0, len(items), self.batch_size):
                    part = slice(k, k + self.batch_size)
                    probs = substitution_probabilities(
                        self.model, ref, torch.tensor([b for b, _, _ in items[part]]), torch.as_tensor(centers[part]),
                        torch.as_tensor(np.ascontiguousarray(alt_x[part])), distance=d, calibrated=self.calibrated)
                    alts.extend(probs.float().cpu().numpy())
                del ref
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

    def _skip(self, reason: str, label: str, detail: str = "", log: bool = True) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if self.log_skips and log:
            logger.warning("skipping %s: %s%s", label, reason, f" ({detail})" if detail else "")

    def _gene_window(self, chrom: str, gene_idx: int, start: int, end: int) -> str:
        """Reference bases ``[start, end)`` (0-based) with everything outside the transcript as N."""
        g = self.genes[gene_idx]
        seq = self.genome.fetch(chrom, start, end).upper()
        lo, hi = max(g.tx_start - start, 0), max(end - g.tx_end, 0)
        if lo >= len(seq) or hi >= len(seq) or lo + hi >= len(seq):
            return "N" * len(seq)
        return "N" * lo + seq[lo : len(seq) - hi] + "N" * hi

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
        keys: list[list[tuple[str, int, str, str]] | None] = []
        for v in chunk:
            # the record rules first (REF, gene, chromosome end …): a record they skip is never looked up
            ok = v.alts and len(set(v.alts)) == len(v.alts) and self._check_record(v)[0] is None
            keys.append([(self.genome.resolve(v.chrom), int(v.pos), v.ref, a) for a in v.alts] if ok else None)
        found: dict[tuple[str, int, str, str], list[str]] = {}
        source: dict[tuple[str, int, str, str], str] = {}
        sources = [(f"precomputed {p.path}", p) for p in self.precomputed]
        if self.cache is not None:
            sources.append(("cache", self.cache))
        for name, src in sources:  # first source that has a key wins
            wanted = [k for ks in keys if ks for k in ks if k not in found]
            if not wanted:
                break
            checked = {"distance": self.distance, "fields": 10 + self.transcript_entries} if src is not self.cache else {}
            for k, entries in src.lookup(wanted, **checked).items():
                found[k], source[k] = entries, name
        results: list[list[AlleleResult]] = [[] for _ in chunk]
        todo = []
        for r, ks in enumerate(keys):
            if ks and all(k in found for k in ks):
                results[r] = [AlleleResult(k[3], list(found[k]), _entries_reason(found[k])) for k in ks]
                for k in ks:
                    if found[k]:
                        self.provenance[source[k]] = self.provenance.get(source[k], 0) + 1
            else:
                todo.append(r)
        scored = self._score_alleles([chunk[r] for r in todo]) if todo else []
        new = []
        for r, alleles in zip(todo, scored):
            results[r] = alleles
            with_entries = {a.alt for a in alleles if a.entries}
            if with_entries:
                self.provenance["model"] = self.provenance.get("model", 0) + len(with_entries)
                if keys[r]:
                    new.extend((k, a.entries) for k, a in zip(keys[r], alleles))
        if self.cache is not None:
            self.cache.store(new)
        return results

    def check_sources(self) -> None:
        """Refuse (``NucleoforgeError``, one line) a :attr:`precomputed` file of another genome build
        than the reference (:meth:`~nucleoforge.io.precomputed.PrecomputedScores.check_build`);
        each file is checked once."""
        for p in self.precomputed:
            if id(p) not in self._checked_sources:
                p.check_build(self.genome.lengths, self.genome.path)
                self._checked_sources.add(id(p))

    def _check_record(self, v: VariantInput) -> tuple[str | None, str, list[int], str]:
        """The record rules, in order: ``(reason, detail, gene indices, reference window)`` — the
        :class:`SkipReason` that leaves ``v`` unscored and what the warning adds (``None``, ``""``
        when it passes), the genes at POS, and the upper-case reference window around POS.
        Nothing is counted or logged; :meth:`score_alleles` applies it before any score file or
        cache is asked, :meth:`_score_alleles` before the model."""
        if v.ref is None or v.alts is None or v.pos is None:
            return SkipReason.BAD_INPUT, "", [], ""
        gene_ids = list(self.genes.overlapping(v.chrom, v.pos))
        if not gene_ids:
            return SkipReason.NO_GENE, "", [], ""
        if v.chrom not in self.genome:
            return SkipReason.FASTA, "", gene_ids, ""
        chrom, half = self.genome.resolve(v.chrom), self.wid // 2
        start, end = v.pos - half - 1, v.pos + half
        n = self.genome.lengths[chrom]
        if start < 0 or end > n:
            return SkipReason.CHROM_END, f"the {self.wid}-nt window passes the end of {chrom} (length {n:,})", gene_ids, ""
        seq = self.genome.fetch(chrom, start, end).upper()
        if seq[half : half + len(v.ref)] != v.ref:
            return SkipReason.REF_MISMATCH, f"reference has {seq[half:half + len(v.ref)]}", gene_ids, seq
        if len(v.ref) > 2 * self.distance:
            return SkipReason.REF_TOO_LONG, f"{len(v.ref)} > {2 * self.distance}", gene_ids, seq
        return None, "", gene_ids, seq

    def score_with_tracks(self, chunk: Sequence[VariantInput]) -> list[tuple[list[str], list[Any]] | None]:
        """Like :meth:`score_chunk` without the cache and precomputed files, and with the
        per-position predictions behind every entry: per variant ``None`` (unscored) or
        ``(entries, tracks)``, ``tracks[i]`` = ``(ref, alt)`` arrays ``(2 * distance + 1, 3)``
        (neither / acceptor / donor at ``POS - distance … POS + distance``, the ALT track after
        the indel rules) for ``entries[i]``, or None for an entry that needs no model (``.``)."""
        self._tracks = {}
        self._planned = self._done = 0
        try:
            entries = self._score_chunk(chunk)
            tracks = self._tracks
        finally:
            self._tracks = None
        return [None if e is None else (e, [tracks.get((r, i)) for i in range(len(e))]) for r, e in enumerate(entries)]

    def _score_chunk(self, chunk: Sequence[VariantInput]) -> list[list[str] | None]:
        return [[e for a in alleles for e in a.entries] or None for alleles in self._score_alleles(chunk)]

    def _score_alleles(self, chunk: Sequence[VariantInput]) -> list[list[AlleleResult]]:
        half, d = self.wid // 2, self.distance
        results: list[list[str | None] | None] = [None] * len(chunk)
        # per record, per ALT: (ALT, first entry, end of its entries, reason it has no delta scores)
        spans: list[list[tuple[str, int, int, str | None]]] = []
        tasks: list[_Task] = []
        for r, v in enumerate(chunk):
            alts = list(v.alts or [])
            spans.append([])

            def skip_all(reason: str) -> None:
                spans[-1] = [(a, 0, 0, reason) for a in alts] or [(".", 0, 0, SkipReason.NO_ALT)]

            label = v.label or f"{v.chrom}:{v.pos} {v.ref}>{','.join(v.alts or ['.'])}"
            reason, detail, gene_ids, seq = self._check_record(v)
            if reason == SkipReason.NO_GENE:  # counted, never warned about
                self.counts[reason] = self.counts.get(reason, 0) + 1
            elif reason == SkipReason.FASTA:  # warned once per chromosome (or reported by score_vcf)
                first = self.log_missing_chromosomes and v.chrom not in self._warned_chromosomes
                self._warned_chromosomes.add(v.chrom)
                self._skip(reason, label, f"chromosome {v.chrom!r}; its other records are skipped silently", log=first)
            elif reason is not None:
                self._skip(reason, label, detail)
            if reason is not None:
                skip_all(reason)
                continue
            entries: list[str | None] = []
            for alt in alts:
                first_entry = len(entries)
                if not alt or _BAD_ALT_CHARS.intersection(alt):
                    spans[-1].append((alt or ".", first_entry, first_entry, SkipReason.UNSUPPORTED_ALT))
                    continue
                mnv = len(v.ref) > 1 and len(alt) > 1
                for gi in gene_ids:
                    gene = self.genes[gi]
                    if mnv:
                        entries.append(f"{alt}|{self.label(gi)}|.|.|.|.|.|.|.|.")
                        continue
                    bounds = [s + 1 for s in gene.exon_starts] + list(gene.exon_ends)
                    # Nearest boundary; on a tie the upstream one (the original takes the smaller).
                    dist_b = min(sorted(set(b - v.pos for b in bounds)), key=abs)
                    masked = self._mask_window(seq, gene.tx_start + 1 - v.pos, gene.tx_end - v.pos)
                    alt_window = masked[:half] + alt.upper() + masked[half + len(v.ref) :]
                    tasks.append(_Task(r, len(entries), alt, gi, len(v.ref), alt_window, dist_b))
                    entries.append(None)
                spans[-1].append((alt, first_entry, len(entries), SkipReason.MNV if mnv else None))
            results[r] = entries
        if tasks:
            self._fill(chunk, tasks, results)
        return [[AlleleResult(alt, list((results[r] or [])[a:b]), reason) for alt, a, b, reason in spans[r]]  # type: ignore[misc]
                for r in range(len(chunk))]

    def _mask_window(self, seq: str, dist_tx_start: int, dist_tx_end: int) -> str:
        half, wid = self.wid // 2, self.wid
        pad0, pad1 = max(half + dist_tx_start, 0), max(half - dist_tx_end, 0)
        return "N" * pad0 + seq[pad0 : wid - pad1] + "N" * pad1

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

    def _fill(self, chunk: Sequence[VariantInput], tasks: list[_Task], results: list) -> None:
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
        for t in cones:
            results[t.record][t.slot] = self._entry(t.alt, self.label(t.gene), ref_tracks[(t.gene, chunk[t.record].pos)],
                                                    cone_tracks[id(t)], t.dist_boundary, (t.record, t.slot))
        by_shape: OrderedDict[tuple[int, str], list[str]] = OrderedDict()
        for strand, window in unique:
            by_shape.setdefault((len(window), strand), []).append(window)
        alt_pred: dict[tuple[str, str], np.ndarray] = {}
        for (_, strand), windows in by_shape.items():
            for w, y in zip(windows, self._run(windows, strand)):
                alt_pred[(strand, w)] = y
        cov = self.cov
        c = cov // 2
        for key, group in unique.items():
            y_alt0 = alt_pred[key]
            for t in group:
                v = chunk[t.record]
                y_ref = ref_tracks[(t.gene, v.pos)]
                alt_len, ref_len = len(t.alt), t.ref_len
                y_alt = y_alt0
                if ref_len > 1 and alt_len == 1:
                    # The original pads with float64 zeros, so its deltas are float64 here.
                    y_alt = np.concatenate([y_alt[: c + alt_len], np.zeros((ref_len - alt_len, 3)), y_alt[c + alt_len :]])
                    y_ref = y_ref.astype(np.float64)
                elif ref_len == 1 and alt_len > 1:
                    y_alt = np.concatenate([y_alt[:c], y_alt[c : c + alt_len].max(axis=0, keepdims=True), y_alt[c + alt_len :]])
                results[t.record][t.slot] = self._entry(t.alt, self.label(t.gene), y_ref, y_alt, t.dist_boundary,
                                                        (t.record, t.slot))

    def _entry(self, alt: str, gene: str, y_ref: np.ndarray, y_alt: np.ndarray, dist_b: int,
               where: tuple[int, int] | None = None) -> str:
        if self._tracks is not None and where is not None:
            self._tracks[where] = (y_ref, y_alt)
        c = self.cov // 2
        gain_a, gain_d = y_alt[:, 1] - y_ref[:, 1], y_alt[:, 2] - y_ref[:, 2]
        loss_a, loss_d = y_ref[:, 1] - y_alt[:, 1], y_ref[:, 2] - y_alt[:, 2]
        idx = [int(a.argmax()) for a in (gain_a, loss_a, gain_d, loss_d)]
        vals = [gain_a[idx[0]], loss_a[idx[1]], gain_d[idx[2]], loss_d[idx[3]]]
        dp = [i - c for i in idx]
        if self.mask:
            keep = [dp[0] != dist_b, dp[1] == dist_b, dp[2] != dist_b, dp[3] == dist_b]
        else:
            keep = [True] * 4
        # float64 product keeps the sign of a masked negative delta ("-0.00"), as the original.
        ds = [np.float64(val) * (1 if k else 0) for val, k in zip(vals, keep)]
        return format_scores(alt, gene, ds, dp)


# -- VCF driver ------------------------------------------------------------------------------------


@dataclass
class VcfRunSummary:
    """What :func:`score_vcf` did. The allele counts cover every ALT allele of every record read
    in this run (a record without ALT counts as one allele ``.``):
    ``alleles == alleles_scored + sum(alleles_skipped.values())``."""

    records: int = 0  # records in the output (resumed + new)
    resumed: int = 0  # records kept from an interrupted run
    scored: int = 0  # records that got a SpliceAI entry in this run
    skipped: dict[str, int] = field(default_factory=dict)  # records left unscored, per reason (the scorer's counts)
    sources: dict[str, int] = field(default_factory=dict)  # ALT alleles with entries per source (precomputed, cache, model)
    alleles: int = 0  # ALT alleles of the records read in this run
    alleles_scored: int = 0  # ... with delta scores
    alleles_skipped: dict[str, int] = field(default_factory=dict)  # ... without, per SkipReason ("no gene" included)
    matched_records: int = 0  # records read in this run whose chromosome is in the reference
    missing_chromosomes: dict[str, int] = field(default_factory=dict)  # records per chromosome absent from the reference

    def count_alleles(self, alleles: Sequence[AlleleResult]) -> None:
        """Count the ALT alleles of one record."""
        for a in alleles:
            self.alleles += 1
            if a.reason is None:
                self.alleles_scored += 1
            else:
                self.alleles_skipped[a.reason] = self.alleles_skipped.get(a.reason, 0) + 1


def allele_summary(summary: VcfRunSummary) -> str:
    """The allele part of the line ``variants`` prints: every ALT allele read in this run, scored
    or skipped (outside annotated genes, then the other reasons by name), e.g. ``11 ALT alleles:
    5 scored, 1 outside annotated genes, 5 skipped (REF does not match the reference: 1,
    unsupported ALT: 4)``."""
    others = {reason_text(k): v for k, v in summary.alleles_skipped.items() if k != SkipReason.NO_GENE}
    outside = summary.alleles_skipped.get(SkipReason.NO_GENE, 0)
    where = f" in the {summary.records - summary.resumed} records scored now" if summary.resumed else ""
    detail = " (" + ", ".join(f"{k}: {v}" for k, v in sorted(others.items())) + ")" if others else ""
    return (f"{summary.alleles} ALT alleles{where}: {summary.alleles_scored} scored, {outside} outside annotated genes, "
            f"{sum(others.values())} skipped{detail}")


def _some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} sequences)" if len(names) > limit else f" ({len(names)} sequence{'s' * (len(names) > 1)})")


def check_chromosomes_matched(summary: VcfRunSummary, reference: Genome | str, input_path: str, output_path: str) -> None:
    """After a run: ``NucleoforgeError`` (one line) when records were read but none of their
    chromosome names is in the reference, listing the names the reference has (nothing could be
    scored: the output holds the records unscored); a warning when only some are missing."""
    from nucleoforge.errors import NucleoforgeError

    missing = summary.missing_chromosomes
    if not missing:
        return
    vcf_names = ", ".join(f"{k} ({v} record{'s' * (v > 1)})" for k, v in list(missing.items())[:5])
    vcf_names += f", … ({len(missing)} names)" if len(missing) > 5 else ""
    genome = reference if isinstance(reference, Genome) else Genome(reference)
    if summary.matched_records == 0 and summary.records > summary.resumed:
        where = "stdout" if output_path in ("-", "/dev/stdout") else output_path
        raise NucleoforgeError(
            f"{'stdin' if input_path in ('-', '/dev/stdin') else input_path}: no record could be scored: none of its "
            f"chromosome names ({vcf_names}) is in the reference {genome.path}, which has {_some(genome.chroms)}; a 'chr' "
            f"prefix is matched either way, other names must be renamed (the records were written unscored to {where})")
    logger.warning("records on chromosomes not in the reference %s were left unscored: %s", genome.path, vcf_names)


def _record_key(rec: Any) -> tuple[str, str, str, str, str]:
    """CHROM, POS, ID, REF, ALT of a pysam record, spelled as in its VCF line."""
    return (rec.chrom, str(rec.pos), rec.id or ".", rec.ref or ".", ",".join(rec.alts) if rec.alts else ".")


def _genes_identity(genes: GeneTable) -> dict[str, Any]:
    """The gene table's identity for a run manifest: a sha256 of every gene's fields."""
    import hashlib

    h = hashlib.sha256()
    for g in genes:
        h.update(repr((g.name, g.chrom, g.strand, g.tx_start, g.tx_end, tuple(g.exon_starts), tuple(g.exon_ends))).encode())
    return {"path": genes.source, "size": len(genes), "sha256": h.hexdigest()}


def _transcript_ids_sha256(genes: GeneTable) -> str:
    import hashlib

    return hashlib.sha256("\n".join(f"{g.symbol}|{g.transcript_id}" for g in genes).encode()).hexdigest()


def cache_setting(scorer: VariantScorer) -> dict[str, Any]:
    """What a cached entry depends on besides the variant: the gene table (sha256 of its genes),
    the reference (its sequence names and lengths — the bases are not hashed, a FASTA may be
    gigabytes), ``-D``, ``-M``, the calibration temperatures and the model's weights (sha256)."""
    import hashlib

    from nucleoforge.io.outputs import model_identity

    genes = _genes_identity(scorer.genes)
    lengths = sorted(scorer.genome.lengths.items())
    reference = hashlib.sha256(repr(lengths).encode()).hexdigest()
    temps = scorer.model.config.calibration_temperatures if scorer.calibrated else None
    return {"format": "spliceai-info/1", "annotation": {"sha256": genes["sha256"], "genes": genes["size"]},
            "reference_lengths_sha256": reference, "distance": scorer.distance, "mask": scorer.mask,
            "calibration_temperatures": list(temps) if temps is not None else None,
            "model_sha256": model_identity(scorer.model)["sha256"], "context": scorer.context}  # fmt: skip


def provenance_header(scorer: VariantScorer) -> str | None:
    """The ``##nucleoforge_provenance=`` header line of a run that reads precomputed files or a
    cache (None otherwise): the model, annotation and reference identities, ``-D``, ``-M`` and the
    sources in the order they are asked. The line depends only on the run's settings, so a run that
    finds every score in the cache writes the same file as the run that filled it; how many ALT
    alleles came from each source goes to the summary line and ``OUT.provenance.json``."""
    if scorer.cache is None and not scorer.precomputed:
        return None
    setting = cache_setting(scorer)
    sources = [f"precomputed:{p.path}" for p in scorer.precomputed]
    sources += [f"cache:{scorer.cache.path}"] if scorer.cache is not None else []
    name = getattr(scorer.model, "name_or_path", "") or "model"
    fields = [f"model={name}", f"model_sha256={setting['model_sha256']}", f"annotation={scorer.genes.source}",
              f"annotation_sha256={setting['annotation']['sha256']}", f"distance={scorer.distance}",
              f"mask={int(scorer.mask)}", f"calibrated={int(scorer.calibrated)}", "sources=" + ",".join([*sources, "model"])]
    return "##nucleoforge_provenance=" + ";".join(f.replace(" ", "_") for f in fields)


def variants_manifest(scorer: VariantScorer, input_path: str, transcripts: VariantScorer | None = None) -> dict[str, Any]:
    """The run manifest of ``nucleoforge variants``: the input VCF, reference and gene table,
    ``-D``/``-M`` and the model's weights (see :mod:`nucleoforge.io.outputs`)."""
    from nucleoforge.io.outputs import run_manifest

    return run_manifest(
        "variants",
        inputs={"input": input_path, "reference": str(scorer.genome.path), "annotation": _genes_identity(scorer.genes)},
        parameters={"distance": scorer.distance, "mask": scorer.mask,
                    # only when set, so manifests of uncalibrated runs stay as they were
                    **({"calibration_temperatures": list(scorer.model.config.calibration_temperatures)}
                       if scorer.calibrated else {}),
                    # score files change entries, so a resume must read the same ones (by path, size and
                    # modification time: Illumina's files are tens of GB, too large to hash per run)
                    **({"precomputed": [{"path": str(p.path.resolve()), "size": p.path.stat().st_size,
                                         "mtime_ns": p.path.stat().st_mtime_ns} for p in scorer.precomputed]}
                       if scorer.precomputed else {}),
                    **({"transcripts": _genes_identity(transcripts.genes) | {"ids": _transcript_ids_sha256(transcripts.genes)}}
                       if transcripts is not None else {})},
        model=scorer.model,
    )


def output_format_of(output_path: str, output_format: str | None = None) -> str:
    """``vcf`` or ``tsv``: ``output_format`` when given, else ``tsv`` for a ``.tsv``/``.tsv.gz`` name."""
    from nucleoforge.errors import NucleoforgeError
    from nucleoforge.io.variant_table import is_table_path

    if output_format is None:
        return "tsv" if is_table_path(output_path) else "vcf"
    if output_format not in ("vcf", "tsv"):
        raise NucleoforgeError(f"--format {output_format!r}: expected vcf or tsv")
    return output_format


class _Redraw:
    """Redraw a tqdm bar every ``interval`` seconds from a thread (elapsed time and rate move
    while one model call runs longer than that)."""

    def __init__(self, bar: Any, interval: float) -> None:
        import threading

        self.bar, self.interval = bar, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nucleoforge-progress", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.bar.refresh()

    def __enter__(self) -> "_Redraw":
        if not self.bar.disable:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def score_vcf(
    scorer: VariantScorer,
    input_path: str,
    output_path: str,
    *,
    resume: bool = False,
    chunk_size: int = 256,
    progress: bool = True,
    transcripts: VariantScorer | None = None,
    output_format: str | None = None,
    check_chromosomes: bool = True,
    progress_options: dict[str, Any] | None = None,
) -> VcfRunSummary:
    """Annotate ``input_path`` into ``output_path`` (``-`` = stdout; ``.gz`` = BGZF), streaming.

    Records are read ``chunk_size`` at a time, scored together and written in input order;
    the output is flushed after every chunk. An output that is the input (also through a link)
    is refused before anything is opened. A record that cannot be parsed stops the run after
    every record before it has been written: ``ValueError("FILE:LINE: ...")``.

    ``output_format``: ``vcf`` (the input with ``INFO/SpliceAI``) or ``tsv`` (the table of
    :mod:`nucleoforge.io.variant_table`: one row per record x ALT x gene, and one per ALT left
    unscored with its reason); by default ``tsv`` for a ``.tsv``/``.tsv.gz`` name.

    A file output gets a run manifest ``OUTPUT.manifest.json`` (:func:`variants_manifest`).
    With ``resume=True`` an existing output is continued only when its manifest matches this
    run (same input, reference, annotation, ``-D``, ``-M`` and model; otherwise a
    ``ValueError`` names what differs) and every complete record in it is the input record at
    that place (CHROM, POS, ID, REF, ALT); its incomplete last line is dropped and scoring
    continues after the last complete record, so the result is byte-identical to an
    uninterrupted run. The protocol is :func:`nucleoforge.io.outputs.open_resumable` (a resume
    from an input that is not a regular file, e.g. stdin, is refused). A table keeps the rows up
    to its last checkpoint (``OUTPUT.checkpoints``).

    ``transcripts``: a second scorer over a per-transcript table (``transcript_entries=True``);
    its entries go to ``INFO/SpliceAI_TX`` (``ALLELE|SYMBOL|TRANSCRIPT_ID|DS_AG|…|DP_DL``), the
    ``SpliceAI`` field stays as it is without it; a table then has one row per transcript.

    ``check_chromosomes``: when no record's chromosome is in the reference, raise
    ``NucleoforgeError`` after the output is written (see :func:`check_chromosomes_matched`);
    when some are missing, one warning. Records on a missing chromosome are never warned about
    one by one.

    ``progress``: a bar whose total is the input's record count (:func:`nucleoforge.io.vcf.count_vcf_records`;
    none for stdin), advanced within a chunk after every model call and redrawn every
    half second; ``progress_options``: more tqdm arguments (e.g. ``file``).
    """
    from tqdm.auto import tqdm

    from nucleoforge.io.outputs import check_paths, manifest_path, open_resumable
    from nucleoforge.io.variant_table import TableSink, salvage_table, table_header, table_rows
    from nucleoforge.io.vcf import (
        SPLICEAI_INFO_LINE,
        SPLICEAI_TX_INFO_LINE,
        OutputWriteError,
        VcfFormatError,
        VcfSink,
        count_vcf_records,
        iter_vcf_records,
        open_vcf,
        salvage_vcf_output,
    )

    input_path, output_path = str(input_path), str(output_path)
    fmt = output_format_of(output_path, output_format)
    to_stdout = output_path == "-"
    if resume and to_stdout:
        raise NucleoforgeError("--resume needs an output file (-O), not stdout")
    annotation = scorer.genes.source if os.path.isfile(str(scorer.genes.source)) else None
    check_paths({"-I/--input": input_path, "-R/--reference": str(scorer.genome.path), "-A/--annotation": annotation},
                {"-O/--output": output_path})
    scorer.check_sources()  # a score file of another build: refused before the output is touched
    total = count_vcf_records(input_path) if progress else None  # before the input is opened (a file: read twice)
    vcf = open_vcf(input_path)
    out: Any = None
    pending: VcfFormatError | None = None
    table = fmt == "tsv"
    log_missing = scorer.log_missing_chromosomes
    scorer.log_missing_chromosomes = False  # reported once, at the end
    try:
        header = vcf.header
        if "SpliceAI" not in header.info:
            header.add_line(SPLICEAI_INFO_LINE)
        if transcripts is not None and "SpliceAI_TX" not in header.info:
            header.add_line(SPLICEAI_TX_INFO_LINE)
        provenance = provenance_header(scorer)
        if provenance is not None:
            header.add_line(provenance)
        manifest = None if to_stdout else variants_manifest(scorer, input_path, transcripts)
        if manifest is not None and table:  # a table and a VCF of the same run are different outputs
            manifest["parameters"]["format"] = "tsv"
        summary = VcfRunSummary()
        records = iter_vcf_records(vcf, input_path)
        head_text = table_header(transcripts is not None) if table else str(header)
        kept_table: dict[str, Any] = {}

        def read_kept() -> tuple[list[Sequence[str]], int, str]:
            if table:
                n, size, text, checkpoints = salvage_table(output_path, head_text)
                kept_table.update(size=size, checkpoints=checkpoints)
                # the rows of a record are not one line: the checkpoint says how many records they hold;
                # their keys are the input's first n (the manifest has checked that input's sha256)
                again = open_vcf(input_path)
                try:
                    keys: list[Sequence[str]] = [_record_key(r) for _, r in zip(range(n), iter_vcf_records(again, input_path))]
                finally:
                    again.close()
                last = text.rstrip("\n").rsplit("\n", 1)[-1].split("\t")
                if keys and (tuple(last[:4]) != tuple(keys[-1][:4])):
                    raise NucleoforgeError(f"{output_path}: its last kept row ({' '.join(last[:4])}) is not of input record "
                                     f"{n} ({' '.join(keys[-1][:4])}); --resume needs the same input (rerun without --resume)")
                return keys, size, text
            old_header, done_lines, end = salvage_vcf_output(output_path)
            if not old_header or not old_header[-1].startswith("#CHROM"):
                raise NucleoforgeError(f"{output_path}: cannot resume, the file has no complete VCF header")
            return [line.split("\t", 5) for line in done_lines], end, "".join(old_header + done_lines)

        def open_sink(append: bool) -> Any:
            if table:
                return TableSink(output_path, append=append, kept_bytes=kept_table.get("size", 0),
                                 kept_checkpoints=kept_table.get("checkpoints", ""))
            return VcfSink(output_path, append=append)

        out, summary.resumed = open_resumable(
            output_path, manifest, resume=resume, inputs={"-I/--input": input_path}, source=input_path,
            input_keys=map(_record_key, records), read_kept=read_kept, open_sink=open_sink, header=head_text,
            bgzf=output_path.endswith((".gz", ".bgz")))
        if table and not summary.resumed:
            out.checkpoint(0)
        write = out.write
        bar = tqdm(desc="variants", unit=" rec", disable=not progress, initial=summary.resumed, total=total,
                   dynamic_ncols=True, **(progress_options or {}))
        summary.records = summary.resumed
        in_reference: dict[str, bool] = {}
        with _Redraw(bar, 0.5):
            while pending is None:
                batch = []
                try:
                    for rec in records:
                        batch.append(rec)
                        if len(batch) >= chunk_size:
                            break
                except VcfFormatError as exc:  # write the records before the bad line, then fail
                    pending = exc
                if not batch:
                    break
                inputs = [VariantInput(r.chrom, r.pos, r.ref, r.alts, f"{r.chrom}:{r.pos} {r.id or '.'} {r.ref}>{','.join(r.alts or ['.'])}") for r in batch]
                base, passes = summary.records, 1 + (transcripts is not None)

                def advance(share: float, part: int = 0) -> None:
                    # records "done" within the chunk, estimated from the model input done; the last is
                    # counted when the chunk is written
                    target = base + min(len(batch) - 1, int(len(batch) * (part + share) / passes))
                    if target > bar.n:
                        bar.update(target - bar.n)

                scorer.progress = advance
                alleles = scorer.score_alleles(inputs)
                per_tx: list[Any] = [None] * len(batch)
                if transcripts is not None:
                    transcripts.progress = lambda share: advance(share, 1)
                    per_tx = transcripts.score_alleles(inputs)
                lines = []
                for rec, rec_alleles, tx in zip(batch, alleles, per_tx):
                    summary.count_alleles(rec_alleles)
                    if rec.chrom not in in_reference:
                        in_reference[rec.chrom] = rec.chrom in scorer.genome
                    if in_reference[rec.chrom]:
                        summary.matched_records += 1
                    else:
                        summary.missing_chromosomes[rec.chrom] = summary.missing_chromosomes.get(rec.chrom, 0) + 1
                    s = [e for a in rec_alleles for e in a.entries]
                    if s:
                        summary.scored += 1
                    if table:
                        shown = tx if tx is not None else rec_alleles
                        lines.extend(table_rows(rec.chrom, rec.pos, rec.id or ".", rec.ref or ".",
                                                ((a.alt, a.entries, None if a.reason is None else reason_text(a.reason)) for a in shown),
                                                transcripts=transcripts is not None))  # fmt: skip
                        continue
                    if s:
                        rec.info["SpliceAI"] = s
                    tx_entries = [e for a in tx for e in a.entries] if tx is not None else []
                    if tx_entries:
                        rec.info["SpliceAI_TX"] = tx_entries
                    lines.append(str(rec))
                try:
                    write("".join(lines))
                    summary.records += len(batch)
                    if table:
                        out.checkpoint(summary.records)
                    else:
                        out.flush()
                except OutputWriteError as exc:  # a full disk: with a manifest, what was flushed can be resumed
                    resumable = manifest is not None and os.path.isfile(output_path) and manifest_path(output_path).is_file()
                    raise exc.with_note("its complete records are kept: rerun with --resume once there is room"
                                        if resumable else "the output is incomplete") from None
                bar.update(summary.records - bar.n)
        bar.close()
    finally:
        scorer.progress = None
        if transcripts is not None:
            transcripts.progress = None
        scorer.log_missing_chromosomes = log_missing
        if out is not None:
            out.close()
        vcf.close()
    if pending is not None:
        raise pending
    summary.skipped = {k: v for k, v in scorer.counts.items()}
    summary.sources = dict(scorer.provenance)
    if provenance is not None and not to_stdout:
        import json

        from nucleoforge.io.outputs import atomic_output

        with atomic_output(output_path + ".provenance.json") as fh:
            fh.write(json.dumps({"header": provenance, "records": summary.records, "resumed": summary.resumed,
                                 "alleles_by_source": summary.sources}, indent=2) + "\n")  # fmt: skip
    if check_chromosomes:
        check_chromosomes_matched(summary, scorer.genome, input_path, output_path)
    return summary
