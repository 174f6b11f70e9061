"""Gene annotation tables: SpliceAI's TSV format (``grch37``/``grch38`` from the ``spliceai``
wheel, or a file of the same shape) and, as alternative sources, GTF and GFF3 files.

SpliceAI table columns: ``#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END``;
``TX_START`` and the exon starts are 0-based, ends are 1-based (so ``[start, end)`` is the
0-based half-open interval); exon lists are comma-separated with a trailing comma.

>>> import io
>>> table = GeneTable.read(io.StringIO(
...     "#NAME\\tCHROM\\tSTRAND\\tTX_START\\tTX_END\\tEXON_START\\tEXON_END\\n"
...     "G1\\t22\\t+\\t99\\t400\\t99,299,\\t150,400,\\n"))
>>> gene = table[0]
>>> (gene.name, gene.tx_start, gene.tx_end, gene.introns)
('G1', 99, 400, [(150, 299)])
>>> [table[i].name for i in table.overlapping("chr22", 100)], table.overlapping("22", 99)
(['G1'], [])
>>> gene.acceptors, gene.donors  # 0-based: first base of an exon after an intron, last base before one
([299], [149])

GTF/GFF3 files: transcripts are built from ``exon`` lines grouped by (chromosome, strand, transcript
ID), so nothing is merged across chromosomes or strands. A malformed exon line raises
:class:`~nucleoforge.errors.NucleoforgeError` naming ``file:line``; what is skipped or split is
counted in :attr:`GeneTable.warnings` (kinds: :data:`WARNING_KINDS`, rules: :func:`_assemble`)
and logged once per kind, naming the first place. A file that leaves no transcript is an error.
"""

from __future__ import annotations

import importlib.util
import logging
import operator
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator, Optional

import numpy as np

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.genome import normalise_chrom

__all__ = ["AnnotationWarning", "Gene", "GeneTable", "WARNING_KINDS", "spliceai_annotation_path"]

_log = logging.getLogger(__name__)

_COLUMNS = ["#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END"]


def spliceai_annotation_path(name: str) -> Path:
    """Path of ``grch37``/``grch38`` in the installed ``spliceai`` wheel, found without importing it
    (importing ``spliceai`` installs a SIGINT handler and needs ``pkg_resources``). The
    distribution's file list is tried first, so a local ``spliceai.py`` (e.g. a script next
    to the caller) cannot shadow it."""
    import importlib.metadata

    rel = f"spliceai/annotations/{name}.txt"
    try:
        path = Path(str(importlib.metadata.distribution("spliceai").locate_file(rel)))
        if path.exists():
            return path
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("spliceai")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "annotations" / f"{name}.txt"
        if path.exists():
            return path
    raise FileNotFoundError(
        f"annotation {name!r} comes from the 'spliceai' wheel, which is not installed: "
        "pip install --no-deps spliceai==1.3.1 (or pass a table path)"
    )


@dataclass(frozen=True)
class Gene:
    """One transcript: 0-based half-open transcript and exon intervals."""

    name: str
    chrom: str
    strand: str
    tx_start: int
    tx_end: int
    exon_starts: tuple[int, ...]
    exon_ends: tuple[int, ...]
    transcript_id: Optional[str] = None  # from a GTF/GFF3 (a SpliceAI table has none)
    symbol: Optional[str] = None  # the gene's name (``name`` is the transcript ID with transcripts="all")

    @property
    def introns(self) -> list[tuple[int, int]]:
        """0-based half-open intron intervals between consecutive exons."""
        return [(e, s) for e, s in zip(self.exon_ends[:-1], self.exon_starts[1:])]

    @property
    def acceptors(self) -> list[int]:
        """0-based positions of acceptor sites: the first exonic base after each intron
        (the last exonic base before it on the minus strand)."""
        if self.strand == "+":
            return [s for _, s in self.introns]
        return [e - 1 for e, _ in self.introns]

    @property
    def donors(self) -> list[int]:
        """0-based positions of donor sites: the last exonic base before each intron
        (the first exonic base after it on the minus strand)."""
        if self.strand == "+":
            return [e - 1 for e, _ in self.introns]
        return [s for _, s in self.introns]


