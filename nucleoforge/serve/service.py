"""What ``nucleoforge serve`` computes: variant parsing, the checks behind every HTTP 400, and the
SpliceAI-lookup-shaped result of one variant, on the scorer of ``nucleoforge variants``.

The JSON keys follow the Broad's SpliceAI-lookup API so that its clients keep working: per
gene/transcript ``g_name``, ``t_id``, ``t_strand``, ``DS_AG DS_AL DS_DG DS_DL`` (strings, two
decimals, exactly the ``SpliceAI`` INFO values), ``DP_AG DP_AL DP_DG DP_DL`` (integers),
``DS_AG_REF``/``DS_AG_ALT`` … (the REF and ALT probabilities at that DP), ``EXON_STARTS`` /
``EXON_ENDS`` (1-based); at the top ``variant``, ``genomeVersion``, ``chrom``, ``pos``, ``ref``,
``alt``, ``distance``, ``mask``, ``scores``, ``source`` and ``allNonZeroScores`` (rows
``{pos, RA, AA, RD, AD}`` where a probability reaches 0.01). Added here: ``ENTRY`` (the INFO
entry itself) and, when the model ran, the per-position tracks ``REF_ACCEPTOR ALT_ACCEPTOR
REF_DONOR ALT_DONOR`` over ``pos - distance … pos + distance`` (genomic order, the ALT track
after the indel rules) for the page's plot. The Pangolin answers (``GET /pangolin/``, when the
server has a Pangolin model) are built in :mod:`.pangolin`.

Nothing a request sends is trusted: every value is checked for its type (a JSON ``true`` is not
the integer 1) and range before anything is keyed on it, alleles have a length limit (REF at
most 2 x the largest distance, as the scorer needs; ALT at most :data:`MAX_ALT` nt), and an
error quotes at most :data:`QUOTE_CHARS` characters of what it refuses (:func:`quote`, :func:`clip`).

>>> parse_variant("chr8-140300616-T-G")
('8', 140300616, 'T', 'G')
>>> parse_variant("22:20000146 g>a")
('22', 20000146, 'G', 'A')
>>> parse_variant("chr22:g.20102090T>C")
('22', 20102090, 'T', 'C')
>>> parse_variant("X 1234 AC A")
('X', 1234, 'AC', 'A')
>>> clip("A" * 100)
'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA…'
"""

from __future__ import annotations


import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Sequence

from nucleoforge.errors import NucleoforgeError

__all__ = ["GenomeSpec", "RequestError", "LookupService", "VARIANT_FORMS", "MAX_ALT", "parse_variant", "clip", "quote",
           "show_value"]

logger = logging.getLogger("nucleoforge.serve")

#: the longest ALT allele the server scores (nt): a longer insertion is an HTTP 400
MAX_ALT = 1000
#: characters of a refused input an error message quotes
QUOTE_CHARS = 60
#: the most digits a position may have (no chromosome reaches 10^10)
_POS_DIGITS = 10

# The one grammar of a variant string. Separators are single ('-', ':', '>' or a run of spaces),
# so a sign can never be read as a separator: '22:-20102090 T>C' does not parse.
_VARIANT = re.compile(r"""
    ^\s*(?:chr)?(?P<chrom>[0-9A-Za-z_.]+)         # chromosome; a leading 'chr' is dropped
    (?: \s*:\s*g\. | - | \s*:\s* | \s+ )             # ':g.' (HGVS), '-', ':' or spaces
    (?P<pos>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)       # 1-based position, thousands commas allowed
    (?: (?: - | \s*:\s* | \s+ ) (?P<ref>[ACGTN]+) (?: - | \s*[:>]\s* | \s+ ) (?P<alt>[ACGTN]+)
      | (?P<ref_hgvs>[ACGTN]+) \s*>\s* (?P<alt_hgvs>[ACGTN]+) )   # 20102090T>C: no separator before REF
    \s*$""", re.VERBOSE | re.IGNORECASE)

