"""Promoter-vs-non-promoter windows from a reference and a gene table (GeneBERT's first
downstream task, on data one has locally).

Positives: the ``core`` bp around each distinct transcription start site, read 5'→3' on the
transcript's strand — ``upstream`` bases before the TSS, the TSS, and the rest after it
(DNABERT's Prom-core window −34 … +35, 70 bp, by default). A TSS is a transcript's
``tx_start`` (plus strand) or ``tx_end − 1`` (minus strand), 0-based.

Negatives: windows of the same width that lie at least ``min_tss_distance`` bp from every TSS
of the table and overlap no exon — in an intron (``kind="intronic"``) or between genes
(``"intergenic"``) — read on a random strand, and **GC-matched**: each promoter takes the
``negatives_per_promoter`` still unused candidate windows whose GC fraction is nearest its own,
so base composition alone cannot separate the classes (CpG dinucleotides still can: that is
the biology). Every window holds only A/C/G/T (soft-masked bases count, and are upper-cased).
A negative carries the ``group`` of the promoter it was matched to, for grouped
cross-validation.

>>> import io, tempfile, os
>>> from nucleoforge.io.annotation import GeneTable
>>> from nucleoforge.io.genome import Genome, is_region_name
>>> rng = __import__("random").Random(0)
>>> seq = "".join(rng.choice("ACGT") for _ in range(30_000))
>>> d = tempfile.mkdtemp(); fa = os.path.join(d, "g.fa")
>>> _ = open(fa, "w").write(">chr1\\n" + seq + "\\n")
>>> table = GeneTable.read(io.StringIO("#NAME\\tCHROM\\tSTRAND\\tTX_START\\tTX_END\\tEXON_START\\tEXON_END\\n"
...     "A\\t1\\t+\\t10000\\t12000\\t10000,11500,\\t10500,12000,\\n"
...     "B\\t1\\t-\\t20000\\t22000\\t20000,\\t22000,\\n"))
>>> windows = promoter_windows(Genome(fa), table, negatives_per_promoter=3)
>>> [(w.name, w.strand, w.start, len(w.sequence)) for w in windows if w.label == 1]
[('A', '+', 9966, 70), ('B', '-', 21964, 70)]
>>> windows[0].sequence == seq[9966:10036]
True
>>> sum(w.label == 0 for w in windows), sorted({w.kind for w in windows})
(6, ['intergenic', 'promoter'])
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nucleoforge.alphabet import reverse_complement
from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import Gene, GeneTable
from nucleoforge.io.genome import Genome, is_region_name

__all__ = ["PromoterWindow", "tss_sites", "promoter_windows", "write_promoter_table", "PROMOTER_COLUMNS"]

PROMOTER_COLUMNS = ("sequence", "label", "id")
_ACGT = re.compile(r"[ACGTacgt]+")


@dataclass(frozen=True)
class PromoterWindow:
    """One window: ``start`` is 0-based on the forward strand; ``sequence`` reads 5'→3' on ``strand``."""

    sequence: str
    label: int  # 1 promoter core, 0 not
    group: int  # the promoter's index; a negative carries its matched promoter's
    kind: str  # promoter | intronic | intergenic
    name: str  # gene (promoter) or the promoter it was matched to (negative)
    chrom: str
    start: int
    strand: str

    @property
    def id(self) -> str:
        """``g<group>|<kind>|<name>|<chrom>:<start>-<end>(<strand>)``, 1-based inclusive."""
        return f"g{self.group}|{self.kind}|{self.name}|{self.chrom}:{self.start + 1}-{self.start + len(self.sequence)}({self.strand})"

    @property
    def gc(self) -> float:
        return (self.sequence.count("G") + self.sequence.count("C")) / len(self.sequence)


def tss_sites(genes: Iterable[Gene]) -> list[tuple[str, int, str, str]]:
    """Distinct ``(chrom, position, strand, name)`` transcription start sites (0-based), in table order."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for g in genes:
        pos = g.tx_start if g.strand == "+" else g.tx_end - 1
        if (g.chrom, pos, g.strand) not in seen:
            seen.add((g.chrom, pos, g.strand))
            out.append((g.chrom, pos, g.strand, g.symbol or g.name))
    return out


def _window_ok(mask: np.ndarray, width: int) -> np.ndarray:
    """``ok[s]``: positions ``s … s+width-1`` are all allowed in ``mask``."""
    run = np.concatenate([[0], np.cumsum(~mask, dtype=np.int64)])
    return (run[width:] - run[:-width]) == 0


