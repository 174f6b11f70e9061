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
after the indel rules) for the page's plot.

>>> parse_variant("chr8-140300616-T-G")
('8', 140300616, 'T', 'G')
>>> parse_variant("22:20000146 g>a")
('22', 20000146, 'G', 'A')
>>> parse_variant("X 1234 AC A")
('X', 1234, 'AC', 'A')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["GenomeSpec", "RequestError", "LookupService", "parse_variant"]

_VARIANT = re.compile(r"^\s*(?:chr)?([0-9A-Za-z_.]+)[\s:-]+([0-9][0-9,]*)[\s:-]+([ACGTNacgtn]+)[\s:>-]+([ACGTNacgtn]+)\s*$")


class RequestError(ValueError):
    """A request the service refuses: ``str(exc)`` is the message, ``status`` the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_variant(text: str) -> tuple[str, int, str, str]:
    """``(chrom without 'chr', pos, REF, ALT)`` from ``chrom-pos-ref-alt``, ``chrom:pos ref>alt``
    or ``chrom pos ref alt``; :class:`RequestError` otherwise."""
    m = _VARIANT.match(text or "")
    if not m:
        raise RequestError(f"cannot parse variant {text!r}: expected chrom-pos-ref-alt (e.g. chr8-140300616-T-G), "
                           "chrom:pos ref>alt or chrom pos ref alt")  # fmt: skip
    chrom, pos, ref, alt = m.groups()
    pos_i = int(pos.replace(",", ""))
    if pos_i < 1:
        raise RequestError(f"variant {text!r}: position must be >= 1")
    return chrom, pos_i, ref.upper(), alt.upper()


@dataclass(frozen=True)
class GenomeSpec:
    """One served genome: ``name`` (the ``hg`` value, e.g. ``37``), its FASTA and annotation."""

    name: str
    reference: str
    annotation: str


class LookupService:
    """Scores for the server's worker thread (:meth:`score` is not thread-safe by design: only
    the worker calls it). One :class:`~nucleoforge.splicing.scoring.VariantScorer` per (genome,
    distance, mask), built on first use and kept."""

    def __init__(self, genomes: Sequence[GenomeSpec], model: Any, *, cache: str | None = None, max_distance: int = 4999,
                 batch_size: int = 16, device: str | None = None) -> None:
        from nucleoforge.io.annotation import GeneTable
        from nucleoforge.io.genome import Genome

        self.model, self.cache_path, self.max_distance = model, cache, max_distance
        self.batch_size, self.device = batch_size, device
        self.genomes: dict[str, tuple[GenomeSpec, Any, Any]] = {}
        for spec in genomes:
            genes = GeneTable.load(spec.annotation)
            self.genomes[spec.name] = (spec, Genome(spec.reference), genes)
        self._scorers: dict[tuple[str, int, bool], Any] = {}

    # -- checks any thread may run (no file access) -------------------------------------------
    def check_request(self, genome: str, distance: int, mask: int) -> None:
        if genome not in self.genomes:
            raise RequestError(f"hg={genome!r}: this server has genome(s) {', '.join(sorted(self.genomes))}")
        if not 0 <= distance <= self.max_distance:
            raise RequestError(f"distance={distance}: expected an integer from 0 to {self.max_distance}")
        if mask not in (0, 1):
            raise RequestError(f"mask={mask}: expected 0 (raw scores) or 1 (masked)")

    # -- worker thread ---------------------------------------------------------------------------
    def _scorer(self, genome: str, distance: int, mask: bool) -> Any:
        key = (genome, distance, mask)
        if key not in self._scorers:
            from nucleoforge.splicing.scoring import VariantScorer, cache_setting

            _, fasta, genes = self.genomes[genome]
            scorer = VariantScorer(self.model, fasta, genes, distance=distance, mask=mask, batch_size=self.batch_size,
                                   device=self.device, transcript_entries=all(g.transcript_id for g in genes))
            if self.cache_path:
                from nucleoforge.io.score_cache import ScoreCache

                scorer.cache = ScoreCache(self.cache_path, cache_setting(scorer))
            self._scorers[key] = scorer
        return self._scorers[key]

    def close(self) -> None:
        for scorer in self._scorers.values():
            if scorer.cache is not None:
                scorer.cache.close()

    def _check_variant(self, scorer: Any, genome: str, chrom: str, pos: int, ref: str) -> str:
        """The variant's chromosome as the FASTA names it, or the reason it cannot be scored."""
        spec, fasta, genes = self.genomes[genome]
        if chrom not in fasta:
            raise RequestError(f"chromosome {chrom!r} is not in the reference of genome {genome} ({spec.reference})")
        name = fasta.resolve(chrom)
        length = fasta.lengths[name]
        if pos + len(ref) - 1 > length:
            raise RequestError(f"position {chrom}:{pos} is beyond the end of {name} (length {length:,})")
        has = fasta.fetch(name, pos - 1, pos - 1 + len(ref)).upper()
        if has != ref:
            raise RequestError(f"REF {ref} does not match the reference of genome {genome} at {chrom}:{pos}: the reference has {has}")
        if not genes.overlapping(chrom, pos):
            raise RequestError(f"no gene of the annotation {spec.annotation} overlaps {chrom}:{pos}: SpliceAI scores "
                               "need a variant inside an annotated transcript")  # fmt: skip
        half = scorer.wid // 2
        if pos - half - 1 < 0 or pos + half > length:
            raise RequestError(f"{chrom}:{pos} is too close to the end of {name}: the {scorer.wid:,}-nt window of "
                               f"distance {scorer.distance} passes it")  # fmt: skip
        if len(ref) > 2 * scorer.distance:
            raise RequestError(f"REF of {len(ref)} nt is longer than 2 x distance ({2 * scorer.distance}): raise distance")
        return name

    def score(self, setting: tuple[str, int, bool, bool], jobs: Sequence[Any]) -> list[Any]:
        """Results (dicts) or :class:`RequestError` per job, all under one ``setting``."""
        from nucleoforge.splicing.scoring import VariantInput

        genome, distance, mask, tracks = setting
        scorer = self._scorer(genome, distance, mask)
        out: list[Any] = [None] * len(jobs)
        todo, keys = [], {}
        for i, job in enumerate(jobs):
            try:
                chrom = self._check_variant(scorer, genome, job.chrom, job.pos, job.ref)
            except RequestError as exc:
                out[i] = exc
                continue
            keys[i] = (chrom, job.pos, job.ref, job.alt)
            todo.append(i)
        cached = scorer.cache.lookup([keys[i] for i in todo]) if scorer.cache is not None and not tracks else {}
        run = [i for i in todo if keys[i] not in cached]
        for i in todo:
            if keys[i] in cached:
                out[i] = self._result(genome, scorer, jobs[i], cached[keys[i]], None, "nucleoforge:cache")
        if run:
            inputs = [VariantInput(keys[i][0], jobs[i].pos, jobs[i].ref, [jobs[i].alt]) for i in run]
            scored = scorer.score_with_tracks(inputs)
            new = []
            for i, res in zip(run, scored):
                if res is None:
                    out[i] = RequestError(f"{jobs[i].chrom}:{jobs[i].pos} {jobs[i].ref}>{jobs[i].alt} got no SpliceAI score")
                    continue
                entries, track = res
                new.append((keys[i], entries))
                out[i] = self._result(genome, scorer, jobs[i], entries, track, "nucleoforge:model")
            if scorer.cache is not None:
                scorer.cache.store(new)
        return out

    def _result(self, genome: str, scorer: Any, job: Any, entries: list[str], tracks: list | None, source: str) -> dict:
        _, fasta, genes = self.genomes[genome]
        gene_ids = genes.overlapping(job.chrom, job.pos)
        scores = []
        lo = job.pos - scorer.distance
        for k, (gi, entry) in enumerate(zip(gene_ids, entries)):
            g = genes[gi]
            fields = entry.split("|")
            values = fields[3:] if scorer.transcript_entries else fields[2:]
            row: dict[str, Any] = {"g_name": g.symbol or g.name, "g_id": "", "t_id": g.transcript_id or "",
                                   "t_strand": g.strand, "TX_START": g.tx_start + 1, "TX_END": g.tx_end,
                                   "EXON_STARTS": [s + 1 for s in g.exon_starts], "EXON_ENDS": list(g.exon_ends),
                                   "ENTRY": entry}  # fmt: skip
            names = ["AG", "AL", "DG", "DL"]
            for n, v in zip(names, values[:4]):
                row[f"DS_{n}"] = v
            for n, v in zip(names, values[4:]):
                row[f"DP_{n}"] = int(v) if v != "." else None
            track = tracks[k] if tracks is not None else None
            if track is not None:
                y_ref, y_alt = track
                for n, cls in zip(names, (1, 1, 2, 2)):
                    i = row[f"DP_{n}"] + scorer.distance
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
                "pos": job.pos, "ref": job.ref, "alt": job.alt, "distance": scorer.distance, "mask": int(scorer.mask),
                "scores": scores, "source": source, "allNonZeroScores": non_zero,
                "allNonZeroScoresTranscriptId": first["t_id"] if first else None,
                "allNonZeroScoresStrand": first["t_strand"] if first else None}  # fmt: skip
