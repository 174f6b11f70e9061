"""GeneBERT's inputs: regulatory regions → (region × motif) affinities → grouped samples.

Regions (accessible peaks) come from a BED file plus a reference FASTA, or from a FASTA of
peak sequences whose headers carry ``chrom:start-end``. Each region is scanned with every
motif (:class:`~nucleoforge.regions.motifs.MotifScanner`, both strands, one affinity
per (region, TF)). Regions are then sorted by condition (cell type), chromosome (natural
order) and start, and ``group_size`` consecutive regions of the same condition *and the same
chromosome* form one sample: their concatenated sequence is the 1-D modality, their stacked
affinity vectors (``group_size × n_TF``) the 2-D modality. A chromosome's last regions that do
not fill a group are dropped (and counted).

The dataset is written as Parquet shards (``data/train-XXXXX.parquet``, via HF ``datasets``)
plus ``genebert_regions.json`` (motifs, PWM settings, per-TF affinity mean and std, counts);
:func:`load_region_dataset` opens it, in streaming mode if asked.

>>> regions = [Region("chr2", 5, 9, "a", "ACGT"), Region("chr1", 50, 54, "a", "TTTT"),
...            Region("chr1", 10, 14, "a", "GGGG"), Region("chr1", 1, 5, "b", "CCCC")]
>>> [[(r.chrom, r.start) for r in g] for g in group_regions(regions, 2)]
[[('chr1', 10), ('chr1', 50)]]
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nucleoforge.alphabet import NUCLEOTIDE_LETTERS
from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.bed import chromosome_sort_key, parse_interval, read_bed
from nucleoforge.io.fasta import read_fasta
from nucleoforge.regions.motifs import AGGREGATIONS, Motif, MotifScanner, log_odds_matrix, score_threshold

__all__ = [
    "Region",
    "regions_from_fasta",
    "regions_from_bed",
    "central_crop",
    "group_regions",
    "build_region_dataset",
    "load_region_dataset",
    "read_region_metadata",
    "METADATA_FILE",
]

METADATA_FILE = "genebert_regions.json"
_NOT_NUCLEOTIDE = re.compile(f"[^{NUCLEOTIDE_LETTERS}]")


@dataclass(frozen=True)
class Region:
    """One regulatory region (0-based half-open coordinates) in one condition / cell type."""

    chrom: str
    start: int
    end: int
    condition: str
    sequence: str


def regions_from_fasta(path: str | os.PathLike, condition: str) -> Iterator[Region]:
    """Regions from a FASTA of peak sequences whose headers start with ``chrom:start-end``.

    Raises ``ValueError`` naming the file and line when a header has no coordinates, the
    sequence length differs from ``end − start``, or the sequence holds a letter that is not a
    nucleotide (A, C, G, T, U or an IUPAC code such as N).
    """
    for rec in read_fasta(path, uppercase=True):
        bad = _NOT_NUCLEOTIDE.search(rec.sequence)
        if bad:
            raise NucleoforgeError(
                f"{path}:{rec.line}: record {rec.name!r}, position {bad.start() + 1}: invalid character "
                f"{bad.group()!r} (expected A, C, G, T, N or another IUPAC nucleotide code)"
            )
        try:
            chrom, start, end = parse_interval(rec.name)
        except ValueError:
            raise NucleoforgeError(
                f"{path}:{rec.line}: header {rec.name!r} does not start with chrom:start-end"
            ) from None
        if end - start != len(rec.sequence):
            raise NucleoforgeError(
                f"{path}:{rec.line}: {rec.name} spans {end - start} bp but its sequence has {len(rec.sequence)}"
            )
        yield Region(chrom, start, end, condition, rec.sequence)


def regions_from_bed(
    path: str | os.PathLike,
    reference: str | os.PathLike,
    condition_column: int | None = None,
    condition: str = "all",
) -> Iterator[Region]:
    """Regions of a BED file with their sequences fetched from an indexed reference FASTA.

    Args:
        condition_column: 1-based BED column holding the condition / cell type (``None``:
            every region gets ``condition``).
    """
    import pyfaidx

    genome = pyfaidx.Fasta(str(reference), as_raw=True, sequence_always_upper=True)
    try:
        for rec in read_bed(path):
            if rec.chrom not in genome:
                raise NucleoforgeError(f"{path}:{rec.line}: chromosome {rec.chrom!r} is not in {reference}")
            size = len(genome[rec.chrom])
            if rec.end > size:
                raise NucleoforgeError(f"{path}:{rec.line}: end {rec.end} is past the end of {rec.chrom} ({size} bp)")
            cond = condition if condition_column is None else rec.column(condition_column - 1)
            yield Region(rec.chrom, rec.start, rec.end, cond, str(genome[rec.chrom][rec.start : rec.end]))
    finally:
        genome.close()


def central_crop(sequence: str, length: int | None) -> str:
    """The central ``length`` bases of ``sequence`` (all of it when shorter or ``length`` is None).

    The one crop rule of GeneBERT's two modalities: the dataset scans motifs on exactly the
    bases the pretraining collator gives the sequence encoder.

    >>> central_crop("AACCGGTT", 4), central_crop("ACG", 10)
    ('CCGG', 'ACG')
    """
    if length is None or len(sequence) <= length:
        return sequence
    start = (len(sequence) - length) // 2
    return sequence[start : start + length]


def group_regions(regions: Iterable[Region], group_size: int = 10, max_gap: int | None = None) -> list[list[Region]]:
    """Sort by (condition, chromosome, start, end) and cut runs of one condition and one
    chromosome into groups of ``group_size`` consecutive regions (incomplete tails dropped).

    ``max_gap``: a group also ends where the next region starts more than ``max_gap`` bp after
    the previous one ends, so a group is a run of genomic neighbours (None: no limit).
    """
    if group_size < 1:
        raise NucleoforgeError(f"group_size must be >= 1, got {group_size}")
    if max_gap is not None and max_gap < 0:
        raise NucleoforgeError(f"max_gap must be >= 0, got {max_gap}")
    ordered = sorted(regions, key=lambda r: (r.condition, chromosome_sort_key(r.chrom), r.start, r.end))
    groups: list[list[Region]] = []
    current: list[Region] = []
    for r in ordered:
        far = max_gap is not None and current and r.start - current[-1].end > max_gap
        if current and ((r.condition, r.chrom) != (current[0].condition, current[0].chrom) or far):
            current = []
        current.append(r)
        if len(current) == group_size:
            groups.append(current)
            current = []
    return groups


def _features(group_size: int, num_motifs: int):
    import datasets

    return datasets.Features(
        {
            "sample_id": datasets.Value("int64"),
            "condition": datasets.Value("string"),
            "chrom": datasets.Value("string"),
            "starts": datasets.Sequence(datasets.Value("int64")),
            "ends": datasets.Sequence(datasets.Value("int64")),
            "region_lengths": datasets.Sequence(datasets.Value("int32")),
            "sequence": datasets.Value("string"),
            "affinity": datasets.Array2D((group_size, num_motifs), "float32"),
        }
    )


def build_region_dataset(
    regions: Iterable[Region],
    motifs: Sequence[Motif],
    output_dir: str | os.PathLike,
    group_size: int = 10,
    aggregation: str = "max",
    background: Sequence[float] | None = None,
    pseudocount: float | str = "sqrt",
    pvalue: float = 1e-4,
    shard_size: int = 5000,
    batch_size: int = 64,
    device: str = "cpu",
    source: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    scan_crop: int | None = None,
    max_gap: int | None = None,
) -> dict[str, Any]:
    """Scan, group and write a GeneBERT region dataset; returns the metadata written.

    Args:
        scan_crop: keep only the central ``scan_crop`` bp of every region (:func:`central_crop`),
            both for the motif scan and for the stored sequence, so the 2-D modality describes
            exactly the DNA the sequence encoder reads (``pretrain_genebert`` refuses a
            ``region_crop`` that differs). None: whole regions.
        max_gap: group only genomic neighbours (see :func:`group_regions`).
        aggregation: per (region, motif) affinity, see :mod:`~nucleoforge.regions.motifs`.
        pvalue: per-motif p-value of the score threshold used by ``aggregation="count"``.
        shard_size: samples per Parquet shard.
        source: free-form provenance stored in the metadata (release, file names…).
        progress: called as ``progress(done_samples, total_samples)``.
    """
    import datasets

    if aggregation not in AGGREGATIONS:
        raise NucleoforgeError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    out = Path(output_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for old in (out / "data").glob("train-*.parquet"):
        old.unlink()
    pwms = [log_odds_matrix(m.counts, background, pseudocount) for m in motifs]
    thresholds = [score_threshold(p, pvalue, background) for p in pwms] if aggregation == "count" else None
    scanner = MotifScanner(pwms, device=device, thresholds=thresholds)
    if scan_crop is not None:
        regions = _central_regions(regions, scan_crop)
    groups = group_regions(regions, group_size, max_gap)
    if not groups:
        raise NucleoforgeError(f"no group of {group_size} consecutive regions on one chromosome in one condition"
                         + (f" within {max_gap:,} bp of each other" if max_gap is not None else ""))
    features = _features(group_size, len(motifs))
    n_motifs = len(motifs)
    total, total_sq, n_regions, longest = np.zeros(n_motifs), np.zeros(n_motifs), 0, 0
    cache: dict[str, np.ndarray] = {}  # one scan per distinct sequence (regions shared by conditions)
    shard_paths: list[str] = []
    conditions: dict[str, int] = {}
    for shard_start in range(0, len(groups), shard_size):
        shard = groups[shard_start : shard_start + shard_size]
        _scan_missing(scanner, shard, cache, aggregation, batch_size)
        rows: dict[str, list] = {k: [] for k in features}
        for j, g in enumerate(shard):
            aff = np.stack([cache[r.sequence] for r in g])
            total += aff.sum(0)
            total_sq += (aff.astype(np.float64) ** 2).sum(0)
            n_regions += len(g)
            longest = max(longest, max(len(r.sequence) for r in g))
            rows["sample_id"].append(shard_start + j)
            rows["condition"].append(g[0].condition)
            rows["chrom"].append(g[0].chrom)
            rows["starts"].append([r.start for r in g])
            rows["ends"].append([r.end for r in g])
            rows["region_lengths"].append([len(r.sequence) for r in g])
            rows["sequence"].append("".join(r.sequence for r in g))
            rows["affinity"].append(aff)
            conditions[g[0].condition] = conditions.get(g[0].condition, 0) + 1
        path = out / "data" / f"train-{len(shard_paths):05d}.parquet"
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(path))
        shard_paths.append(path.name)
        cache.clear()  # the scan cache lives for one shard: memory stays flat on large inputs
        if progress is not None:
            progress(min(shard_start + shard_size, len(groups)), len(groups))
    mean = total / n_regions
    std = np.sqrt(np.maximum(total_sq / n_regions - mean**2, 0.0))
    metadata = {
        "format": "nucleoforge.genebert.regions/1",
        "num_samples": len(groups),
        "num_regions": n_regions,
        "group_size": group_size,
        "max_region_length": longest,
        "scan_crop": scan_crop,
        "max_gap": max_gap,
        "conditions": conditions,
        "shards": shard_paths,
        "motif_ids": [m.matrix_id for m in motifs],
        "motif_names": [m.name for m in motifs],
        "motif_widths": [m.width for m in motifs],
        "aggregation": aggregation,
        "background": list(_bg(background)),
        "pseudocount": pseudocount,
        "pvalue": pvalue if aggregation == "count" else None,
        "affinity_mean": [round(float(x), 6) for x in mean],
        "affinity_std": [round(float(x), 6) for x in std],
        "source": source or {},
    }
    with open(out / METADATA_FILE, "w", encoding="utf-8") as fh:
        json.dump(metadata, fh, indent=1)
    return metadata


def _central_regions(regions: Iterable[Region], scan_crop: int) -> list[Region]:
    """``regions`` cut to their central ``scan_crop`` bp (:func:`central_crop`); coordinates follow the crop."""
    if scan_crop < 1:
        raise NucleoforgeError(f"scan_crop must be >= 1, got {scan_crop}")
    return [Region(r.chrom, r.start + (len(r.sequence) - len(c)) // 2,
                   r.start + (len(r.sequence) - len(c)) // 2 + len(c), r.condition, c)
            for r in regions for c in [central_crop(r.sequence, scan_crop)]]  # fmt: skip


def _scan_missing(scanner: MotifScanner, groups: Sequence[Sequence[Region]], cache: dict[str, np.ndarray],
                  aggregation: str, batch_size: int) -> None:
    """Scan the sequences of ``groups`` not yet in ``cache`` (shortest first, ``batch_size`` at a time) into it."""
    todo = sorted({r.sequence for g in groups for r in g if r.sequence not in cache}, key=len)
    for i in range(0, len(todo), batch_size):
        chunk = todo[i : i + batch_size]
        scores = scanner.scan_sequences(chunk, aggregation, batch_size=batch_size, fill_missing=True)
        cache.update(zip(chunk, scores))


def _bg(background: Sequence[float] | None) -> tuple[float, ...]:
    if background is None:
        return (0.25, 0.25, 0.25, 0.25)
    s = sum(background)
    return tuple(float(b) / s for b in background)


def read_region_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``genebert_regions.json`` of a dataset folder."""
    meta = Path(path) / METADATA_FILE
    if not meta.is_file():
        raise MissingPathError(f"{meta} not found: is {path} a dataset written by `nucleoforge genebert build-regions`?")
    with open(meta, encoding="utf-8") as fh:
        try:
            return json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NucleoforgeError(f"{meta}: not valid JSON ({exc}); write the dataset again with "
                                   "`nucleoforge genebert build-regions`") from None


def load_region_dataset(path: str | os.PathLike, streaming: bool = False):
    """Open a region dataset as a ``datasets.Dataset`` (or ``IterableDataset`` when streaming)."""
    import datasets

    meta = read_region_metadata(path)
    files = [str(Path(path) / "data" / name) for name in meta["shards"]]
    return datasets.load_dataset("parquet", data_files=files, split="train", streaming=streaming)
