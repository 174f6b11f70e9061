"""GTF and GFF3 files read into transcripts: ``exon`` lines grouped by (chromosome, strand,
transcript ID), with the line-level checks and the warning kinds both formats share. The rules
that turn these transcripts into genes, and the tables, are in :mod:`nucleoforge.io.annotation`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.fasta import open_text

__all__ = ["AnnotationWarning", "WARNING_KINDS", "read_gtf_transcripts", "read_gff3_transcripts", "looks_like_gtf"]

#: ``{(chrom, strand, transcript_id): {"exons": [(start, end, line)], "canonical", "gene", "gene_name",
#: "line"}}``: 0-based half-open exons; ``line`` is the transcript's first exon line.
Transcripts = dict[tuple[str, str, str], dict]


#: tags that make a transcript its gene's canonical one (GTF ``tag "…"``, GFF3 ``tag=…``)
_CANONICAL_TAGS = ("Ensembl_canonical", "MANE_Select", "canonical")

#: GTF/GFF3 strand values meaning "not known": ``.`` (not given) and ``?`` (unknown)
NO_STRAND = (".", "?")
_STRANDS = frozenset(("+", "-", *NO_STRAND))

#: warning kinds of a GTF/GFF3 table, in report order: (noun counted, what was done)
WARNING_KINDS: dict[str, tuple[str, str]] = {
    "no_strand": ("transcript", "without a strand ('.' or '?'): skipped"),
    "overlapping_exons": ("transcript", "with overlapping or touching exons: skipped"),
    "undefined_parent": ("exon", "whose Parent is never defined: dropped"),
    "reused_transcript_id": ("transcript ID",
                             "used at more than one place (chromosome, strand): one transcript per place"),
    "gene_at_several_places": ("gene ID", "at more than one place (chromosome, strand): one entry per place"),
}


@dataclass(frozen=True)
class AnnotationWarning:
    """One kind of problem met while reading a GTF/GFF3 (a key of :data:`WARNING_KINDS`), how
    often it occurred, and where first.

    >>> w = AnnotationWarning("no_strand", "a.gtf", 2, "t1 at a.gtf:5")
    >>> w.message
    "a.gtf: 2 transcripts without a strand ('.' or '?'): skipped; first: t1 at a.gtf:5"
    """

    kind: str
    source: str
    count: int
    first: str  # the first occurrence, naming file:line

    @property
    def body(self) -> str:
        """The message without the file name in front."""
        noun, done = WARNING_KINDS[self.kind]
        return f"{self.count} {noun}{'' if self.count == 1 else 's'} {done}; first: {self.first}"

    @property
    def message(self) -> str:
        """One line: file, count, what was done, first place."""
        return f"{self.source}: {self.body}"

    def __str__(self) -> str:
        return self.message


class Findings:
    """Counts of each warning kind while a table is read, with the first occurrence of each."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._seen: dict[str, list] = {}  # kind -> [count, first]

    def add(self, kind: str, where: str) -> None:
        self._seen.setdefault(kind, [0, where])[0] += 1

    def warnings(self) -> tuple[AnnotationWarning, ...]:
        return tuple(AnnotationWarning(k, self.source, *self._seen[k]) for k in WARNING_KINDS if k in self._seen)


def read_gtf_transcripts(path: str | os.PathLike) -> Transcripts:
    """The transcripts of a GTF (see :meth:`~nucleoforge.io.annotation.GeneTable.read_gtf` for the checks)."""
    tx: Transcripts = {}
    other_types: set[str] = set()
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1:
                line = line.lstrip("\ufeff")
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 9:
                raise NucleoforgeError(f"{path}:{lineno}: expected 9 tab-separated GTF columns, got {len(cols)}")
            if cols[2] != "exon":
                other_types.add(cols[2])
                continue
            attrs = cols[8]
            tid = _gtf_attr(attrs, "transcript_id")
            if tid is None:
                raise NucleoforgeError(f"{path}:{lineno}: exon without transcript_id")
            start, end = _exon_span(path, lineno, cols)
            strand = cols[6] if cols[6] in _STRANDS else _exon_strand(path, lineno, cols[6])
            entry = tx.get((cols[0], strand, tid))
            if entry is None:
                gene_id = _gtf_attr(attrs, "gene_id") or tid
                entry = tx[(cols[0], strand, tid)] = {
                    "exons": [], "canonical": False, "line": lineno,
                    "gene": gene_id, "gene_name": _gtf_attr(attrs, "gene_name") or gene_id}
            entry["exons"].append((start, end, lineno))
            if any(f'tag "{t}"' in attrs for t in _CANONICAL_TAGS):
                entry["canonical"] = True
    if not tx:
        raise NucleoforgeError(f"{path}: no 'exon' lines (feature types found: {_types(other_types)}); "
                               "transcripts are built from exon lines")
    return tx


