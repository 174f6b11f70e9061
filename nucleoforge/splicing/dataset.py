"""Splice-site training datasets from a reference and an annotation (``nucleoforge splice-data``),
following the SpliceAI model card's recipe.

**Recipe.** One transcript per gene (canonical tag, else the longest spliced transcript;
``transcripts="all"``: every one). Labels at nucleotide resolution with the one site
convention of ``evaluate-splice`` (:func:`nucleoforge.splicing.evaluation.gene_labels`: acceptor
= first base of an exon after an intron, donor = last base before one, on the transcript's
strand). The transcript is read on its own strand (minus-strand transcripts
reverse-complemented) and cut into blocks of ``block`` = 5,000 labelled positions; every
labelled position sees ``context/2`` nt each side, and everything outside the transcript is N
(also real sequence outside it, and anything past the chromosome ends). Positions within 50 nt
of a transcript end or of a masked interval (a run of more than 10 N / non-ACGT codes inside the
transcript) get weight 0: the first and last 50 positions of a transcript, and a run ``[a, b)``
zeroes ``[a - 50, b + 50)``.

**Splits.** By chromosome (``train_chroms``/``test_chroms``; ``split="human"`` is the card's
human split: train chr1–19, X, Y; test chr20) or by region (``train_regions``/``test_regions``,
``chrom:start-end``, 1-based inclusive): a transcript belongs to a region when it lies wholly
inside it. Given only the test side, training takes every other transcript — by region, every
transcript that does not overlap a test region. Transcripts in no split are left out and
counted (``split.left_out``). ``validation_fraction`` (5 %) of the training transcripts are held
out for validation, drawn with ``seed``, as whole groups of overlapping transcripts (so no
sequence is shared between training and validation).

**On disk** (format ``nucleoforge-splice-data/1``; readers and writers in
:mod:`nucleoforge.io.splice_h5`)::

    DIR/dataset.json
      {"format": "nucleoforge-splice-data/1", "context": C, "block": 5000,
       "reference": {"path", "sha256"}, "annotation": {"source", "sha256" | "name"},
       "transcripts": "canonical" | "all",
       "split": {"by": "chromosome" | "region" | "none", "preset", "train_chroms", "test_chroms",
                 "train_regions", "test_regions", "validation_fraction", "validation_by",
                 "annotation_transcripts", "left_out": {"no_split", "not_in_reference",
                 "past_chromosome_end"}},
       "seed": int,
       "summary": {split: {"transcripts", "blocks", "positions", "acceptors", "donors", "excluded"}}}
    DIR/{train,validation,test}.h5   (a split without a transcript has no file; its summary says 0)
      X  uint8 (N, block + C)  0 = N/unknown, 1 A, 2 C, 3 G, 4 T on the transcript's strand;
                               X[:, C//2 + i] is labelled position i of the block
      Y  int8  (N, block)      0 neither, 1 acceptor, 2 donor; -1 past the transcript's end
      W  uint8 (N, block)      1 counts in loss/metrics; 0 within 50 nt of a >10-N run or a
                               transcript end, and past the transcript's end
      tx int32 (N,)            row of the block's transcript in the group "transcripts":
                               name, chrom, strand ('+'/'-'), tx_start (0-based), tx_end, first_block

``positions`` counts the labelled positions of weight 1, ``acceptors``/``donors`` the sites
among them, ``excluded`` the weight-0 positions inside transcripts. A model with a smaller
context c reads ``crop_context(X, C, c)`` = ``X[:, (C - c)//2 : (C - c)//2 + block + c]``.
Rows are written in genome order (chromosomes as in the reference, then by start), a few
hundred at a time; the folder is built beside the target and renamed when complete.

>>> transcript_weights(np.array([1] * 120 + [0] * 11 + [2] * 200, dtype=np.uint8), flank=50)[[49, 50, 69, 70, 180, 181, 280, 281]].tolist()
[0, 1, 1, 0, 0, 1, 1, 0]
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from nucleoforge.alphabet import encode_bytes, reverse_complement
from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome, Region, normalise_chrom, parse_region
from nucleoforge.io.splice_h5 import (
    DATASET_FORMAT,
    SPLITS,
    SpliceDataset,
    SpliceH5Writer,
    crop_context,
    iter_splice_batches,
    one_hot_codes,
    read_splice_dataset,
    write_metadata,
)
from nucleoforge.splicing.evaluation import gene_labels

__all__ = [
    "SPLIT_PRESETS", "build_splice_dataset", "summary_table", "transcript_codes", "transcript_weights",
    "transcript_blocks", "holdout_validation", "plan_splits", "read_splice_dataset", "iter_splice_batches",
    "crop_context", "one_hot_codes", "SpliceDataset", "DATASET_FORMAT",
]  # fmt: skip

#: Named chromosome splits (the SpliceAI card's human split).
SPLIT_PRESETS: dict[str, dict[str, list[str]]] = {
    "human": {"train": [str(i) for i in range(1, 20)] + ["X", "Y"], "test": ["20"]},
}
FLANK_EXCLUDED = 50  # nt of weight 0 next to a transcript end or a masked interval
MASKED_RUN = 10  # a run of more than this many N is a masked interval
_COUNTS = ("transcripts", "blocks", "positions", "acceptors", "donors", "excluded")


# ---------------------------------------------------------------------------- one transcript
def transcript_codes(genome: Genome, chrom: str, start: int, end: int, strand: str) -> np.ndarray:
    """uint8 codes (0 N/other, 1 A, 2 C, 3 G, 4 T; soft-masked lower case read as upper) of
    ``[start, end)`` on ``strand`` (minus: reverse complement); N past the chromosome ends."""
    seq = genome.fetch_padded(chrom, start, end)
    if strand == "-":
        seq = reverse_complement(seq)
    return ((encode_bytes(seq) + 1) % 5).astype(np.uint8)


def transcript_weights(codes: np.ndarray, flank: int = FLANK_EXCLUDED, min_run: int = MASKED_RUN + 1) -> np.ndarray:
    """uint8 weights over a transcript's codes: 0 for the first and last ``flank`` positions and
    within ``flank`` nt of a run of at least ``min_run`` code-0 (N) positions, else 1."""
    n = len(codes)
    w = np.ones(n, dtype=np.uint8)
    w[:flank] = 0
    w[max(0, n - flank):] = 0
    is_n = np.concatenate([[False], codes == 0, [False]])
    edges = np.flatnonzero(is_n[1:] != is_n[:-1])
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a >= min_run:
            w[max(0, a - flank) : b + flank] = 0
    return w


def transcript_blocks(codes: np.ndarray, labels: np.ndarray, weights: np.ndarray, context: int,
                      block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut one transcript (codes, labels and weights on its strand) into ``ceil(L / block)`` rows:
    X ``(n, block + context)`` with ``context/2`` codes each side (0 outside the transcript),
    Y ``(n, block)`` (-1 past the end), W ``(n, block)`` (0 past the end)."""
    n_pos = len(codes)
    n = -(-n_pos // block)
    half = context // 2
    padded = np.zeros(n * block + context, dtype=np.uint8)
    padded[half : half + n_pos] = codes
    x = np.lib.stride_tricks.sliding_window_view(padded, block + context)[::block][:n].copy()
    y = np.full(n * block, -1, dtype=np.int8)
    y[:n_pos] = labels
    w = np.zeros(n * block, dtype=np.uint8)
    w[:n_pos] = weights
    return x, y.reshape(n, block), w.reshape(n, block)


# ---------------------------------------------------------------------------- splits
def holdout_validation(intervals: Sequence[tuple[str, int, int]], fraction: float, seed: int) -> list[int]:
    """Indices of ``intervals`` (``(chrom, start, end)`` of the training transcripts) to hold out:
    ``round(fraction * n)`` of them (at least 1 when ``fraction > 0``, at most ``n - 1``), as whole
    groups of overlapping transcripts drawn in a random order from ``seed``."""
    n = len(intervals)
    if fraction <= 0 or n < 2:
        return []
    target = min(n - 1, max(1, round(fraction * n)))
    order = sorted(range(n), key=lambda i: (intervals[i][0], intervals[i][1], intervals[i][2], i))
    groups: list[list[int]] = []
    chrom, end = None, -1
    for i in order:
        c, s, e = intervals[i]
        if c == chrom and s < end:
            groups[-1].append(i)
            end = max(end, e)
        else:
            groups.append([i])
            chrom, end = c, e
    perm = np.random.default_rng(seed).permutation(len(groups))
    chosen: list[int] = []
    for g in perm:
        if len(chosen) + len(groups[g]) <= target:
            chosen += groups[g]
            if len(chosen) == target:
                break
    if not chosen:  # every group is larger than the target: the first that leaves training something
        for g in perm:
            if len(groups[g]) < n:
                chosen = list(groups[g])
                break
    return sorted(chosen)


def _parse_regions(texts: Sequence[str], option: str, genome: Genome) -> list[Region]:
    regions = []
    for text in texts:
        try:
            r = parse_region(text)
        except ValueError as exc:
            raise NucleoforgeError(f"{option} {text!r}: {exc}") from None
        if r.chrom not in genome:
            raise NucleoforgeError(f"{option} {text}: chromosome {r.chrom!r} is not in {genome.path} "
                             f"(records: {', '.join(genome.chroms[:5])}{' ...' if len(genome.chroms) > 5 else ''})")
        name = genome.resolve(r.chrom)
        if r.end > genome.lengths[name]:
            raise NucleoforgeError(f"{option} {text} ends after {name} in {genome.path} (length {genome.lengths[name]:,})")
        regions.append(Region(name, r.start, r.end))
    return regions


def _chrom_list(values: Sequence[str]) -> list[str]:
    return [c for v in values for c in re.split(r"[,\s]+", v.strip()) if c]


def _show_region(r: Region) -> str:
    return f"{r.chrom}:{r.start + 1}-{r.end}"


def plan_splits(
    genes: GeneTable,
    genome: Genome,
    *,
    split: Optional[str] = None,
    train_chroms: Sequence[str] = (),
    test_chroms: Sequence[str] = (),
    train_regions: Sequence[str] = (),
    test_regions: Sequence[str] = (),
    validation_fraction: float = 0.05,
    seed: int = 0,
) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """``({split: [gene indices in genome order]}, split description)``; one error (a line) for an
    annotation without a gene on the reference, a region without a whole transcript, an empty
    training (or requested test) split, conflicting or malformed options."""
    if not 0 <= validation_fraction < 1:
        raise NucleoforgeError(f"--validation-fraction must be in [0, 1), got {validation_fraction}")
    train_chroms, test_chroms = _chrom_list(train_chroms), _chrom_list(test_chroms)
    by_chrom = bool(split or train_chroms or test_chroms)
    if by_chrom and (train_regions or test_regions):
        raise NucleoforgeError("split by chromosome (--split/--train-chroms/--test-chroms) or by region "
                         "(--train-region/--test-region), not both")
    if split is not None:
        if split not in SPLIT_PRESETS:
            raise NucleoforgeError(f"--split {split!r}: unknown preset (known: {', '.join(SPLIT_PRESETS)})")
        if train_chroms or test_chroms:
            raise NucleoforgeError(f"--split {split} sets the chromosomes: leave out --train-chroms/--test-chroms")
    on_ref, not_in_reference, past_end = _on_reference(genes, genome)
    info: dict[str, Any] = {"by": "none", "preset": split, "train_chroms": [], "test_chroms": [],
                            "train_regions": [], "test_regions": []}
    if by_chrom:
        train, test, where = _by_chromosome(on_ref, genome, split, train_chroms, test_chroms, info)
    elif train_regions or test_regions:
        train, test, where = _by_region(on_ref, genes, genome, train_regions, test_regions, info)
    else:
        train, test, where = list(on_ref), [], None
    if not train:
        described = {"chromosome": f"on the training chromosomes ({', '.join(info['train_chroms']) or 'none in the reference'})",
                     "region": "inside the training regions" if info["train_regions"] else "outside the test regions"}
        raise NucleoforgeError(f"no training transcript: {genes.source} has no transcript {described[info['by']]} "
                         f"of {genome.path}")
    if where is not None and not test:
        raise NucleoforgeError(f"no test transcript: {genes.source} has no transcript {where} of {genome.path}")
    if validation_fraction > 0 and len(train) < 2:
        raise NucleoforgeError(f"only 1 training transcript ({genes[train[0]].name}): none left to hold out for validation "
                         "(pass --validation-fraction 0 to keep it)")

    def genome_order(idx: list[int]) -> list[int]:
        rank = {c: k for k, c in enumerate(genome.chroms)}
        return sorted(idx, key=lambda i: (rank[on_ref[i]], genes[i].tx_start, genes[i].tx_end, genes[i].strand, i))

    train = genome_order(train)
    held = holdout_validation([(on_ref[i], genes[i].tx_start, genes[i].tx_end) for i in train], validation_fraction, seed)
    held_set = {train[k] for k in held}
    plan = {"train": [i for i in train if i not in held_set], "validation": [i for i in train if i in held_set],
            "test": genome_order(test)}
    info.update({
        "validation_fraction": validation_fraction,
        "validation_by": "groups of overlapping transcripts",
        "annotation_transcripts": len(genes),
        "left_out": {"no_split": len(on_ref) - len(set(train) | set(test)), "not_in_reference": not_in_reference,
                     "past_chromosome_end": past_end},
    })
    return plan, info


def _records(genome: Genome) -> str:
    """The first reference records, for a message."""
    return f"{', '.join(genome.chroms[:5])}{' ...' if len(genome.chroms) > 5 else ''}"


def _on_reference(genes: GeneTable, genome: Genome) -> tuple[dict[int, str], int, int]:
    """``({gene index: reference record}, not in the reference, past a chromosome end)``; an
    annotation with no transcript on the reference is one error."""
    on_ref: dict[int, str] = {}
    not_in_reference = past_end = 0
    for i, g in enumerate(genes):
        if g.chrom not in genome:
            not_in_reference += 1
            continue
        name = genome.resolve(g.chrom)
        if g.tx_end > genome.lengths[name]:
            past_end += 1
            continue
        on_ref[i] = name
    if not on_ref:
        ann_chroms = list(dict.fromkeys(g.chrom for g in genes))
        what = ("no transcript that lies within the reference's chromosomes" if past_end
                else "no gene on the chromosomes of the reference")
        raise NucleoforgeError(f"annotation {genes.source} has {what} {genome.path} (annotation: "
                         f"{', '.join(ann_chroms[:5])}{' ...' if len(ann_chroms) > 5 else ''}; reference: {_records(genome)})")
    return on_ref, not_in_reference, past_end


def _by_chromosome(on_ref: dict[int, str], genome: Genome, split: Optional[str], train_chroms: list[str],
                   test_chroms: list[str], info: dict[str, Any]) -> tuple[list[int], list[int], Optional[str]]:
    """``(train, test, where the test transcripts were looked for, or None when no test split was
    asked for)`` of a split by chromosome (a ``split`` preset or the chromosome lists); fills ``info``."""
    info["by"] = "chromosome"
    if split is not None:
        preset = SPLIT_PRESETS[split]
        tr = [normalise_chrom(c, genome.lengths) for c in preset["train"]]
        te = [normalise_chrom(c, genome.lengths) for c in preset["test"]]
        tr, te = [c for c in tr if c in genome.lengths], [c for c in te if c in genome.lengths]
    else:
        for option, names in (("--train-chroms", train_chroms), ("--test-chroms", test_chroms)):
            missing = [c for c in names if c not in genome]
            if missing:
                raise NucleoforgeError(f"{option}: chromosome {missing[0]!r} is not in {genome.path} (records: {_records(genome)})")
        tr = [genome.resolve(c) for c in train_chroms]
        te = [genome.resolve(c) for c in test_chroms]
        both = sorted(set(tr) & set(te))
        if both:
            raise NucleoforgeError(f"chromosome {both[0]} is in both --train-chroms and --test-chroms")
    test_set = set(te)
    train_set = set(tr) if (tr or split is not None) else set(genome.lengths) - test_set
    info["train_chroms"], info["test_chroms"] = sorted(train_set, key=genome.chroms.index), te
    train = [i for i, c in on_ref.items() if c in train_set]
    test = [i for i, c in on_ref.items() if c in test_set]
    if not (te or split is not None):
        return train, test, None
    where = (f"on the test chromosomes ({', '.join(te)})" if te else
             f"on the test chromosomes of --split {split} ({', '.join(SPLIT_PRESETS[split]['test'])}: not in the reference)")
    return train, test, where


def _by_region(on_ref: dict[int, str], genes: GeneTable, genome: Genome, train_regions: Sequence[str],
               test_regions: Sequence[str], info: dict[str, Any]) -> tuple[list[int], list[int], Optional[str]]:
    """``(train, test, where)`` of a split by region (as :func:`_by_chromosome`); fills ``info``."""
    info["by"] = "region"
    tr_regions = _parse_regions(train_regions, "--train-region", genome)
    te_regions = _parse_regions(test_regions, "--test-region", genome)
    for a in tr_regions:
        for b in te_regions:
            if a.chrom == b.chrom and a.start < b.end and b.start < a.end:
                raise NucleoforgeError(f"--train-region {_show_region(a)} overlaps --test-region {_show_region(b)}")
    info["train_regions"] = [_show_region(r) for r in tr_regions]
    info["test_regions"] = [_show_region(r) for r in te_regions]

    def inside(option: str, regions: list[Region]) -> list[int]:
        chosen: list[int] = []
        for r in regions:
            hit = [i for i, c in on_ref.items() if c == r.chrom and genes[i].tx_start >= r.start and genes[i].tx_end <= r.end]
            if not hit:
                raise NucleoforgeError(f"{option} {_show_region(r)} holds no whole transcript of {genes.source}")
            chosen += hit
        return list(dict.fromkeys(chosen))

    test = inside("--test-region", te_regions)
    if tr_regions:
        train = inside("--train-region", tr_regions)
    else:
        train = [i for i, c in on_ref.items()
                 if not any(c == r.chrom and genes[i].tx_start < r.end and r.start < genes[i].tx_end for r in te_regions)]
    return train, test, "inside the test regions" if te_regions else None


# ---------------------------------------------------------------------------- the dataset
def _annotation_identity(annotation: str | os.PathLike) -> dict[str, Any]:
    from nucleoforge.io.annotation import spliceai_annotation_path
    from nucleoforge.io.outputs import file_sha256

    if str(annotation) in ("grch37", "grch38"):
        return {"source": str(annotation), "name": str(annotation),
                "sha256": file_sha256(spliceai_annotation_path(str(annotation)))}
    return {"source": os.path.abspath(annotation), "sha256": file_sha256(annotation)}


def build_splice_dataset(
    reference: str | os.PathLike,
    annotation: str | os.PathLike,
    output: str | os.PathLike,
    *,
    context: int = 10_000,
    block: int = 5_000,
    transcripts: str = "canonical",
    split: Optional[str] = None,
    train_chroms: Sequence[str] = (),
    test_chroms: Sequence[str] = (),
    train_regions: Sequence[str] = (),
    test_regions: Sequence[str] = (),
    validation_fraction: float = 0.05,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
    rows_per_write: int = 256,
    force: bool = False,
) -> dict[str, Any]:
    """Write the dataset folder ``output`` (see the module docstring) and return its metadata
    (the content of ``dataset.json``; ``["summary"]`` holds the per-split counts).

    ``annotation``: ``grch37``/``grch38``, a SpliceAI-style table, a GTF or a GFF3 file. The
    folder must not exist or be empty (``overwrite``, or its older name ``force``: replace it);
    it is built beside ``output`` and renamed on success, so an error or an interrupt leaves no
    half dataset and an old folder as it was.
    """
    from nucleoforge.io.output_folders import check_output_folder

    if context < 0 or context % 2:
        raise NucleoforgeError(f"--context must be an even number >= 0 (C/2 nt each side), got {context}")
    if block < 1:
        raise NucleoforgeError(f"block must be >= 1, got {block}")
    if transcripts not in ("canonical", "all"):
        raise NucleoforgeError(f"--transcripts must be 'canonical' or 'all', got {transcripts!r}")
    inputs = (reference,) if str(annotation) in ("grch37", "grch38") else (reference, annotation)
    overwrite = overwrite or force
    check_output_folder(output, overwrite=overwrite, inputs=inputs)
    with Genome(reference) as genome:
        return _build(genome, reference, annotation, output, inputs, context=context, block=block,
                      transcripts=transcripts, split=split, train_chroms=train_chroms, test_chroms=test_chroms,
                      train_regions=train_regions, test_regions=test_regions,
                      validation_fraction=validation_fraction, seed=seed, overwrite=overwrite, progress=progress,
                      rows_per_write=rows_per_write)


def _build(genome: Genome, reference: str | os.PathLike, annotation: str | os.PathLike, output: str | os.PathLike,
           inputs: tuple, *, context: int, block: int, transcripts: str, split: Optional[str],
           train_chroms: Sequence[str], test_chroms: Sequence[str], train_regions: Sequence[str],
           test_regions: Sequence[str], validation_fraction: float, seed: int, overwrite: bool, progress: bool,
           rows_per_write: int) -> dict[str, Any]:
    from nucleoforge.io.output_folders import atomic_folder
    from nucleoforge.io.outputs import file_sha256

    genes = GeneTable.load(annotation, transcripts)
    plan, info = plan_splits(genes, genome, split=split, train_chroms=train_chroms, test_chroms=test_chroms,
                             train_regions=train_regions, test_regions=test_regions,
                             validation_fraction=validation_fraction, seed=seed)
    summary = {s: dict.fromkeys(_COUNTS, 0) for s in SPLITS}
    meta: dict[str, Any] = {
        "format": DATASET_FORMAT, "context": context, "block": block,
        "reference": {"path": os.path.abspath(reference), "sha256": file_sha256(reference)},
        "annotation": _annotation_identity(annotation),
        "transcripts": transcripts, "split": info, "seed": seed, "summary": summary,
    }
    rank = {c: k for k, c in enumerate(genome.chroms)}
    order = sorted(((i, s) for s in SPLITS for i in plan[s]),
                   key=lambda t: (rank[genome.resolve(genes[t[0]].chrom)], genes[t[0]].tx_start, genes[t[0]].tx_end, t[0]))
    from tqdm.auto import tqdm

    with atomic_folder(output, overwrite=overwrite, inputs=inputs) as tmp:
        writers: dict[str, SpliceH5Writer] = {}
        try:
            for s in SPLITS:
                if plan[s]:
                    writers[s] = SpliceH5Writer(Path(tmp) / f"{s}.h5", context=context, block=block, split=s,
                                                rows_per_write=rows_per_write)
            with tqdm(total=len(order), unit="tx", desc="splice-data", disable=not progress) as bar:
                for i, s in order:
                    g = genes[i]
                    codes = transcript_codes(genome, g.chrom, g.tx_start, g.tx_end, g.strand)
                    labels = gene_labels(genes, i)
                    if g.strand == "-":
                        labels = labels[::-1]
                    weights = transcript_weights(codes)
                    x, y, w = transcript_blocks(codes, labels, weights, context, block)
                    writers[s].add(g.name, genome.resolve(g.chrom), g.strand, g.tx_start, g.tx_end, x, y, w)
                    c = summary[s]
                    keep = weights.astype(bool)
                    c["transcripts"] += 1
                    c["blocks"] += len(x)
                    c["positions"] += int(keep.sum())
                    c["acceptors"] += int(((labels == 1) & keep).sum())
                    c["donors"] += int(((labels == 2) & keep).sum())
                    c["excluded"] += int(len(keep) - keep.sum())
                    bar.update(1)
        finally:
            for wr in writers.values():
                wr.close()
        write_metadata(tmp, meta)
    return meta


def summary_table(meta: dict[str, Any]) -> str:
    """The summary of a dataset's metadata as a small table (one row per split) and a line of
    left-out transcripts."""
    rows = [f"{'split':<11}" + "".join(f"{k:>13}" for k in _COUNTS)]
    for s in SPLITS:
        c = meta["summary"][s]
        rows.append(f"{s:<11}" + "".join(f"{c[k]:>13,}" for k in _COUNTS))
    left = meta["split"].get("left_out", {})
    rows.append(f"left out: {left.get('no_split', 0):,} transcripts in no split, {left.get('not_in_reference', 0):,} on "
                f"chromosomes not in the reference, {left.get('past_chromosome_end', 0):,} past a chromosome end "
                f"(of {meta['split'].get('annotation_transcripts', 0):,} in the annotation)")
    return "\n".join(rows)
