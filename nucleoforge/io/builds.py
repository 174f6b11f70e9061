"""Genome builds: the GRCh37/GRCh38 chromosome lengths, and the check that a run's reference,
annotation and VCF belong to the same build, made before anything is scored.

Scoring GRCh38 variants against a GRCh37 FASTA (or a GRCh38 gene table on a GRCh37 reference)
raises no error by itself: every position exists, so the wrong bases and genes are scored. The
check looks for evidence that can be read cheaply:

* **lengths** — a build named by the annotation (``grch37``/``grch38``, a GTF/GFF3
  ``#!genome-build`` line) or by the VCF (a ``##reference``/``##assembly`` line naming
  GRCh37/hg19/b37 or GRCh38/hg38, or ``##contig`` lengths equal to one build's) is contradicted
  by a FASTA chromosome *longer* than that build's, or of exactly the *other* build's length.
  A shorter one may be an excerpt: no verdict. A FASTA chromosome longer than the VCF's own
  ``##contig`` length contradicts the VCF.
* **content** — annotated introns begin with GT and end with AG (on their strand) in the right
  reference; at least :data:`MIN_INTRONS` introns of the genes the run touches (then of genes
  near them, then of genes sampled across the reference's chromosomes) are read, ignoring
  introns whose end bases are N or lie outside the FASTA; fewer than half GT-AG is a
  contradiction. This works for excerpts, custom tables and other species.

>>> length_conflict({"chr22": 51_304_566}, "GRCh38")
'chr22 is 51,304,566 nt here, 50,818,468 in GRCh38'
>>> length_conflict({"22": 21_000_000}, "GRCh38") is None  # shorter: possibly an excerpt
True
>>> build_named("##reference=file:///refs/human_g1k_v37.fasta"), build_named("UCSC hg38"), build_named("mm10")
('GRCh37', 'GRCh38', None)
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import numpy as np

from nucleoforge.errors import NucleoforgeError


__all__ = [
    "GRCH37_LENGTHS", "GRCH38_LENGTHS", "BUILD_LENGTHS", "MIN_INTRONS", "VCF_RECORDS", "BuildReport", "IntronTally",
    "VcfFacts",
    "build_named", "annotation_build", "read_vcf_facts", "length_conflict", "contig_conflict",
    "intron_tally", "check_build",
]  # fmt: skip

_log = logging.getLogger(__name__)

#: GRCh37 primary assembly (GCA_000001405.1; UCSC hg19 chrom.sizes, b37 ``##contig`` lines).
#: MT is the rCRS (NC_012920); UCSC hg19's chrM is the older NC_001807 of 16,571 nt.
GRCH37_LENGTHS: dict[str, int] = {
    "1": 249_250_621, "2": 243_199_373, "3": 198_022_430, "4": 191_154_276, "5": 180_915_260,
    "6": 171_115_067, "7": 159_138_663, "8": 146_364_022, "9": 141_213_431, "10": 135_534_747,
    "11": 135_006_516, "12": 133_851_895, "13": 115_169_878, "14": 107_349_540, "15": 102_531_392,
    "16": 90_354_753, "17": 81_195_210, "18": 78_077_248, "19": 59_128_983, "20": 63_025_520,
    "21": 48_129_895, "22": 51_304_566, "X": 155_270_560, "Y": 59_373_566, "MT": 16_569,
}  # fmt: skip

#: GRCh38 primary assembly (GCA_000001405.15; UCSC hg38 chrom.sizes). MT is the rCRS.
GRCH38_LENGTHS: dict[str, int] = {
    "1": 248_956_422, "2": 242_193_529, "3": 198_295_559, "4": 190_214_555, "5": 181_538_259,
    "6": 170_805_979, "7": 159_345_973, "8": 145_138_636, "9": 138_394_717, "10": 133_797_422,
    "11": 135_086_622, "12": 133_275_309, "13": 114_364_328, "14": 107_043_718, "15": 101_991_189,
    "16": 90_338_345, "17": 83_257_441, "18": 80_373_285, "19": 58_617_616, "20": 64_444_167,
    "21": 46_709_983, "22": 50_818_468, "X": 156_040_895, "Y": 57_227_415, "MT": 16_569,
}  # fmt: skip

BUILD_LENGTHS: dict[str, dict[str, int]] = {"GRCh37": GRCH37_LENGTHS, "GRCh38": GRCH38_LENGTHS}
#: lengths a build's chromosome may also have (hg19's chrM)
_ALSO: dict[tuple[str, str], int] = {("GRCh37", "MT"): 16_571}

#: fewest judged introns for a verdict of the content check
MIN_INTRONS = 20
#: judged introns after which the content check stops reading
_ENOUGH_INTRONS = 200
#: introns read at most (N or outside the FASTA included): keeps the check well under a second
_MAX_VISITS = 6_000
#: VCF records whose positions name "the genes the run touches"
VCF_RECORDS = 10_000

_BUILD_NAMES = (
    ("GRCh37", re.compile(r"(?i)(grch37|hg19|hs37d5|(?<![0-9a-z])b37(?![0-9])|g1k_v37|(?<![0-9a-z])37\.p\d+)")),
    ("GRCh38", re.compile(r"(?i)(grch38|hg38|hs38|(?<![0-9a-z])b38(?![0-9])|(?<![0-9a-z])38\.p\d+)")),
)


def build_named(text: str) -> Optional[str]:
    """``"GRCh37"``/``"GRCh38"`` when ``text`` names exactly one of them (GRCh37, hg19, b37,
    hs37d5, human_g1k_v37; GRCh38, hg38, b38, hs38), else ``None``."""
    found = {build for build, pattern in _BUILD_NAMES if pattern.search(text or "")}
    return found.pop() if len(found) == 1 else None


def _chrom_key(name: str) -> str:
    """The key of :data:`GRCH37_LENGTHS` for a record name: ``chr22`` -> ``22``, ``chrM`` -> ``MT``."""
    bare = name[3:] if name.lower().startswith("chr") else name
    return "MT" if bare.upper() in ("M", "MT") else bare.upper() if bare.upper() in ("X", "Y") else bare


def annotation_build(annotation: str | os.PathLike) -> tuple[Optional[str], str]:
    """``(build, what named it)`` for an annotation: ``grch37``/``grch38`` themselves, or a GTF/GFF3
    whose header has a ``#!genome-build`` (or ``##genome-build``) line naming one; ``(None, "")``
    otherwise."""
    text = str(annotation)
    if text in ("grch37", "grch38"):
        return ("GRCh37" if text == "grch37" else "GRCh38"), f"annotation {text}"
    path = Path(text)
    if not path.is_file():
        return None, ""
    from nucleoforge.io.fasta import open_text

    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.startswith("#") or lineno > 500:
                    break
                key = line.lstrip("#!").split(None, 1)
                if key and key[0].lower() == "genome-build" and len(key) > 1:
                    build = build_named(key[1])
                    if build:
                        return build, f"the {line.split()[0]} line of {text} ({key[1].strip()})"
    except (OSError, UnicodeDecodeError, EOFError):
        return None, ""  # the loader reports unreadable files
    return None, ""


@dataclass
class VcfFacts:
    """What a VCF says about its build: a build named by ``##reference``/``##assembly`` (and the
    line), ``##contig`` lengths, and ``(chrom, pos)`` of its first records."""

    path: str
    build: Optional[str] = None
    build_line: str = ""
    contigs: dict[str, int] = field(default_factory=dict)
    positions: list[tuple[str, int]] = field(default_factory=list)