@dataclass
class GeneTable:
    """Genes in file order, with per-chromosome arrays for fast position look-ups.

    ``warnings``: what reading a GTF/GFF3 skipped or split, one :class:`AnnotationWarning` per
    kind (each already logged once on the ``nucleoforge.io.annotation`` logger when the file was
    read); a command that prints a summary can add ``str(w)`` for each."""

    genes: list[Gene]
    source: str = "<table>"
    warnings: tuple["AnnotationWarning", ...] = ()
    _by_chrom: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        groups: dict[str, list[int]] = {}
        for i, g in enumerate(self.genes):
            groups.setdefault(g.chrom, []).append(i)
        for chrom, idx in groups.items():
            ids = np.asarray(idx, dtype=np.int64)
            starts = np.asarray([self.genes[i].tx_start for i in idx], dtype=np.int64)
            ends = np.asarray([self.genes[i].tx_end for i in idx], dtype=np.int64)
            self._by_chrom[chrom] = (ids, starts, ends)

    def __len__(self) -> int:
        return len(self.genes)

    def __getitem__(self, i: int) -> Gene:
        return self.genes[i]

    def __iter__(self) -> Iterator[Gene]:
        return iter(self.genes)

    @property
    def warning_counts(self) -> dict[str, int]:
        """``{kind: count}`` of :attr:`warnings` (kinds: :data:`WARNING_KINDS`)."""
        return {w.kind: w.count for w in self.warnings}

    @property
    def chroms(self) -> list[str]:
        return list(self._by_chrom)

    def resolve(self, chrom: str) -> str:
        return normalise_chrom(chrom, self._by_chrom)

    def overlapping(self, chrom: str, pos: int) -> list[int]:
        """Indices (file order) of genes whose transcript contains the 1-based position ``pos``."""
        entry = self._by_chrom.get(self.resolve(chrom))
        if entry is None:
            return []
        ids, starts, ends = entry
        hit = (starts < pos) & (pos <= ends)
        return ids[hit].tolist()

    def within(self, chrom: str, start: int, end: int) -> list[int]:
        """Indices of genes whose whole transcript lies in the 0-based half-open ``[start, end)``."""
        entry = self._by_chrom.get(self.resolve(chrom))
        if entry is None:
            return []
        ids, starts, ends = entry
        return ids[(starts >= start) & (ends <= end)].tolist()

    @classmethod
    def load(cls, source: str | os.PathLike, transcripts: str = "canonical") -> "GeneTable":
        """``"grch37"``/``"grch38"`` (tables of the installed ``spliceai`` wheel), a SpliceAI-style
        TSV, or a GTF/GFF3 file, gzipped or not (one entry per transcript tagged ``Ensembl_canonical``,
        or per gene's longest transcript when no tag is present; ``transcripts="all"``: every
        transcript, named by its transcript ID). A ``.gff``/``.gff.gz`` file is read as GTF when its
        attributes look like GTF's (``transcript_id "..."``), else as GFF3. A table has one row per
        transcript already: ``transcripts`` does not change it. For a GTF/GFF3, what was skipped
        or split is in the table's :attr:`warnings` (see :meth:`read_gtf`, :meth:`read_gff3`)."""
        if transcripts not in ("canonical", "all"):
            raise NucleoforgeError(f"transcripts must be 'canonical' or 'all', got {transcripts!r}")
        if str(source) in ("grch37", "grch38"):
            source = spliceai_annotation_path(str(source))
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"annotation file not found: {path} (use grch37, grch38 or a table path)")
        name = path.name.lower()
        if name.endswith((".gtf", ".gtf.gz")) or (name.endswith((".gff", ".gff.gz")) and _looks_like_gtf(path)):
            return cls.read_gtf(path, transcripts)
        if name.endswith((".gff", ".gff.gz", ".gff3", ".gff3.gz")):
            return cls.read_gff3(path, transcripts)
        from nucleoforge.io.fasta import open_text

        with open_text(path) as fh:
            return cls.read(fh, str(path))

    @classmethod
    def read(cls, handle: IO[str], source: str | None = None) -> "GeneTable":
        """Parse a SpliceAI-style table; errors name the file and line."""
        source = source or getattr(handle, "name", "<table>")
        genes: list[Gene] = []
        header = handle.readline().lstrip("\ufeff").rstrip("\r\n").split("\t")
        if header[: len(_COLUMNS)] != _COLUMNS:
            raise NucleoforgeError(f"{source}:1: expected the header {' '.join(_COLUMNS)}, got {' '.join(header)}")
        for lineno, line in enumerate(handle, 2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            cols = line.split("\t")
            try:
                name, chrom, strand, tx_start, tx_end, ex_s, ex_e = cols[:7]
                starts = tuple(int(x) for x in ex_s.split(",") if x)
                ends = tuple(int(x) for x in ex_e.split(",") if x)
                gene = Gene(name, chrom, strand, int(tx_start), int(tx_end), starts, ends)
            except ValueError as exc:
                raise NucleoforgeError(f"{source}:{lineno}: malformed gene line ({exc}): {line[:80]}") from None
            if strand not in ("+", "-") or len(starts) != len(ends) or not starts:
                raise NucleoforgeError(f"{source}:{lineno}: bad strand or exon lists for {name}")
            genes.append(gene)
        return cls(genes, source)

    @classmethod
    def read_gtf(cls, path: str | os.PathLike, transcripts: str = "canonical") -> "GeneTable":
        """Build a table from a GTF: ``exon`` lines grouped into transcripts by (chromosome,
        strand, ``transcript_id``); per gene (chromosome, strand, ``gene_id``) the transcript
        tagged ``Ensembl_canonical``, ``MANE_Select`` (or ``canonical``) wins, otherwise the
        longest spliced one (``transcripts="all"``: every transcript, named by its
        ``transcript_id``). Genes are named by ``gene_name`` (else ``gene_id``).

        What is skipped or split, and why, is described in :func:`_assemble` (counted in the
        table's :attr:`~GeneTable.warnings`). A malformed exon line (fewer than 9 columns, no
        ``transcript_id``, coordinates that are not integers or end before they start, a strand
        other than ``+ - . ?``) raises :class:`NucleoforgeError` naming ``file:line``, and so
        does a file without ``exon`` lines. A UTF-8 byte order mark and CRLF line ends are
        accepted."""
        from nucleoforge.io.fasta import open_text

        tx: dict[tuple[str, str, str], dict] = {}
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
        findings = _Findings(str(path))
        genes = _assemble(tx, transcripts, findings)
        return cls._checked(genes, findings)

    @classmethod
    def read_gff3(cls, path: str | os.PathLike, transcripts: str = "canonical") -> "GeneTable":
        """Build a table from a GFF3: ``exon`` features grouped by their ``Parent`` (a transcript
        ``ID``; an exon with several parents belongs to each) and by chromosome and strand; a
        transcript's gene is its own ``Parent``, named by the gene's ``Name`` (else its ``ID``).
        Per gene the transcript tagged ``Ensembl_canonical``, ``MANE_Select`` (or ``canonical``) in
        its ``tag`` attribute wins, otherwise the longest spliced one (``transcripts="all"``: every
        transcript, named by its ``ID``). Attribute values are percent-decoded; a ``##FASTA``
        section ends the features.

        An exon whose ``Parent`` is never defined by an ``ID`` in the file is dropped and counted
        (kind ``undefined_parent``): it cannot be tied to a gene, and the GFF3 specification
        requires every ``Parent`` to be defined, so such exons come from a cut or broken file;
        keeping them as genes of their own would add genes that the file does not declare. The
        other checks are those of :meth:`read_gtf`."""
        from urllib.parse import unquote

        from nucleoforge.io.fasta import open_text

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
        findings = _Findings(str(path))
        tx: dict[tuple[str, str, str], dict] = {}
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
        genes = _assemble(tx, transcripts, findings)
        return cls._checked(genes, findings)

    @classmethod
    def _checked(cls, genes: list[Gene], findings: "_Findings") -> "GeneTable":
        """The table, its warnings logged once each; an error when no transcript is left."""
        warnings = findings.warnings()
        if not genes:
            raise NucleoforgeError(f"{findings.source}: no usable transcript; " + "; ".join(w.body for w in warnings))
        for w in warnings:
            _log.warning("%s", w.message)
        return cls(genes, findings.source, warnings)


#: tags that make a transcript its gene's canonical one (GTF ``tag "…"``, GFF3 ``tag=…``)
_CANONICAL_TAGS = ("Ensembl_canonical", "MANE_Select", "canonical")

#: GTF/GFF3 strand values meaning "not known": ``.`` (not given) and ``?`` (unknown)
_NO_STRAND = (".", "?")
_STRANDS = frozenset(("+", "-", *_NO_STRAND))

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


class _Findings:
    """Counts of each warning kind while a table is read, with the first occurrence of each."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._seen: dict[str, list] = {}  # kind -> [count, first]

    def add(self, kind: str, where: str) -> None:
        self._seen.setdefault(kind, [0, where])[0] += 1

    def warnings(self) -> tuple[AnnotationWarning, ...]:
        return tuple(AnnotationWarning(k, self.source, *self._seen[k]) for k in WARNING_KINDS if k in self._seen)


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


def _place(key: tuple[str, str, str], entry: dict, source: str) -> str:
    return f"{key[0]}:{key[1]} ({source}:{entry['line']})"


def _assemble(tx: dict[tuple[str, str, str], dict], transcripts: str, findings: _Findings) -> list[Gene]:
    """Genes from ``{(chrom, strand, transcript_id): {"exons": [(start, end, line)], "canonical",
    "gene", "gene_name", "line"}}`` (``line``: the transcript's first exon line).

    Rules (each counted in ``findings``, the first occurrence named by file:line):

    * a transcript without a strand (``.`` or ``?``) is skipped (``no_strand``). Its sequence
      could be read either way and which end of an intron is the acceptor depends on the strand;
      assemblers (e.g. StringTie) write ``.`` for single-exon transcripts whose strand they could
      not infer, so this is a warning rather than an error that would refuse the whole file;
    * a transcript with overlapping or touching exons (no intron between two of them) is
      skipped (``overlapping_exons``): its introns, and so its splice sites, are not defined;
    * a transcript ID found on more than one chromosome or strand gives one transcript per place
      (``reused_transcript_id``): real files reuse IDs (pseudo-autosomal copies, ``_dup`` loci),
      and merging them would make one transcript spanning both places;
    * with ``transcripts="canonical"`` the pick is made per (chromosome, strand, gene ID); a
      gene ID at several places gives one entry per place (``gene_at_several_places``).

    The canonical pick is the canonical-tagged transcript, else the longest spliced one (first
    on a tie), named by ``gene_name``; ``transcripts="all"``: every transcript, named by its ID.
    Genes come in the order of their first exon line."""
    src = findings.source
    kept: dict[tuple[str, str, str], dict] = {}
    for key, entry in tx.items():
        chrom, strand, tid = key
        if strand in _NO_STRAND:
            findings.add("no_strand", f"{tid} at {src}:{entry['line']}")
            continue
        exons = sorted(entry["exons"])
        starts, ends, _ = zip(*exons)
        if any(map(operator.le, starts[1:], ends[:-1])):  # an exon starting before the previous one ends
            j = next(j for j in range(1, len(exons)) if starts[j] <= ends[j - 1])
            first, second = sorted((exons[j - 1][2], exons[j][2]))
            findings.add("overlapping_exons", f"{tid} at {src}:{first} and {src}:{second}")
            continue
        kept[key] = {**entry, "starts": starts, "ends": ends}
    _report_places(kept, lambda key, _: key[2], "reused_transcript_id", src, findings)
    if transcripts == "all":
        chosen = [(key[2], key, entry) for key, entry in kept.items()]
    else:
        _report_places(kept, lambda _, e: e["gene"], "gene_at_several_places", src, findings)
        best: dict[tuple[str, str, str], tuple[tuple[bool, int], tuple[str, str, str], dict]] = {}
        for key, entry in kept.items():
            rank = (entry["canonical"], sum(map(operator.sub, entry["ends"], entry["starts"])))
            gene_key = (key[0], key[1], entry["gene"])
            cur = best.get(gene_key)
            if cur is None or rank > cur[0]:
                best[gene_key] = (rank, key, entry)
        chosen = [(entry["gene_name"], key, entry) for _, key, entry in best.values()]
    genes = []
    for name, (chrom, strand, tid), e in chosen:
        genes.append(Gene(name, chrom, strand, e["starts"][0], e["ends"][-1], e["starts"], e["ends"],
                          transcript_id=tid, symbol=e["gene_name"]))
    return genes


def _report_places(kept: dict[tuple[str, str, str], dict], ident, kind: str, source: str, findings: _Findings) -> None:
    """Count each ID (``ident(key, entry)``) found at more than one (chromosome, strand),
    naming its first two places."""
    places: dict[str, dict[tuple[str, str], tuple]] = {}
    for key, entry in kept.items():
        places.setdefault(ident(key, entry), {}).setdefault(key[:2], (key, entry))
    for name, where in places.items():
        if len(where) > 1:
            (k1, e1), (k2, e2) = list(where.values())[:2]
            more = f" and {len(where) - 2} more" if len(where) > 2 else ""
            findings.add(kind, f"{name} at {_place(k1, e1, source)} and {_place(k2, e2, source)}{more}")


def _looks_like_gtf(path: Path) -> bool:
    """Whether the first feature line of a ``.gff`` file has GTF attributes (``key "value";``)."""
    from nucleoforge.io.fasta import open_text

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