def read_gff3_transcripts(path: str | os.PathLike, findings: Findings) -> Transcripts:
    """The transcripts of a GFF3 (see :meth:`~nucleoforge.io.annotation.GeneTable.read_gff3`); exons whose
    ``Parent`` is never defined are counted in ``findings``."""
    exons: dict[str, list[tuple[str, str, int, int, int]]] = {}
    features: dict[str, dict[str, str]] = {}  # ID -> attributes (+ "_type") of non-exon features
    other_types: set[str] = set()
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1:
                line = line.lstrip("\ufeff")
            if line.startswith("##FASTA"):
                break
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 9:
                raise NucleoforgeError(f"{path}:{lineno}: expected 9 tab-separated GFF3 columns, got {len(cols)}")
            attrs = {}
            for item in cols[8].strip().rstrip(";").split(";"):
                key, eq, value = item.strip().partition("=")
                if eq:
                    attrs[key] = value
            if cols[2] == "exon":
                parents = attrs.get("Parent")
                if not parents:
                    raise NucleoforgeError(f"{path}:{lineno}: exon without a Parent attribute")
                span = _exon_span(path, lineno, cols)
                strand = cols[6] if cols[6] in _STRANDS else _exon_strand(path, lineno, cols[6])
                for parent in parents.split(","):
                    exons.setdefault(unquote(parent), []).append((cols[0], strand, *span, lineno))
            else:
                other_types.add(cols[2])
                if "ID" in attrs:
                    features[unquote(attrs["ID"])] = {**attrs, "_type": cols[2]}
    if not exons:
        raise NucleoforgeError(f"{path}: no 'exon' features (feature types found: {_types(other_types)}); "
                               "transcripts are built from exon features")
    tx: Transcripts = {}
    for tid, rows in exons.items():
        feature = features.get(tid)
        if feature is None:
            for *_, lineno in rows:
                findings.add("undefined_parent", f"Parent={tid} at {path}:{lineno}")
            continue
        gene_id = unquote(feature.get("Parent", "").split(",")[0]) or tid
        gene = features.get(gene_id, {}) if gene_id != tid else feature
        tags = unquote(feature.get("tag", "")).split(",")
        for chrom, strand, s, e, lineno in rows:
            entry = tx.get((chrom, strand, tid))
            if entry is None:
                entry = tx[(chrom, strand, tid)] = {
                    "exons": [], "canonical": any(t in tags for t in _CANONICAL_TAGS), "line": lineno,
                    "gene": gene_id, "gene_name": unquote(gene.get("Name", "")) or gene_id}
            entry["exons"].append((s, e, lineno))
    return tx


def _exon_span(path: str | os.PathLike, lineno: int, cols: list[str]) -> tuple[int, int]:
    """0-based half-open span of a GTF/GFF3 line (columns 4 and 5 are 1-based, inclusive)."""
    try:
        start, end = int(cols[3]), int(cols[4])
    except ValueError:
        raise NucleoforgeError(f"{path}:{lineno}: start/end are not integers: {cols[3]!r}, {cols[4]!r}") from None
    if start < 1:
        raise NucleoforgeError(f"{path}:{lineno}: start {start} is below 1 (positions are 1-based)")
    if end < start:
        raise NucleoforgeError(f"{path}:{lineno}: end {end} is before start {start}")
    return start - 1, end


def _exon_strand(path: str | os.PathLike, lineno: int, strand: str) -> str:
    if strand in _STRANDS:
        return strand
    raise NucleoforgeError(f"{path}:{lineno}: strand must be +, -, . or ?, got {strand!r}")


def _types(types: set[str]) -> str:
    return ", ".join(sorted(types)) or "none"


def looks_like_gtf(path: Path) -> bool:
    """Whether the first feature line of a ``.gff`` file has GTF attributes (``key "value";``)."""
    with open_text(path) as fh:
        for line in fh:
            line = line.lstrip("\ufeff")
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            return len(cols) >= 9 and "=" not in cols[8].split(";")[0]
    return False


def _gtf_attr(attrs: str, key: str) -> str | None:
    i = attrs.find(key + " ")
    if i < 0:
        return None
    rest = attrs[i + len(key) + 1 :].lstrip()
    if rest.startswith('"'):
        return rest[1 : rest.index('"', 1)]
    return rest.split(";")[0].strip()