def read_vcf_facts(path: str | os.PathLike, records: int = VCF_RECORDS) -> Optional[VcfFacts]:
    """The header facts and the first ``records`` positions of a VCF/BCF file; ``None`` for a
    stream (stdin, a pipe), which cannot be read twice."""
    text = str(path)
    if text in ("-", "/dev/stdin") or not os.path.isfile(text):
        return None
    from nucleoforge.io.vcf import VcfFormatError, open_vcf
    from nucleoforge.io.vcf_records import iter_vcf_records

    facts = VcfFacts(text)
    vcf = open_vcf(text)
    try:
        for rec in vcf.header.records:
            if rec.key in ("reference", "assembly") and rec.value and facts.build is None:
                facts.build = build_named(rec.value)
                if facts.build:
                    facts.build_line = f"##{rec.key}={rec.value}"
        for name, contig in vcf.header.contigs.items():
            if contig.length:
                facts.contigs[name] = int(contig.length)
        try:
            for n, rec in enumerate(iter_vcf_records(vcf, text)):
                if n >= records:
                    break
                facts.positions.append((rec.chrom, rec.pos))
        except VcfFormatError:
            pass  # reported by the scorer in its place, after the records before it are written
    finally:
        vcf.close()
    return facts


def length_conflict(lengths: Mapping[str, int], build: str) -> Optional[str]:
    """``"22 is 51,304,566 nt here, 50,818,468 in GRCh38"`` for the first chromosome of ``lengths``
    (a FASTA's) that contradicts ``build``: longer than the build's, or exactly the other
    build's length; ``None`` when none does (shorter ones may be excerpts)."""
    table = BUILD_LENGTHS[build]
    others = [t for b, t in BUILD_LENGTHS.items() if b != build]
    for name, n in lengths.items():
        key = _chrom_key(name)
        want = table.get(key)
        if want is None or n == want or n == _ALSO.get((build, key)):
            continue
        if n > want or any(n == other.get(key) for other in others):
            return f"{name} is {n:,} nt here, {want:,} in {build}"
    return None