#: The accepted forms, as every parse error names them.
VARIANT_FORMS = ("chrom-pos-ref-alt (e.g. chr8-140300616-T-G), chrom:pos ref>alt or chrom pos ref alt; "
                 "also chrom:posREF>ALT (22:20102090T>C) and HGVS chrom:g.posREF>ALT (chr22:g.20102090T>C); "
                 "'chr' is optional and pos is a positive integer")


class RequestError(NucleoforgeError):
    """A request the service refuses: ``str(exc)`` is the message, ``status`` the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` cut to ``limit`` characters (``…`` marks a cut) and safe to encode as UTF-8 (a
    lone surrogate from a JSON ``\\ud800`` escape becomes that escape): what an answer echoes of its input."""
    return _cut(text, limit).encode("utf-8", "backslashreplace").decode("utf-8")


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of ``text`` cut to ``limit`` characters: what an error message quotes of its input."""
    return repr(_cut(text, limit))


def show_value(value: Any) -> str:
    """A request value as its JSON spelling (``true``, ``"50"``, ``50.0``), clipped."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return clip(text)


def parse_variant(text: str, *, max_ref: int = 9998, max_alt: int = MAX_ALT) -> tuple[str, int, str, str]:
    """``(chrom without 'chr', pos, REF, ALT)`` from any of :data:`VARIANT_FORMS`:
    ``chr22-20102090-T-C``, ``22:20102090 T>C``, ``22:20102090T>C``, ``chr22:g.20102090T>C``,
    ``22 20102090 T C``; :class:`RequestError` (naming the accepted forms, quoting at most
    :data:`QUOTE_CHARS` characters of ``text``) otherwise, and for a REF longer than ``max_ref``
    or an ALT longer than ``max_alt`` nt."""
    text = text or ""
    if len(text) > max_ref + max_alt + 200:  # before the regular expression reads it
        raise RequestError(f"variant of {len(text):,} characters ({quote(text)}) is longer than any variant this server "
                           f"scores (REF up to {max_ref:,} nt, ALT up to {max_alt:,} nt)")
    m = _VARIANT.match(text)
    if not m:
        raise RequestError(f"cannot parse variant {quote(text)}: expected {VARIANT_FORMS}")
    digits = m["pos"].replace(",", "")
    if len(digits.lstrip("0")) > _POS_DIGITS:
        raise RequestError(f"variant {quote(text)}: position {clip(digits, 20)} is beyond any chromosome")
    pos = int(digits)
    if pos < 1:
        raise RequestError(f"variant {quote(text)}: position must be >= 1")
    ref, alt = (m["ref"], m["alt"]) if m["ref"] else (m["ref_hgvs"], m["alt_hgvs"])
    if len(alt) > max_alt:
        raise RequestError(f"variant {quote(text)}: ALT of {len(alt):,} nt is longer than this server's limit of "
                           f"{max_alt:,} nt")
    if len(ref) > max_ref:
        raise RequestError(f"variant {quote(text)}: REF of {len(ref):,} nt is longer than 2 x the largest distance "
                           f"({max_ref:,} nt)")
    return m["chrom"], pos, ref.upper(), alt.upper()


@dataclass(frozen=True)
class GenomeSpec:
    """One served genome: ``name`` (the ``hg`` value, e.g. ``37``), its FASTA and annotation."""

    name: str
    reference: str
    annotation: str


