"""Per-position splice-site predictions for a sequence, FASTA records or genome regions, written as TSV and bedGraph.

The library side of ``nucleoforge splice``: :func:`splice_inputs` turns the inputs into the
dicts :class:`~nucleoforge.pipelines.splice_site.SpliceSitePipeline` takes (a region is fetched
with the model's real flanking sequence as context; N only beyond the chromosome ends), and
:func:`write_splice_predictions` predicts them one by one and streams the rows out.

>>> import io, torch
>>> from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
>>> from nucleoforge.pipelines.splice_site import SpliceSitePipeline
>>> _ = torch.manual_seed(0)
>>> pipe = SpliceSitePipeline(model=SpliceAIModel(SpliceAIConfig(stages=[(1, 3, 2)], channels=4)).eval(), device="cpu")
>>> out = io.StringIO()
>>> first = write_splice_predictions(pipe, splice_inputs(sequence="acgtag"), output=out)
>>> rows = out.getvalue().splitlines()
>>> rows[0].split(), len(rows), first.name, len(first.acceptor)
(['name', 'position', 'acceptor', 'donor'], 7, 'sequence', 6)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from nucleoforge.errors import NucleoforgeError
from nucleoforge.pipelines.splice_site import SpliceSitePrediction

__all__ = ["TissuePrediction", "is_tissue_model", "predict_tissues", "splice_inputs", "tissue_bedgraph_paths",
           "write_splice_predictions", "write_tissue_tsv"]

PathLike = str | os.PathLike


def splice_inputs(*, sequence: str | None = None, fasta: PathLike | None = None, regions: Sequence[str] = (),
                  reference: PathLike | None = None, strand: str = "+", flank: int = 0) -> Iterator[dict[str, Any]]:
    """Pipeline inputs for exactly one of ``sequence``, every record of ``fasta``, or ``regions``
    (``chrom:start-end[:strand]`` of ``reference``, fetched with ``flank`` bases of real context each side).

    ``strand`` applies to a sequence and FASTA records (a region carries its own). Regions are
    parsed and checked against the reference now (a region past a chromosome end is a
    :class:`~nucleoforge.errors.NucleoforgeError`); sequences are read as they are consumed.
    """
    if sum(x is not None and x != [] and x != () for x in (sequence, fasta, regions or None)) != 1:
        raise NucleoforgeError("give exactly one of sequence, fasta or regions")
    if sequence is not None:
        return iter([{"sequence": sequence.strip().upper(), "name": "sequence", "strand": strand}])
    if fasta is not None:
        return _fasta_inputs(fasta, strand)
    if reference is None:
        raise NucleoforgeError("regions need a reference genome")
    from nucleoforge.io.genome import Genome, parse_region

    genome = Genome(reference)
    parsed = []
    for text in regions:
        r = parse_region(text)
        chrom = genome.resolve(r.chrom)
        if r.end > genome.lengths[chrom]:
            raise NucleoforgeError(f"region {text} ends after {chrom} (length {genome.lengths[chrom]:,})")
        parsed.append((text, chrom, r))
    return _region_inputs(genome, parsed, flank)


def _fasta_inputs(fasta: PathLike, strand: str) -> Iterator[dict[str, Any]]:
    from nucleoforge.io.fasta import read_fasta

    for rec in read_fasta(fasta, uppercase=True):
        yield {"sequence": rec.sequence, "name": rec.name, "strand": strand}


def _region_inputs(genome: Any, parsed: list[tuple[str, str, Any]], flank: int) -> Iterator[dict[str, Any]]:
    for text, chrom, r in parsed:
        # The real flanking sequence is the model's context (N only beyond the chromosome ends).
        yield {"sequence": genome.fetch_padded(chrom, r.start - flank, r.end + flank).upper(), "name": text,
               "chrom": r.chrom, "start": r.start, "strand": r.strand, "context": (flank, flank)}


def write_splice_predictions(pipe: Any, inputs: Iterable[dict[str, Any]], *, output: PathLike | IO[str] | None = None,
                             bedgraph: PathLike | None = None, min_score: float | None = None, batch_size: int = 4,
                             progress: bool = False,
                             calibrated: bool = False) -> SpliceSitePrediction | TissuePrediction | None:
    """Predict every input with ``pipe`` (a ``SpliceSitePipeline``) and write the rows.

    ``output``: a TSV path (written beside it and renamed when every input is done), an open
    text handle, or ``None`` for stdout; columns name, position (1-based; genomic for regions),
    acceptor, donor, one header line. ``min_score`` keeps only positions whose acceptor or donor
    probability reaches it. ``bedgraph``: also write ``PREFIX.acceptor.bedGraph`` and
    ``PREFIX.donor.bedGraph`` (atomic too). ``batch_size``: windows per model call. Returns the
    first prediction (``None`` for no input), e.g. for a plot.

    A per-tissue model (:func:`is_tissue_model`, e.g. Pangolin) has no acceptor/donor classes:
    its columns are the tissues (``name position heart liver brain testis``: P(splice site) per
    tissue, the model's ``probabilities``), ``min_score`` applies to the highest tissue, the
    tracks are ``PREFIX.TISSUE.bedGraph`` and the result a :class:`TissuePrediction`.
    """
    from nucleoforge.io.outputs import atomic_output
    from nucleoforge.io.tables import bedgraph_paths, write_bedgraph, write_splice_tsv

    tissues = is_tissue_model(pipe.model)
    first: Any = None
    with ExitStack() as stack:  # files are written beside their targets and renamed when all inputs are done
        if output is None or hasattr(output, "write"):
            out = output if output is not None else sys.stdout
        else:
            out = stack.enter_context(atomic_output(output))
        if not bedgraph:
            tracks = {}
        else:
            tracks = tissue_bedgraph_paths(bedgraph, pipe.model.config.tissues) if tissues else bedgraph_paths(bedgraph)
        handles = {kind: stack.enter_context(atomic_output(path)) for kind, path in tracks.items()}
        for n, item in enumerate(inputs):
            if tissues:
                pred = predict_tissues(pipe.model, pipe.preprocess(item), batch_size=batch_size, progress=progress)
                write_tissue_tsv(pred, out, min_score=min_score, header=n == 0)
                if handles:
                    _write_tissue_bedgraph(pred, handles, header=n == 0)
            else:
                pred = pipe(item, window_batch_size=batch_size, progress=progress, calibrated=calibrated)
                write_splice_tsv(pred, out, min_score=min_score, header=n == 0)
                if handles:
                    write_bedgraph(pred, bedgraph, append=n > 0, handles=handles)
            if first is None:
                first = pred
    return first


# ------------------------------------------------------------------ per-tissue (Pangolin-head) models
@dataclass
class TissuePrediction:
    """P(splice site) per tissue for one input, ``probabilities`` ``(n, len(tissues))`` along the
    forward (plus-strand) coordinates; a per-tissue model has no acceptor/donor classes."""

    name: str
    tissues: list[str]
    probabilities: np.ndarray
    strand: str = "+"
    chrom: str | None = None
    start: int = 0  # 0-based offset of the first base (genomic for regions)

    @property
    def positions(self) -> np.ndarray:
        """1-based coordinates of the rows."""
        return np.arange(self.start + 1, self.start + 1 + len(self.probabilities))


def is_tissue_model(model: Any) -> bool:
    """True for a model whose outputs are per-tissue P(splice site) (``config.head == "pangolin"``)."""
    return getattr(getattr(model, "config", None), "head", "softmax") == "pangolin"


def predict_tissues(model: Any, item: dict[str, Any], *, batch_size: int = 4, progress: bool = False) -> TissuePrediction:
    """The per-tissue probabilities of one input dict (``sequence``, ``name``, ``strand``, ``chrom``,
    ``start``, ``context``: what :func:`splice_inputs` yields, with its defaults filled in); the
    ``context`` bases are seen by the model and left out of the result. Values are the model's
    ``probabilities`` (per tissue, the mean over its members of P(splice site))."""
    from nucleoforge.pipelines.splice_predict import DEFAULT_CHUNK_SIZE, predict_sequence

    probs = predict_sequence(model, item["sequence"], strand=item.get("strand", "+"), batch_size=batch_size,
                             chunk_size=DEFAULT_CHUNK_SIZE, progress=progress)
    left, right = item.get("context", (0, 0))
    return TissuePrediction(name=item.get("name", "sequence"), tissues=list(model.config.tissues),
                            probabilities=probs[left : len(probs) - right], strand=item.get("strand", "+"),
                            chrom=item.get("chrom"), start=int(item.get("start", 0)))


def write_tissue_tsv(pred: TissuePrediction, handle: IO[str], *, min_score: float | None = None, header: bool = True,
                     digits: int = 4) -> int:
    """Write ``name position TISSUE...`` rows (all positions, or those whose highest tissue reaches ``min_score``)."""
    if header:
        handle.write("\t".join(["name", "position", *pred.tissues]) + "\n")
    p = pred.probabilities
    keep = np.arange(len(p)) if min_score is None else np.flatnonzero(p.max(axis=1, initial=-np.inf) >= min_score)
    fmt = f"{{:.{digits}f}}"
    lines = [f"{pred.name}\t{pos}\t" + "\t".join(fmt.format(v) for v in row) + "\n"
             for pos, row in zip((pred.start + 1 + keep).tolist(), p[keep].tolist())]
    handle.writelines(lines)
    return len(lines)


def tissue_bedgraph_paths(prefix: PathLike, tissues: Sequence[str]) -> dict[str, str]:
    """``{tissue: PREFIX.TISSUE.bedGraph}`` for a per-tissue model's tracks."""
    return {t: f"{prefix}.{t}.bedGraph" for t in tissues}


def _write_tissue_bedgraph(pred: TissuePrediction, handles: dict[str, IO[str]], *, header: bool,
                           min_value: float = 1e-4) -> None:
    """One bedGraph track per tissue (0-based, one base per line, values below ``min_value`` left out)."""
    chrom = pred.chrom or pred.name
    for t, tissue in enumerate(pred.tissues):
        fh = handles[tissue]
        if header:
            fh.write(f'track type=bedGraph name="{tissue}" description="P(splice site) in {tissue}"\n')
        track = pred.probabilities[:, t]
        idx = np.flatnonzero(track >= min_value)
        starts = pred.start + idx
        fh.writelines(f"{chrom}\t{s}\t{s + 1}\t{v:.4f}\n" for s, v in zip(starts.tolist(), track[idx].tolist()))