def contig_conflict(lengths: Mapping[str, int], contigs: Mapping[str, int]) -> Optional[str]:
    """``"22 is 51,304,566 nt here, 21,000,000 there"`` for the first FASTA chromosome longer than
    the VCF's ``##contig`` length of it (a shorter FASTA record may be an excerpt)."""
    from nucleoforge.io.genome import normalise_chrom

    for name, declared in contigs.items():
        fasta_name = normalise_chrom(name, lengths)
        n = lengths.get(fasta_name)
        if n is not None and n > declared:
            return f"{fasta_name} is {n:,} nt here, {declared:,} there"
    return None


def _contig_build(contigs: Mapping[str, int]) -> Optional[str]:
    """The build whose lengths the VCF's ``##contig`` lines have (one build only, MT aside)."""
    found = set()
    for name, n in contigs.items():
        key = _chrom_key(name)
        if key == "MT":
            continue
        found |= {b for b, table in BUILD_LENGTHS.items() if table.get(key) == n}
    return found.pop() if len(found) == 1 else None


@dataclass
class IntronTally:
    """Introns judged by the content check: ``gtag`` of ``judged`` read GT-AG; ``from_run`` of the
    judged ones belong to genes the run touches."""

    gtag: int = 0
    judged: int = 0
    from_run: int = 0
    visited: int = 0


def _gene_order(genome: Any, genes: Any, positions: Iterable[tuple[str, int]]) -> tuple[list[int], int]:
    """Gene indices to read, and how many of the first are genes the run touches: genes overlapping
    ``positions``, then genes nearest them on their chromosomes, then the others spread across
    the reference's chromosomes (seeded shuffle per chromosome, taken in turn)."""
    per_chrom: dict[str, list[int]] = {}
    for pos_chrom, pos in positions:
        chrom = genes.resolve(pos_chrom)
        if chrom in genome:
            per_chrom.setdefault(chrom, []).append(pos)
    touched: dict[int, None] = {}
    near: list[tuple[int, int]] = []
    for chrom, pos_list in per_chrom.items():
        ids, starts, ends = genes._by_chrom[chrom]
        pts = np.unique(np.asarray(pos_list, dtype=np.int64))
        for i in np.flatnonzero(_overlaps(starts, ends, pts)):
            touched[int(ids[i])] = None
        mid = (starts + ends) // 2
        k = np.clip(np.searchsorted(pts, mid), 1, len(pts)) - 1
        dist = np.minimum(np.abs(mid - pts[k]), np.abs(mid - pts[np.minimum(k + 1, len(pts) - 1)]))
        near.extend((int(d), int(g)) for d, g in zip(dist, ids))
    order = list(touched)
    seen = set(order)
    for _, g in sorted(near):
        if g not in seen:
            order.append(g)
            seen.add(g)
    rng = np.random.default_rng(0)
    queues = []
    for chrom in genes.chroms:
        if chrom in genome:
            ids = genes._by_chrom[chrom][0]
            queues.append([int(g) for g in rng.permutation(ids) if int(g) not in seen])
    for row in range(max((len(q) for q in queues), default=0)):
        order.extend(q[row] for q in queues if row < len(q))
    return order, len(touched)