class LookupService:
    """Scores for the server. :meth:`score` runs on the worker thread only (it is not
    thread-safe by design): one :class:`~nucleoforge.splicing.scoring.VariantScorer` per
    (genome, distance, mask), built on first use and kept while it works — a scorer whose call
    fails is dropped and rebuilt for the next request, so one failure cannot fail every later
    request of its setting. :meth:`cached` (any thread) answers from the score cache without
    the worker, on read-only connections of its own.

    ``pangolin``: a Pangolin model (``config.head == "pangolin"``) scored next to ``model`` on
    the same genomes, worker and cache (requests name it: :attr:`Job.model` ``"pangolin"``), or None.

    ``cache``: the SQLite score cache of ``nucleoforge variants --cache``, checked here (a
    :class:`~nucleoforge.io.score_cache.CacheError` for a folder, a missing folder or a file that
    is not a score cache); ``cache_readonly`` (default: whether the file or its folder is not
    writable) opens it for lookups only: nothing is added.
    """

    def __init__(self, genomes: Sequence[GenomeSpec], model: Any, *, cache: str | None = None, max_distance: int = 4999,
                 batch_size: int = 16, device: str | None = None, max_alt: int = MAX_ALT,
                 cache_readonly: bool | None = None, pangolin: Any = None) -> None:
        from nucleoforge.io.annotation import GeneTable
        from nucleoforge.io.genome import Genome

        self.model, self.cache_path, self.max_distance, self.max_alt = model, cache, max_distance, max_alt
        self.batch_size, self.device = batch_size, device
        self.cache_readonly = False
        if cache:
            from nucleoforge.io.score_cache import check_cache_path

            writable = check_cache_path(cache)
            self.cache_readonly = (not writable) if cache_readonly is None else bool(cache_readonly)
        self.genomes: dict[str, tuple[GenomeSpec, Any, Any]] = {}
        self._transcript_entries: dict[str, bool] = {}  # SYMBOL|TRANSCRIPT_ID entries (GTF/GFF3 annotations)
        for spec in genomes:
            genes = GeneTable.load(spec.annotation)
            self.genomes[spec.name] = (spec, Genome(spec.reference), genes)
            self._transcript_entries[spec.name] = all(g.transcript_id for g in genes)
        from nucleoforge.splicing.variant_family import family_for

        self.family = family_for(model, device=device)  # shared by every scorer: built (and the model placed) once
        self.families: dict[str, Any] = {"spliceai": self.family}
        self.pangolin = pangolin
        if pangolin is not None:
            from nucleoforge.serve.pangolin import check_pangolin

            self.families["pangolin"] = family_for(check_pangolin(pangolin), device=device)
        self._scorers: dict[tuple[str, int, bool, str], Any] = {}
        self._scorers_lock = threading.Lock()  # request handlers get scorers for cache look-ups too

    # -- checks any thread may run (no file access) -------------------------------------------
    def check_model(self, model: str) -> None:
        """HTTP 404 (:class:`RequestError`) for a model this server does not have (Pangolin not loaded)."""
        if model not in self.families:
            from nucleoforge.serve.pangolin import NOT_SERVED

            raise RequestError(NOT_SERVED if model == "pangolin" else f"this server has no model {quote(model)}", 404)

    def check_request(self, genome: Any, distance: Any, mask: Any, tracks: Any = 0, model: str = "spliceai") -> None:
        """Refuse (:class:`RequestError`) anything but a served genome name, an integer distance
        from 0 to ``max_distance`` and the integers 0/1 for ``mask`` and ``tracks`` (booleans are
        not integers here); HTTP 404 for a model this server does not have (:meth:`check_model`)."""
        self.check_model(model)
        if not isinstance(genome, str) or genome not in self.genomes:
            shown = quote(genome) if isinstance(genome, str) else show_value(genome)
            raise RequestError(f"hg={shown}: this server has genome(s) {', '.join(sorted(self.genomes))}")
        if type(distance) is not int or not 0 <= distance <= self.max_distance:
            raise RequestError(f"distance={show_value(distance)}: expected an integer from 0 to {self.max_distance}")
        if type(mask) is not int or mask not in (0, 1):
            raise RequestError(f"mask={show_value(mask)}: expected 0 (raw scores) or 1 (masked)")
        if type(tracks) is not int or tracks not in (0, 1):
            raise RequestError(f"tracks={show_value(tracks)}: expected 0 or 1 (1 = run the model and return the tracks)")

    def parse(self, text: str) -> tuple[str, int, str, str]:
        """:func:`parse_variant` with this server's allele limits (REF up to 2 x ``max_distance``)."""
        return parse_variant(text, max_ref=2 * self.max_distance, max_alt=self.max_alt)

    # -- scorers and the score cache, from any thread --------------------------------------------
    def _scorer(self, genome: str, distance: int, mask: bool, model: str = "spliceai") -> Any:
        """The scorer of (genome, distance, mask, model), built on first use (any thread: building
        one runs no model; its cache connections may be used from another thread)."""
        key = (genome, distance, mask, model)
        with self._scorers_lock:
            if key not in self._scorers:
                from nucleoforge.splicing.scoring import VariantScorer

                _, fasta, genes = self.genomes[genome]
                self._scorers[key] = VariantScorer(
                    self.families[model], fasta, genes, distance=distance, mask=mask, batch_size=self.batch_size,
                    transcript_entries=self._transcript_entries[genome], cache=self.cache_path,
                    cache_readonly=self.cache_readonly)  # fmt: skip
            return self._scorers[key]

    def cache_setting(self, genome: str, distance: int, mask: bool, model: str = "spliceai") -> dict[str, Any]:
        """The score-cache setting of a scorer for (genome, distance, mask, model): what ``nucleoforge
        variants --cache`` keys its entries on, so both share one cache."""
        return self._scorer(genome, distance, bool(mask), model).cache_setting()

    def cached(self, jobs: Sequence[Any]) -> list[dict | None]:
        """Per job, its result from the score cache, or ``None`` (not cached, ``tracks`` asked, no
        cache). Any thread may call this: it asks the scorer's :meth:`~nucleoforge.splicing.scoring.VariantScorer.lookup`
        (read-only connections of its own) and touches neither the model nor the FASTA (a stored
        entry was checked when it was scored, under the same reference, annotation, model,
        distance and mask)."""
        import sqlite3

        out: list[dict | None] = [None] * len(jobs)
        if not self.cache_path:
            return out
        groups: dict[tuple[str, int, bool, str], list[tuple[int, tuple[str, int, str, str]]]] = {}
        for i, job in enumerate(jobs):
            fasta = self.genomes[job.genome][1]
            if not job.tracks and job.chrom in fasta:
                key = (fasta.resolve(job.chrom), job.pos, job.ref, job.alt)
                groups.setdefault((job.genome, job.distance, bool(job.mask), job.model), []).append((i, key))
        for setting, items in groups.items():
            try:
                found = self._scorer(*setting).lookup([k for _, k in items])
            except (sqlite3.Error, OSError, ValueError) as exc:  # the worker still answers: it reads the cache too
                logger.warning("score cache lookup failed (%s); the worker answers instead", exc)
                continue
            for i, k in items:
                if found.get(k):  # an ALT stored without entries goes to the worker (which says why)
                    out[i] = self._cached_result(jobs[i], found[k])
        return out

    def _cached_result(self, job: Any, entries: list[str]) -> dict:
        if job.model == "pangolin":
            from nucleoforge.serve.pangolin import pangolin_result
            from nucleoforge.splicing.rules_pangolin import PangolinEntry

            scorer = self._scorer(job.genome, job.distance, bool(job.mask), "pangolin")
            return pangolin_result(scorer, job, [PangolinEntry.parse(e) for e in entries], None, "nucleoforge:cache")
        from nucleoforge.splicing.rules_spliceai import DeltaScores

        return self._result(job, [DeltaScores.parse(e) for e in entries], None, "nucleoforge:cache")

    # -- worker thread ---------------------------------------------------------------------------
    def _drop_scorer(self, key: tuple[str, int, bool, str]) -> None:
        with self._scorers_lock:
            scorer = self._scorers.pop(key, None)
        if scorer is not None:
            scorer.close()

    def close(self) -> None:
        """Close the scorers' caches, their read-only connections included (call it on the worker
        thread; the last writer to close folds the WAL into the file)."""
        for key in list(self._scorers):
            self._drop_scorer(key)

    def _refusal(self, failure: Any, check: Any, scorer: Any, genome: str, job: Any) -> RequestError:
        """The message of the first rule (:data:`~nucleoforge.splicing.variant_rules.REQUEST_ORDER`) a job fails."""
        from nucleoforge.splicing.variant_rules import SkipReason

        spec = self.genomes[genome][0]
        chrom, pos, ref, name = job.chrom, job.pos, job.ref, check.chrom
        messages = {
            SkipReason.FASTA: f"chromosome {quote(chrom)} is not in the reference of genome {genome} ({spec.reference})",
            SkipReason.PAST_END: f"position {chrom}:{pos} is beyond the end of {name} (length {check.length:,})",
            SkipReason.REF_MISMATCH: f"REF {clip(ref)} does not match the reference of genome {genome} at {chrom}:{pos}: "
                                     f"the reference has {clip(failure.found)}",
            SkipReason.NO_GENE: f"no gene of the annotation {spec.annotation} overlaps {chrom}:{pos}: SpliceAI scores "
                                "need a variant inside an annotated transcript" if job.model != "pangolin" else
                                f"no gene of the annotation {spec.annotation} contains {chrom}:{pos}: Pangolin scores need a "
                                "variant inside an annotated gene body, past its first base",
            SkipReason.CHROM_END: f"{chrom}:{pos} is too close to the end of {name}: the {scorer.wid:,}-nt window of "
                                  f"distance {scorer.distance} passes it",
            SkipReason.REF_TOO_LONG: f"REF of {len(ref)} nt is longer than 2 x distance ({2 * scorer.distance}): raise "
                                     "distance",
        }  # fmt: skip
        return RequestError(messages[failure.reason])

    def score(self, setting: tuple, jobs: Sequence[Any]) -> list[Any]:
        """Results (dicts) or :class:`RequestError` per job, all under one ``setting`` (genome,
        distance, mask, tracks[, model]; checked again here: nothing is keyed on an unchecked
        value). Any other exception drops the scorer of the setting, so that the next request
        builds a fresh one."""
        genome, distance, mask, tracks = setting[:4]
        model = setting[4] if len(setting) > 4 else "spliceai"
        self.check_request(genome, distance, int(mask) if isinstance(mask, bool) else mask, int(tracks), model)
        key = (genome, distance, bool(mask), model)
        scorer = self._scorer(*key)
        try:
            return self._score(scorer, genome, bool(tracks), jobs)
        except Exception:
            self._drop_scorer(key)
            raise

    def _score(self, scorer: Any, genome: str, tracks: bool, jobs: Sequence[Any]) -> list[Any]:
        from nucleoforge.splicing.scoring import VariantInput
        from nucleoforge.splicing.variant_rules import REQUEST_ORDER

        out: list[Any] = [None] * len(jobs)
        todo, inputs = [], {}
        for i, job in enumerate(jobs):
            inputs[i] = VariantInput(job.chrom, job.pos, job.ref, [job.alt])
            check = scorer.check(inputs[i])
            failure = check.first(REQUEST_ORDER)
            if failure is not None:
                out[i] = self._refusal(failure, check, scorer, genome, job)
                continue
            inputs[i].chrom = check.chrom
            todo.append(i)
        cached = scorer.lookup([(inputs[i].chrom, jobs[i].pos, jobs[i].ref, jobs[i].alt) for i in todo]) if not tracks else {}
        run = []
        for i in todo:
            entries = cached.get((inputs[i].chrom, jobs[i].pos, jobs[i].ref, jobs[i].alt))
            if entries:
                out[i] = self._cached_result(jobs[i], entries)
            else:
                run.append(i)
        for i, alleles in zip(run, scorer.score_with_tracks([inputs[i] for i in run]) if run else []):
            allele, job = alleles[0], jobs[i]
            if not allele.entries:
                name = "Pangolin" if job.model == "pangolin" else "SpliceAI"
                why = f": {allele.reason}" if allele.reason else ""
                out[i] = RequestError(f"{job.chrom}:{job.pos} {clip(job.ref)}>{clip(job.alt)} got no {name} score{why}")
                continue
            if job.model == "pangolin":
                from nucleoforge.serve.pangolin import pangolin_result

                out[i] = pangolin_result(scorer, job, allele.records, allele.tracks, "nucleoforge:model")
            else:
                out[i] = self._result(job, allele.records, allele.tracks, "nucleoforge:model")
        return out

    def _result(self, job: Any, records: list[Any], tracks: list | None, source: str) -> dict:
        """The SpliceAI-lookup-shaped answer of ``job`` from its delta-score records
        (:class:`~nucleoforge.splicing.rules_spliceai.DeltaScores`, one per gene) and, when the
        model ran, their tracks (thread-safe: it reads the gene table only)."""
        genome, distance = job.genome, job.distance
        _, fasta, genes = self.genomes[genome]
        gene_ids = genes.overlapping(job.chrom, job.pos)
        scores = []
        lo = job.pos - distance
        for k, (gi, record) in enumerate(zip(gene_ids, records)):
            g = genes[gi]
            row: dict[str, Any] = {"g_name": g.symbol or g.name, "g_id": "", "t_id": g.transcript_id or "",
                                   "t_strand": g.strand, "TX_START": g.tx_start + 1, "TX_END": g.tx_end,
                                   "EXON_STARTS": [s + 1 for s in g.exon_starts], "EXON_ENDS": list(g.exon_ends),
                                   "ENTRY": str(record)}  # fmt: skip
            names = ["AG", "AL", "DG", "DL"]
            for n, v in zip(names, record.ds_text):
                row[f"DS_{n}"] = v
            for n, v in zip(names, record.dp if record.dp is not None else [None] * 4):
                row[f"DP_{n}"] = v
            track = tracks[k] if tracks is not None else None
            if track is not None:
                y_ref, y_alt = track
                for n, cls in zip(names, (1, 1, 2, 2)):
                    i = row[f"DP_{n}"] + distance
                    row[f"DS_{n}_REF"], row[f"DS_{n}_ALT"] = f"{float(y_ref[i, cls]):.2f}", f"{float(y_alt[i, cls]):.2f}"
                row["REF_ACCEPTOR"] = [round(float(v), 4) for v in y_ref[:, 1]]
                row["ALT_ACCEPTOR"] = [round(float(v), 4) for v in y_alt[:, 1]]
                row["REF_DONOR"] = [round(float(v), 4) for v in y_ref[:, 2]]
                row["ALT_DONOR"] = [round(float(v), 4) for v in y_alt[:, 2]]
            scores.append(row)
        non_zero = None
        first = next((r for r in scores if "REF_ACCEPTOR" in r), None)
        if first is not None:
            non_zero = [{"pos": lo + i, "RA": f"{ra:.2f}", "AA": f"{aa:.2f}", "RD": f"{rd:.2f}", "AD": f"{ad:.2f}"}
                        for i, (ra, aa, rd, ad) in enumerate(zip(first["REF_ACCEPTOR"], first["ALT_ACCEPTOR"],
                                                                 first["REF_DONOR"], first["ALT_DONOR"]))
                        if max(ra, aa, rd, ad) >= 0.01]  # fmt: skip
        return {"variant": f"{job.chrom}-{job.pos}-{job.ref}-{job.alt}", "genomeVersion": genome, "chrom": job.chrom,
                "pos": job.pos, "ref": job.ref, "alt": job.alt, "distance": distance, "mask": int(bool(job.mask)),
                "scores": scores, "source": source, "allNonZeroScores": non_zero,
                "allNonZeroScoresTranscriptId": first["t_id"] if first else None,
                "allNonZeroScoresStrand": first["t_strand"] if first else None}  # fmt: skip