def promoter_windows(
    genome: Genome,
    genes: GeneTable,
    *,
    core: int = 70,
    upstream: int = 34,
    negatives_per_promoter: int = 10,
    min_tss_distance: int = 2000,
    candidates_per_negative: int = 400,
    seed: int = 0,
) -> list[PromoterWindow]:
    """Promoter cores and GC-matched non-promoter windows (see the module docstring).

    TSSs whose window leaves the reference or holds a non-ACGT base are skipped (so a table of
    the whole genome against an excerpt keeps the TSSs the excerpt covers). Negatives are drawn
    from the chromosomes that gave a promoter; when a chromosome has more than
    ``candidates_per_negative × needed`` allowed windows, that many are sampled first (the
    nearest-GC search runs over them). Raises ``ValueError`` when no TSS survives or
    there are too few candidate windows for the requested negatives.
    """
    if not 0 <= upstream < core:
        raise NucleoforgeError(f"upstream must be in [0, core) = [0, {core}), got {upstream}")
    if negatives_per_promoter < 0:
        raise NucleoforgeError(f"negatives_per_promoter must be ≥ 0, got {negatives_per_promoter}")
    rng = np.random.default_rng(seed)
    sites = tss_sites(genes)
    positives: list[PromoterWindow] = []
    for chrom, pos, strand, name in sites:
        if chrom not in genome:
            continue
        start = pos - upstream if strand == "+" else pos - (core - 1 - upstream)
        if start < 0 or start + core > genome.length(chrom):
            continue
        seq = genome.fetch(chrom, start, start + core)
        if _ACGT.fullmatch(seq) is None:
            continue
        seq = seq.upper() if strand == "+" else reverse_complement(seq.upper())
        positives.append(PromoterWindow(seq, 1, len(positives), "promoter", name, genome.resolve(chrom), start, strand))
    if not positives:
        hint = ""
        if any(is_region_name(c) for c in genome.chroms):
            hint = ("; its records are named chrom:start-end — place them at their coordinates first "
                    "(nucleoforge.io.genome.place_subsequence_records)")
        raise NucleoforgeError(f"no transcription start site of {genes.source} has {core} ACGT bases around it in {genome.path}{hint}")
    if negatives_per_promoter == 0:
        return positives

    # candidate negative starts per chromosome: ACGT only, no exon, far from every TSS
    need = negatives_per_promoter * len(positives)
    chroms = list(dict.fromkeys(p.chrom for p in positives))
    bases: list[str] = []
    pool_chrom, pool_start, pool_gc, pool_inside = [], [], [], []  # one entry per candidate, per chromosome
    for k, chrom in enumerate(chroms):
        n = genome.length(chrom)
        bases.append(genome.fetch(chrom, 0, n))
        codes = np.frombuffer(bases[k].upper().encode("ascii"), dtype=np.uint8)
        allowed = np.isin(codes, np.frombuffer(b"ACGT", dtype=np.uint8))
        transcribed = np.zeros(n, dtype=bool)
        table_chrom = genes.resolve(chrom)
        for g in genes:
            if g.chrom != table_chrom:
                continue
            transcribed[max(g.tx_start, 0) : g.tx_end] = True
            for s, e in zip(g.exon_starts, g.exon_ends):
                allowed[max(s, 0) : e] = False
        for c, pos, _, _ in sites:
            if c == table_chrom:
                allowed[max(pos - min_tss_distance, 0) : pos + min_tss_distance + 1] = False
        ok = np.flatnonzero(_window_ok(allowed, core))
        if len(ok) > candidates_per_negative * need:
            ok = np.sort(rng.choice(ok, size=candidates_per_negative * need, replace=False))
        gc_run = np.concatenate([[0], np.cumsum((codes == ord("G")) | (codes == ord("C")), dtype=np.int64)])
        pool_chrom.append(np.full(len(ok), k))
        pool_start.append(ok)
        pool_gc.append((gc_run[ok + core] - gc_run[ok]) / core)
        pool_inside.append(_window_ok(transcribed, core)[ok])
    starts, gc = np.concatenate(pool_start), np.concatenate(pool_gc)
    which, inside = np.concatenate(pool_chrom), np.concatenate(pool_inside)
    if len(starts) < need:
        raise NucleoforgeError(f"only {len(starts)} candidate non-promoter windows of {core} bp in {genome.path}; "
                         f"{need} needed ({negatives_per_promoter} per promoter)")  # fmt: skip
    used = np.zeros(len(gc), dtype=bool)
    negatives: list[PromoterWindow] = []
    for p in (positives[i] for i in rng.permutation(len(positives))):
        dist = np.abs(gc - p.gc) + used * 2.0  # used windows go last
        for i in np.argsort(dist, kind="stable")[:negatives_per_promoter]:
            used[i] = True
            start = int(starts[i])
            strand = "+" if rng.random() < 0.5 else "-"
            seq = bases[which[i]][start : start + core].upper()
            seq = seq if strand == "+" else reverse_complement(seq)
            negatives.append(PromoterWindow(seq, 0, p.group, "intronic" if inside[i] else "intergenic", p.name,
                                            chroms[which[i]], start, strand))  # fmt: skip
    negatives.sort(key=lambda w: (w.group, w.chrom, w.start))
    return positives + negatives


def write_promoter_table(windows: Iterable[PromoterWindow], path: str | os.PathLike) -> dict[str, Any]:
    """Write windows as a tab-separated ``sequence label id`` table (the columns
    ``nucleoforge finetune`` reads; :attr:`PromoterWindow.id` keeps group, kind and
    coordinates); returns counts and mean GC per class."""
    rows = list(windows)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(PROMOTER_COLUMNS)
        for r in rows:
            w.writerow([r.sequence, r.label, r.id])
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    gc = {lab: float(np.mean([r.gc for r in rows if r.label == lab])) if any(r.label == lab for r in rows) else None
          for lab in (1, 0)}  # fmt: skip
    return {"windows": len(rows), "kinds": kinds, "gc_promoter": gc[1], "gc_negative": gc[0]}
