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
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator, Optional

import numpy as np

from nucleoforge.io.genome import normalise_chrom

__all__ = ["Gene", "GeneTable", "spliceai_annotation_path"]

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
    """Genes in file order, with per-chromosome arrays for fast position look-ups."""

    genes: list[Gene]
    source: str = "<table>"
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
        transcript already: ``transcripts`` does not change it."""
        if transcripts not in ("canonical", "all"):
            raise ValueError(f"transcripts must be 'canonical' or 'all', got {transcripts!r}")
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
        header = handle.readline().rstrip("\r\n").split("\t")
        if header[: len(_COLUMNS)] != _COLUMNS:
            raise ValueError(f"{source}:1: expected the header {' '.join(_COLUMNS)}, got {' '.join(header)}")
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
                raise ValueError(f"{source}:{lineno}: malformed gene line ({exc}): {line[:80]}") from None
            if strand not in ("+", "-") or len(starts) != len(ends) or not starts:
                raise ValueError(f"{source}:{lineno}: bad strand or exon lists for {name}")
            genes.append(gene)
        return cls(genes, source)

    @classmethod
    def read_gtf(cls, path: str | os.PathLike, transcripts: str = "canonical") -> "GeneTable":
        """Build a table from a GTF: exons grouped by ``transcript_id``; per gene the transcript
        tagged ``Ensembl_canonical``, ``MANE_Select`` (or ``canonical``) wins, otherwise the longest spliced one
        (``transcripts="all"``: every transcript, named by its ``transcript_id``)."""
        from nucleoforge.io.fasta import open_text

        tx: dict[str, dict] = {}
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if line.startswith("#") or not line.strip():
                    continue
                cols = line.rstrip("\n").split("\t")
                if len(cols) < 9:
                    raise ValueError(f"{path}:{lineno}: expected 9 tab-separated GTF columns, got {len(cols)}")
                if cols[2] != "exon":
                    continue
                attrs = cols[8]
                tid = _gtf_attr(attrs, "transcript_id")
                if tid is None:
                    raise ValueError(f"{path}:{lineno}: exon without transcript_id")
                entry = tx.setdefault(tid, {"chrom": cols[0], "strand": cols[6], "exons": [], "canonical": False,
                                            "gene": _gtf_attr(attrs, "gene_name") or _gtf_attr(attrs, "gene_id") or tid})
                entry["exons"].append((int(cols[3]) - 1, int(cols[4])))
                if any(f'tag "{t}"' in attrs for t in _CANONICAL_TAGS):
                    entry["canonical"] = True
        return cls(_pick_transcripts(tx, transcripts), str(path))

    @classmethod
    def read_gff3(cls, path: str | os.PathLike, transcripts: str = "canonical") -> "GeneTable":
        """Build a table from a GFF3: ``exon`` features grouped by their ``Parent`` (a transcript
        ``ID``; an exon with several parents belongs to each); a transcript's gene is its own
        ``Parent``, named by the gene's ``Name`` (else its ``ID``). Per gene the transcript tagged
        ``Ensembl_canonical``, ``MANE_Select`` (or ``canonical``) in its ``tag`` attribute wins, otherwise the longest
        spliced one (``transcripts="all"``: every transcript, named by its ``ID``). Attribute
        values are percent-decoded; a ``##FASTA`` section ends the features."""
        from urllib.parse import unquote

        from nucleoforge.io.fasta import open_text

        exons: dict[str, list[tuple[str, str, int, int, int]]] = {}
        features: dict[str, dict[str, str]] = {}  # ID -> attributes (+ "_type") of non-exon features
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if line.startswith("##FASTA"):
                    break
                if line.startswith("#") or not line.strip():
                    continue
                cols = line.rstrip("\r\n").split("\t")
                if len(cols) < 9:
                    raise ValueError(f"{path}:{lineno}: expected 9 tab-separated GFF3 columns, got {len(cols)}")
                attrs = {}
                for item in cols[8].strip().rstrip(";").split(";"):
                    key, eq, value = item.strip().partition("=")
                    if eq:
                        attrs[key] = value
                if cols[2] == "exon":
                    parents = attrs.get("Parent")
                    if not parents:
                        raise ValueError(f"{path}:{lineno}: exon without a Parent attribute")
                    try:
                        span = (int(cols[3]) - 1, int(cols[4]))
                    except ValueError:
                        raise ValueError(f"{path}:{lineno}: start/end are not integers: {cols[3]!r}, {cols[4]!r}") from None
                    for parent in parents.split(","):
                        exons.setdefault(unquote(parent), []).append((cols[0], cols[6], *span, lineno))
                elif "ID" in attrs:
                    features[unquote(attrs["ID"])] = {**attrs, "_type": cols[2]}
        tx: dict[str, dict] = {}
        for tid, rows in exons.items():
            feature = features.get(tid, {})
            gene_id = unquote(feature.get("Parent", "").split(",")[0]) or tid
            gene = features.get(gene_id, {}) if gene_id != tid else feature
            tags = unquote(feature.get("tag", "")).split(",")
            tx[tid] = {"chrom": rows[0][0], "strand": rows[0][1], "exons": [(s, e) for _, _, s, e, _ in rows],
                       "canonical": any(t in tags for t in _CANONICAL_TAGS),
                       "gene": gene_id, "gene_name": unquote(gene.get("Name", "")) or gene_id}
        return cls(_pick_transcripts(tx, transcripts), str(path))


#: tags that make a transcript its gene's canonical one (GTF ``tag "…"``, GFF3 ``tag=…``)
_CANONICAL_TAGS = ("Ensembl_canonical", "MANE_Select", "canonical")


def _pick_transcripts(tx: dict[str, dict], transcripts: str) -> list[Gene]:
    """Genes from ``{transcript_id: {"chrom", "strand", "exons", "canonical", "gene"[, "gene_name"]}}``:
    per ``gene`` the canonical-tagged transcript, else the longest spliced one (first on a tie),
    named by ``gene_name`` (default ``gene``); or, for ``transcripts="all"``, every transcript
    named by its ID."""
    if transcripts == "all":
        chosen = [(tid, tid, e) for tid, e in tx.items()]
    else:
        best: dict[str, tuple[tuple[bool, int], str, dict]] = {}
        for tid, entry in tx.items():
            key = (entry["canonical"], sum(e - s for s, e in entry["exons"]))
            cur = best.get(entry["gene"])
            if cur is None or key > cur[0]:
                best[entry["gene"]] = (key, tid, entry)
        chosen = [(e.get("gene_name", gene), tid, e) for gene, (_, tid, e) in best.items()]
    genes = []
    for name, tid, e in chosen:
        exons = sorted(e["exons"])
        genes.append(Gene(name, e["chrom"], e["strand"], exons[0][0], exons[-1][1],
                          tuple(s for s, _ in exons), tuple(x for _, x in exons),
                          transcript_id=tid, symbol=e.get("gene_name", e["gene"])))
    return genes


def _looks_like_gtf(path: Path) -> bool:
    """Whether the first feature line of a ``.gff`` file has GTF attributes (``key "value";``)."""
    from nucleoforge.io.fasta import open_text

    with open_text(path) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
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
