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
from typing import IO, Any

from nucleoforge.errors import NucleoforgeError
from nucleoforge.pipelines.splice_site import SpliceSitePrediction

__all__ = ["splice_inputs", "write_splice_predictions"]

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
                             progress: bool = False, calibrated: bool = False) -> SpliceSitePrediction | None:
    """Predict every input with ``pipe`` (a ``SpliceSitePipeline``) and write the rows.

    ``output``: a TSV path (written beside it and renamed when every input is done), an open
    text handle, or ``None`` for stdout; columns name, position (1-based; genomic for regions),
    acceptor, donor, one header line. ``min_score`` keeps only positions whose acceptor or donor
    probability reaches it. ``bedgraph``: also write ``PREFIX.acceptor.bedGraph`` and
    ``PREFIX.donor.bedGraph`` (atomic too). ``batch_size``: windows per model call. Returns the
    first prediction (``None`` for no input), e.g. for a plot.
    """
    from nucleoforge.io.outputs import atomic_output
    from nucleoforge.io.tables import bedgraph_paths, write_bedgraph, write_splice_tsv

    first: SpliceSitePrediction | None = None
    with ExitStack() as stack:  # files are written beside their targets and renamed when all inputs are done
        if output is None or hasattr(output, "write"):
            out = output if output is not None else sys.stdout
        else:
            out = stack.enter_context(atomic_output(output))
        tracks = bedgraph_paths(bedgraph) if bedgraph else {}
        handles = {kind: stack.enter_context(atomic_output(path)) for kind, path in tracks.items()}
        for n, item in enumerate(inputs):
            pred = pipe(item, window_batch_size=batch_size, progress=progress, calibrated=calibrated)
            write_splice_tsv(pred, out, min_score=min_score, header=n == 0)
            if handles:
                write_bedgraph(pred, bedgraph, append=n > 0, handles=handles)
            if first is None:
                first = pred
    return first
