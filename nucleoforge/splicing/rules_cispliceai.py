"""CI-SpliceAI's variant rules, as the original ``cis-vcf`` command (``cispliceai`` 1.2.2) applies
them (read from its source, re-implemented here): the
:class:`~nucleoforge.splicing.variant_family.ScoringFamily` of CI-SpliceAI weights
(``config.weights_family == "cispliceai"``). The entry has SpliceAI's form,
``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL``; what differs from
:mod:`.rules_spliceai`:

* genes (:func:`cis_gene_table`): ``-A grch37``/``grch38`` mean the original's own tables (the
  wheel's ``data/grch3?.csv``: ``gene_id,chr,strand,start,end,jn_start,jn_end``, one row per gene,
  named by its Ensembl id); a gene holds POS when ``start <= POS < end`` and its windows keep
  ``start .. end - 1`` (N elsewhere); its annotated sites are the junction ends (acceptors
  ``jn_end`` on ``+``, ``jn_start`` on ``-``). Another annotation is read as given (a table
  row's ``TX_START + 1 .. TX_END``, its exon ends as sites);
* a variant in no gene is scored on both strands without N, under the names ``+`` and ``-``;
* the track: ``POS - D .. POS + D + len(REF) - 1``, one more position when ``len(REF)`` is odd
  (``2D + 2`` positions for an SNV) -- the original rounds its window up to an even length;
* alleles: REF and ALT both longer than one base (MNVs, complex) are scored; after a deletion
  ``len(REF) - len(ALT)`` zeros (float64) are inserted into the ALT track at POS, before the
  ALT's first base (:meth:`CISpliceAIFamily.align`); after an insertion POS and the following
  ``len(ALT) - len(REF)`` positions are collapsed into their maximum;
* ``DS_AG = max(ALT - REF)``, ``DS_AL = -min(ALT - REF)`` (so an exact 0 prints ``-0.00``),
  likewise for donors; ``DP`` = first argmax / argmin - D;
* masking (``-M 1``, off by default): per position, gains at annotated sites and losses
  elsewhere set to 0 (SpliceAI's rule looks at the nearest boundary only);
* one entry per ALT: that of the most significant gene (largest of its four scores, the first
  gene on ties; the original's default, without ``--all``).

Deliberate differences (tests/splicing/test_cispliceai_variants.py): records whose REF does not
match the reference are skipped with a warning (the original writes the assertion text as the
entry), as are windows past either chromosome end (the original pads the start with N), REFs
longer than ``2D`` (every model's rule) and symbolic ALTs (which the original cannot encode); a
variant in no gene on a chromosome absent from the annotation is not scored. Not offered: the
original's ``--all`` (every gene's entry) and ``--outside`` (no N outside the gene). For an
intergenic variant the original also sets the last ``len(REF) + (len(REF) % 2) - 1`` bases of
its windows to N (its pseudo-gene ends one base after the window); we keep them.

>>> import numpy as np
>>> y_ref = np.zeros((6, 3), np.float32); y_alt = np.ones((4, 3), np.float32)
>>> CISpliceAIFamily.align(None, y_ref, y_alt, 3, 1)[1][:, 1].tolist()   # D = 1, 2 zeros at POS
[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]
>>> track_span(1, 1, 50), track_span(2, 1, 50), track_span(3, 1, 50)
((-50, 51), (-50, 51), (-50, 53))
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import Gene, GeneTable
from nucleoforge.splicing.rules_spliceai import DeltaScores, SpliceAIFamily, _Incremental

__all__ = ["CISpliceAIFamily", "cis_gene_table", "read_cis_table", "track_span", "CISPLICEAI_INFO_LINE", "PSEUDO_END"]

CISPLICEAI_INFO_LINE = ('##INFO=<ID=CISpliceAI,Number=.,Type=String,Description="CI-SpliceAI delta scores (nucleoforge, '
                        'rules of the original cis-vcf: the most significant gene per ALT, + or - outside genes). '
                        'Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">')
CSV_COLUMNS = ["gene_id", "chr", "strand", "start", "end", "jn_start", "jn_end"]
PSEUDO_END = 1 << 50  #: transcript end of the ``+``/``-`` pseudo-genes (whole chromosome: no N)


def track_span(ref_len: int, alt_len: int, distance: int) -> tuple[int, int]:
    """First and last track position relative to POS: the original's window rounded to even length."""
    return -distance, distance + ref_len + ref_len % 2 - 1


