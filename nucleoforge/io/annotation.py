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
ID), so nothing is merged across chromosomes or strands (reading the lines: :mod:`nucleoforge.io.gff`). A malformed exon line raises
:class:`~nucleoforge.errors.NucleoforgeError` naming ``file:line``; what is skipped or split is
counted in :attr:`GeneTable.warnings` (kinds: :data:`~nucleoforge.io.gff.WARNING_KINDS`, rules: :func:`_assemble`)
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

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.genome import normalise_chrom
from nucleoforge.io.gff import (
    NO_STRAND,
    AnnotationWarning,
    Findings,
    Transcripts,
    looks_like_gtf,
    read_gff3_transcripts,
    read_gtf_transcripts,
)

__all__ = ["Gene", "GeneTable", "spliceai_annotation_path"]

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
    raise MissingPathError(
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
    warnings: tuple[AnnotationWarning, ...] = ()
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
        """``{kind: count}`` of :attr:`warnings` (kinds: :data:`~nucleoforge.io.gff.WARNING_KINDS`)."""
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
            raise MissingPathError(f"annotation file not found: {path} (use grch37, grch38 or a table path)")
        name = path.name.lower()
        if name.endswith((".gtf", ".gtf.gz")) or (name.endswith((".gff", ".gff.gz")) and looks_like_gtf(path)):
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
        tx = read_gtf_transcripts(path)
        findings = Findings(str(path))
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
        findings = Findings(str(path))
        tx = read_gff3_transcripts(path, findings)
        genes = _assemble(tx, transcripts, findings)
        return cls._checked(genes, findings)

    @classmethod
    def _checked(cls, genes: list[Gene], findings: "Findings") -> "GeneTable":
        """The table, its warnings logged once each; an error when no transcript is left."""
        warnings = findings.warnings()
        if not genes:
            raise NucleoforgeError(f"{findings.source}: no usable transcript; " + "; ".join(w.body for w in warnings))
        for w in warnings:
            _log.warning("%s", w.message)
        return cls(genes, findings.source, warnings)


def _place(key: tuple[str, str, str], entry: dict, source: str) -> str:
    return f"{key[0]}:{key[1]} ({source}:{entry['line']})"


def _assemble(tx: Transcripts, transcripts: str, findings: Findings) -> list[Gene]:
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
        if strand in NO_STRAND:
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


def _report_places(kept: dict[tuple[str, str, str], dict], ident, kind: str, source: str, findings: Findings) -> None:
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