def _overlaps(starts: np.ndarray, ends: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Whether each transcript ``(start, end]`` (1-based positions) holds one of the sorted ``pts``."""
    first = np.searchsorted(pts, starts, side="right")  # first point > start
    return (first < len(pts)) & (pts[np.minimum(first, len(pts) - 1)] <= ends)


def intron_tally(genome: Any, genes: Any, positions: Iterable[tuple[str, int]] = ()) -> IntronTally:
    """Read the end bases of annotated introns (see the module docstring) until
    :data:`_ENOUGH_INTRONS` are judged or :data:`_MAX_VISITS` were read."""
    order, n_touched = _gene_order(genome, genes, positions)
    tally = IntronTally()
    for rank, index in enumerate(order):
        if tally.judged >= _ENOUGH_INTRONS or tally.visited >= _MAX_VISITS:
            break
        gene = genes[index]
        chrom = genome.resolve(gene.chrom)
        size = genome.lengths[chrom]
        for start, end in gene.introns:
            tally.visited += 1
            if end - start < 4 or start < 0 or end > size:
                continue
            head = genome.fetch(chrom, start, start + 2).upper()
            if not _acgt(head):
                continue
            tail = genome.fetch(chrom, end - 2, end).upper()
            if not _acgt(tail):
                continue
            tally.judged += 1
            tally.from_run += rank < n_touched
            tally.gtag += (head, tail) == (("GT", "AG") if gene.strand == "+" else ("CT", "AC"))
    return tally


def _acgt(bases: str) -> bool:
    return len(bases) == 2 and all(b in "ACGT" for b in bases)


@dataclass
class BuildReport:
    """What :func:`check_build` found: the contradictions (one line each, empty when none) and
    the intron tally."""

    problems: list[str]
    introns: IntronTally


def check_build(reference: str | os.PathLike, annotation: str | os.PathLike, *, genome: Any = None,
                genes: Any = None, vcf: str | os.PathLike | None = None,
                positions: Iterable[tuple[str, int]] = (), allow: bool = False, action: str = "score") -> BuildReport:
    """Check that ``reference``, ``annotation`` (and ``vcf``) are of one genome build.

    ``genome``/``genes``: the already opened :class:`~nucleoforge.io.genome.Genome` and
    :class:`~nucleoforge.io.annotation.GeneTable` (else opened here). ``positions``: ``(chrom,
    1-based pos)`` the run touches besides the first :data:`VCF_RECORDS` records of ``vcf`` (a
    stream is not read: genes are then sampled across the reference). A contradiction raises
    :class:`~nucleoforge.errors.NucleoforgeError` with one line naming the evidence, unless
    ``allow`` (``--allow-build-mismatch``): then it is logged as one warning. ``action`` is the
    verb of the hint (``--allow-build-mismatch to score anyway``).
    """
    if genome is None:
        from nucleoforge.io.genome import Genome

        genome = Genome(reference)
    if genes is None:
        from nucleoforge.io.annotation import GeneTable

        genes = GeneTable.load(annotation)
    hint = f"--allow-build-mismatch to {action} anyway"
    lengths = genome.lengths
    problems: list[str] = []
    facts = read_vcf_facts(vcf) if vcf is not None else None
    named: list[tuple[str, str]] = []
    build, source = annotation_build(annotation)
    if build:
        named.append((build, source))
    if facts is not None:
        if facts.build:
            named.append((facts.build, f"the {facts.build_line.split('=')[0]} line of {facts.path}"))
        contig_build = _contig_build(facts.contigs)
        if contig_build:
            named.append((contig_build, f"the ##contig lengths of {facts.path}"))
    for build, source in named:
        found = length_conflict(lengths, build)
        if found:
            problems.append(f"reference {reference}: {found}, named by {source}")
            break
    if facts is not None and not problems:
        found = contig_conflict(lengths, facts.contigs)
        if found:
            problems.append(f"reference {reference}: {found}, in the ##contig line of {facts.path}")
    tally = IntronTally()
    if not problems:
        tally = intron_tally(genome, genes, [*positions, *(facts.positions if facts is not None else ())])
        if tally.judged >= MIN_INTRONS and 2 * tally.gtag < tally.judged:
            whose = ("the genes in this run" if tally.from_run == tally.judged else
                     "genes sampled across the reference" if tally.from_run == 0 else
                     "the genes in this run and genes near them")
            problems.append(f"annotation {annotation} on reference {reference}: {tally.gtag} of {tally.judged} "
                            f"annotated introns of {whose} have GT-AG at their ends in the reference: "
                            "annotation and reference do not match")
    if problems and not allow:
        raise NucleoforgeError(f"{problems[0]} ({hint})")
    for problem in problems:
        _log.warning("--allow-build-mismatch: going on despite a build mismatch: %s", problem)
    return BuildReport(problems, tally)