def _sites(text: str, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise NucleoforgeError(f"{where}: junction list must be comma-separated integers, got {text[:60]!r}") from None


def read_cis_table(path: str | os.PathLike) -> tuple[list[Gene], dict[int, tuple[tuple[int, ...], tuple[int, ...]]]]:
    """Genes of a ``cis-vcf`` annotation CSV and per gene its (acceptors, donors), 1-based.

    ``Gene.tx_start = start - 1`` and ``tx_end = end - 1``, so the table's ``start <= POS < end``
    is :meth:`GeneTable.overlapping`'s ``tx_start < POS <= tx_end``."""
    genes: list[Gene] = []
    sites: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        if header[: len(CSV_COLUMNS)] != CSV_COLUMNS:
            raise NucleoforgeError(f"{path}:1: expected the CI-SpliceAI header {','.join(CSV_COLUMNS)}, got {','.join(header)}")
        for lineno, row in enumerate(rows, 2):
            if not row:
                continue
            where = f"{path}:{lineno}"
            try:
                name, chrom, strand, start, end, jn_start, jn_end = row[:7]
                start_i, end_i = int(start), int(end)
            except ValueError:
                raise NucleoforgeError(f"{where}: expected 7 columns with integer start and end: {','.join(row)[:80]}") from None
            if strand not in ("+", "-"):
                raise NucleoforgeError(f"{where}: strand must be + or -, got {strand!r}")
            first, last = _sites(jn_start, where), _sites(jn_end, where)
            sites[len(genes)] = (last, first) if strand == "+" else (first, last)
            genes.append(Gene(name, chrom, strand, start_i - 1, end_i - 1, (start_i - 1,), (end_i - 1,)))
    return genes, sites


def _wheel_table(name: str) -> Path | None:
    """``data/<name>.csv`` of the installed ``cispliceai`` wheel, or None."""
    from nucleoforge.models.spliceai.convert import package_roots

    for root in package_roots("cispliceai"):
        if (root / "data" / f"{name}.csv").is_file():
            return root / "data" / f"{name}.csv"
    return None


def _named_build(source: str) -> str | None:
    """``grch37``/``grch38`` when ``source`` is that table of the ``spliceai`` wheel (``-A grch37``)."""
    from nucleoforge.io.annotation import spliceai_annotation_path

    for name in ("grch37", "grch38"):
        if source == name:
            return name
        try:
            if Path(source).resolve() == spliceai_annotation_path(name).resolve():
                return name
        except (OSError, NucleoforgeError):
            continue
    return None


def cis_gene_table(genes: GeneTable) -> tuple[GeneTable, dict[int, tuple[tuple[int, ...], tuple[int, ...]]], set[int]]:
    """The family's gene view: (table, per gene index its (acceptors, donors), the pseudo-genes' indices).

    ``grch37``/``grch38`` -> the original's own CSV of that build; anything else as given. Two
    pseudo-genes ``+`` and ``-`` spanning each chromosome follow the genes."""
    build = _named_build(str(genes.source))
    if build is not None:
        path = _wheel_table(build)
        if path is None:
            raise NucleoforgeError(f"CI-SpliceAI scores with its own {build} table (cispliceai/data/{build}.csv): "
                                   "install the wheel (pip install --no-deps cispliceai==1.2.2) or give -A another annotation")
        rows, sites = read_cis_table(path)
        source = str(path)
    else:
        rows = list(genes)
        sites = {i: (tuple(p + 1 for p in g.acceptors), tuple(p + 1 for p in g.donors)) for i, g in enumerate(rows)}
        source = str(genes.source)
    chroms = list(dict.fromkeys(g.chrom for g in rows))
    pseudo = set()
    for chrom in chroms:
        for strand in ("+", "-"):
            pseudo.add(len(rows))
            rows.append(Gene(strand, chrom, strand, 0, PSEUDO_END, (0,), (PSEUDO_END,)))
    return GeneTable(rows, source), sites, pseudo


class _Cones(_Incremental):
    """Substitution cones one position wider than the engine asks (``distance + 1``): an SNV's
    track is ``POS - D - 1 .. POS + D + 1`` (:meth:`CISpliceAIFamily.track_span`), of which the
    entry reads ``POS - D .. POS + D + 1``."""

    def run(self, x: np.ndarray, windows: np.ndarray, centers: np.ndarray, alt_x: np.ndarray, *, distance: int,
            batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        return super().run(x, windows, centers, alt_x, distance=distance + 1, batch_size=batch_size)


class CISpliceAIFamily(SpliceAIFamily):
    """CI-SpliceAI weights as the variant scorer's family (see the module docstring).

    Args as :class:`~.rules_spliceai.SpliceAIFamily`. The engine gets an SNV's track from one
    position before the original's (``POS - D - 1``: the substitution cones are symmetric); that
    row is dropped before scoring (a track of odd length: every other track has even length).
    """

    info_key = "CISpliceAI"
    entry_fields = 10
    #: the engine's hook: each group is one gene whose windows are N outside it
    gene_windows = True

    def __init__(self, model: Any, *, device: str | None = None, calibrated: bool = False,
                 predict: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        super().__init__(model, device=device, calibrated=calibrated, predict=predict)
        self._incremental = _Cones(model, self.calibrated) if self._incremental is not None else None
        self._sites: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._pseudo: set[int] = set()
        self._index: dict[int, int] = {}  # id() of a view's Gene -> its index (sites of group_entries' genes)

    # -- the engine's hooks --------------------------------------------------------------------------
    def gene_view(self, genes: GeneTable) -> GeneTable:
        view, self._sites, self._pseudo = cis_gene_table(genes)
        self._index = {id(g): i for i, g in enumerate(view)}
        return view

    def gene_groups(self, genes: Any, gene_ids: Sequence[int], pos: int) -> list[list[int]]:
        """Each gene holding POS alone, in table order; none: the ``+`` and ``-`` pseudo-genes."""
        real = [[gi] for gi in gene_ids if gi not in self._pseudo]
        return real or [[gi] for gi in gene_ids if gi in self._pseudo]

    def track_span(self, ref_len: int, alt_len: int, distance: int) -> tuple[int, int]:
        if ref_len == 1 and alt_len == 1:  # symmetric, for the cones: the first row is dropped
            return -distance - 1, distance + 1
        return track_span(ref_len, alt_len, distance)

    def allele_rule(self, ref: str, alt: str, index: int) -> str | None:
        return None  # every ALT is scored, MNVs and complex ones too

    def select_entries(self, records: Sequence[Any]) -> list[int]:
        """The entry kept for one ALT: the most significant gene's (first on ties)."""
        best = [max(r.ds) if r.ds is not None else float("-inf") for r in records]
        return [int(np.argmax(best))]

    def align(self, y_ref: np.ndarray, y_alt: np.ndarray, ref_len: int, alt_len: int) -> tuple[np.ndarray, np.ndarray]:
        d = (len(y_ref) - ref_len - ref_len % 2) // 2
        diff = abs(len(y_ref) - len(y_alt))
        if len(y_ref) > len(y_alt):  # a deletion: float64 zeros at POS, as the original's np.zeros
            y_alt = np.concatenate([y_alt[:d], np.zeros((diff, y_alt.shape[1])), y_alt[d:]])
        elif len(y_alt) > len(y_ref):
            y_alt = np.concatenate([y_alt[:d], y_alt[d : d + diff + 1].max(axis=0, keepdims=True), y_alt[d + diff + 1 :]])
        return y_ref, y_alt

    def group_entries(self, alt: str, pos: int, distance: int, genes: Sequence[tuple[str, Any]], y_ref: np.ndarray,
                      y_alt: np.ndarray, mask: bool) -> list[DeltaScores]:
        if len(y_ref) % 2:  # an SNV's track starts at POS - D - 1 (see track_span)
            y_ref, y_alt = y_ref[1:], y_alt[1:]
        out = []
        for label, gene in genes:
            acceptors, donors = self._sites.get(self._index.get(id(gene), -1), ((), ()))
            out.append(self._scores(alt, label, y_ref, y_alt, distance, pos, (acceptors, donors) if mask else None))
        return out

    @staticmethod
    def _scores(alt: str, gene: str, y_ref: np.ndarray, y_alt: np.ndarray, d: int, pos: int,
                sites: tuple[Sequence[int], Sequence[int]] | None) -> DeltaScores:
        delta = y_alt - y_ref
        if sites is not None:  # per position: gains at annotated sites, losses elsewhere -> 0
            delta = delta.copy()
            for ch, positions in ((1, sites[0]), (2, sites[1])):
                idx = np.asarray(positions, dtype=np.int64) - (pos - d)
                annotated = np.zeros(len(delta), dtype=bool)
                annotated[idx[(idx >= 0) & (idx < len(delta))]] = True
                loss = delta[:, ch] < 0
                delta[(~loss & annotated) | (loss & ~annotated), ch] = 0
        acc, don = delta[:, 1], delta[:, 2]
        ds = [float(np.max(acc)), float(-np.min(acc)), float(np.max(don)), float(-np.min(don))]
        dp = [int(np.argmax(acc)) - d, int(np.argmin(acc)) - d, int(np.argmax(don)) - d, int(np.argmin(don)) - d]
        return DeltaScores(alt, gene, ds, dp)

    def entry(self, alt: str, gene: str, y_ref: np.ndarray, y_alt: np.ndarray, dist_boundary: int, mask: bool) -> DeltaScores:
        """One gene without its annotation (the engine calls :meth:`group_entries`): never masked."""
        return self._scores(alt, gene, y_ref, y_alt, (len(y_ref) - 1) // 2, 0, None)

    # -- outputs and identity ------------------------------------------------------------------------
    def info_lines(self, transcripts: bool) -> list[str]:
        return [CISPLICEAI_INFO_LINE]

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "format": "cispliceai-info/1"}
