"""The genes Pangolin scores a variant against: gene bodies and the exon ends of all their transcripts.

The original ``pangolin`` command reads a gffutils database built from a GTF
(``scripts/create_db.py``) and, for a variant at POS, takes every ``gene`` line of the
variant's chromosome with ``start < POS <= end`` (its region query asks for features around
``POS - 1``, then keeps those containing POS: a gene whose first base is POS is not found), keyed
by ``gene_id``, and as its annotated splice sites both ends of every ``exon`` line whose
``gene_id`` is that gene's (every transcript; in file order, repeats kept). :func:`gene_bodies`
builds that view as a :class:`~nucleoforge.io.annotation.GeneTable`:

* from a GTF: one row per ``gene`` line on ``+`` or ``-`` (``name`` = its ``gene_id``,
  ``tx_start`` = start - 1, ``tx_end`` = end), exons = the exon lines of that ``gene_id`` on the
  same chromosome in file order (``exon_starts`` 0-based, so an exon's 1-based ends are
  ``start + 1`` and ``end``). ``exon_tags`` keeps only exons carrying one of those ``tag``
  values (``create_db.py``'s default filter is ``Ensembl_canonical``; ``--filter None`` = all);
* from a SpliceAI table (``grch37``/``grch38`` or a file of that shape): each row is a gene,
  its body ``TX_START + 1 .. TX_END``, its sites ``EXON_START + 1`` and ``EXON_END`` of each
  exon (the table's order) -- the GTF a table converts to gives the same view;
* from a GFF3 (which the original does not read): the table as loaded (its transcripts).

>>> import io, tempfile, os
>>> gtf = os.path.join(tempfile.mkdtemp(), "a.gtf")
>>> _ = open(gtf, "w").write(
...     'chr1\\tx\\tgene\\t100\\t400\\t.\\t+\\t.\\tgene_id "G1";\\n'
...     'chr1\\tx\\texon\\t100\\t150\\t.\\t+\\t.\\tgene_id "G1"; transcript_id "T1";\\n'
...     'chr1\\tx\\texon\\t300\\t400\\t.\\t+\\t.\\tgene_id "G1"; transcript_id "T1";\\n')
>>> g = gene_bodies_from_gtf(gtf)[0]
>>> (g.name, g.tx_start, g.tx_end, site_positions(g))
('G1', 99, 400, [100, 150, 300, 400])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import Gene, GeneTable

__all__ = ["gene_bodies", "gene_bodies_from_gtf", "site_positions", "is_gtf"]


def site_positions(gene: Gene) -> list[int]:
    """The gene's annotated splice-site positions (1-based), exon by exon: start, end, start, end ..."""
    return [p for s, e in zip(gene.exon_starts, gene.exon_ends) for p in (s + 1, e)]


def is_gtf(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a GTF file (``.gtf``/``.gtf.gz``, or a ``.gff`` written like one)."""
    name = str(source).lower()
    if name.endswith((".gtf", ".gtf.gz")):
        return Path(source).is_file()
    if name.endswith((".gff", ".gff.gz")) and Path(source).is_file():
        from nucleoforge.io.gff import looks_like_gtf

        return looks_like_gtf(Path(source))
    return False


def gene_bodies(genes: GeneTable, exon_tags: Sequence[str] | None = None) -> GeneTable:
    """Pangolin's gene view of ``genes`` (see the module docstring): re-read from its GTF when it
    was loaded from one, else the table itself."""
    if is_gtf(genes.source):
        return gene_bodies_from_gtf(genes.source, exon_tags)
    return genes


def _attributes(text: str) -> dict[str, list[str]]:
    """GTF attributes ``key "value"; ...`` (a key may repeat, e.g. ``tag``)."""
    out: dict[str, list[str]] = {}
    for part in text.split(";"):
        key, _, value = part.strip().partition(" ")
        if key:
            out.setdefault(key, []).append(value.strip().strip('"'))
    return out


def gene_bodies_from_gtf(path: str | os.PathLike, exon_tags: Sequence[str] | None = None) -> GeneTable:
    """One row per ``gene`` line of a GTF (gzipped or not) with the ends of its exons (see the module docstring)."""
    from nucleoforge.io.fasta import open_text

    genes: list[tuple[str, str, str, int, int]] = []  # (gene_id, chrom, strand, start, end), file order
    exons: dict[tuple[str, str], list[tuple[int, int]]] = {}  # (chrom, gene_id) -> exons in file order
    tags = set(exon_tags) if exon_tags else None
    with open_text(Path(path)) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 9 or cols[2] not in ("gene", "exon"):
                continue
            try:
                start, end = int(cols[3]), int(cols[4])
            except ValueError:
                raise NucleoforgeError(f"{path}:{lineno}: {cols[2]} line with non-integer coordinates") from None
            attrs = _attributes(cols[8])
            gene_id = (attrs.get("gene_id") or [""])[0]
            if not gene_id:
                continue  # the original cannot name such a gene (gffutils keys genes by gene_id)
            if cols[2] == "gene":
                if cols[6] in ("+", "-"):
                    genes.append((gene_id, cols[0], cols[6], start, end))
            elif tags is None or tags.intersection(attrs.get("tag", ())):
                exons.setdefault((cols[0], gene_id), []).append((start, end))
    if not genes:
        raise NucleoforgeError(f"{path}: no 'gene' lines on + or - strand (Pangolin scores genes from the GTF's gene lines)")
    rows = []
    for gene_id, chrom, strand, start, end in genes:
        ex = exons.get((chrom, gene_id), [])
        rows.append(Gene(gene_id, chrom, strand, start - 1, end, tuple(s - 1 for s, _ in ex), tuple(e for _, e in ex)))
    return GeneTable(rows, str(path))
