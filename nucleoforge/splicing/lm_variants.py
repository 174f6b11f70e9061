"""Language-model variant effects over a VCF: the library behind ``nucleoforge variant-effect``.

:func:`score_vcf_lm` streams a VCF's SNVs through a
:class:`~nucleoforge.pipelines.variant_effect.VariantEffectPipeline` (KL context score over
``±flank`` and the masked-site log-likelihood ratio) and writes one TSV row per scored ALT, in
input order (:data:`nucleoforge.io.tables.VARIANT_EFFECT_COLUMNS`). It is the
language-model counterpart of SpliceAI's :func:`nucleoforge.splicing.scoring_vcf.score_vcf` and
follows the same output rules (:mod:`nucleoforge.io.outputs`):

* the output may not be the input VCF or the reference (also through links); inputs are
  checked before the output is opened;
* a VCF record that cannot be parsed stops the run after every row before it has been
  written: ``ValueError("FILE:LINE: ...")``;
* the output gets a run manifest ``OUTPUT.manifest.json`` (input VCF and reference checksums,
  ``flank``, ``window``, ``combine`` for k-mer models, the tokenizer and the model weights);
  ``resume=True`` continues an interrupted output only when the manifest matches and every
  kept row is the variant at that place, so the result is byte-identical to an uninterrupted
  run (an input that is not a regular file cannot be resumed). Without ``resume`` an existing
  output is replaced. Both drivers follow :func:`nucleoforge.io.outputs.open_resumable`.

Records are skipped (counted in :attr:`LmVariantSummary.skipped`) when an ALT is symbolic
(``symbolic``), not a single-nucleotide change (``not_snv``), on a chromosome missing from the
reference or beyond its end (``skipped``, with a warning), or when REF does not match the
reference base (``ref_mismatch``, with a warning); the last three are the shared record rules of
:func:`nucleoforge.splicing.variant_rules.check_variant`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.genome import Genome
from nucleoforge.splicing.variant_rules import SkipReason, check_variant

__all__ = ["score_vcf_lm", "variant_effect_manifest", "LmVariantSummary"]

_log = logging.getLogger("nucleoforge.splicing.lm_variants")

#: the record rules of :mod:`.variant_rules` a language-model score needs, in the order they are reported
_ORDER = (SkipReason.FASTA, SkipReason.PAST_END, SkipReason.REF_MISMATCH)


@dataclass
class LmVariantSummary:
    """What :func:`score_vcf_lm` did."""

    rows: int = 0  # rows in the output (resumed + new)
    resumed: int = 0  # rows kept from an interrupted run
    scored: int = 0  # rows written by this run
    skipped: dict[str, int] = field(default_factory=dict)  # symbolic, not_snv, skipped, ref_mismatch


def _tokenizer_identity(tokenizer: Any) -> str:
    vocab = sorted(tokenizer.get_vocab().items())
    return f"{type(tokenizer).__name__}:{hashlib.sha256(repr(vocab).encode()).hexdigest()[:16]}"


def _window_size(pipe: Any, window: int | None, flank: int) -> int:
    size = window or pipe.max_nucleotides
    if size > pipe.max_nucleotides:
        raise NucleoforgeError(f"--window {size} exceeds the model's {pipe.max_nucleotides} nucleotides")
    if size < max(1, pipe.k):
        raise NucleoforgeError(f"--window {size} is shorter than the model's k-mer ({pipe.k})")
    if flank < 0:
        raise NucleoforgeError(f"--flank must be >= 0, got {flank}")
    return size


def variant_effect_manifest(pipe: Any, genome: Genome, input_path: str, *, flank: int, window: int,
                            combine: str) -> dict[str, Any]:
    """The run manifest of ``nucleoforge variant-effect`` (see :mod:`nucleoforge.io.outputs`):
    ``window`` is the effective window (the model's maximum when not given)."""
    from nucleoforge.io.outputs import run_manifest

    return run_manifest(
        "variant-effect",
        inputs={"input": input_path, "reference": str(genome.path)},
        parameters={"flank": flank, "window": window, "combine": combine if pipe.k > 1 else None,
                    "tokenizer": _tokenizer_identity(pipe.tokenizer)},
        model=pipe.model,
    )


def _items(records: Iterator[Any], genome: Genome, size: int, stats: Counter, state: dict) -> Iterator[dict[str, Any]]:
    """Pipeline inputs for the scorable SNVs; a parse error is kept in ``state["error"]`` and
    ends the stream (so the rows before it are still written)."""
    from nucleoforge.io.vcf import VcfFormatError

    try:
        for rec in records:
            for alt in rec.alts or ():
                ref = (rec.ref or "").upper()
                alt_u = alt.upper()
                if alt_u in (".", "*") or alt_u.startswith("<"):
                    stats["symbolic"] += 1
                    continue
                if len(ref) != 1 or len(alt_u) != 1:
                    stats["not_snv"] += 1
                    continue
                # the shared record rules (chromosome, REF past the end, REF's base), worded here
                check = check_variant(genome, rec.chrom, rec.pos, ref)
                failure = check.first(_ORDER)
                if failure is not None and failure.reason == SkipReason.FASTA:
                    _log.warning("%s:%d %s>%s: chromosome not in %s; skipped", rec.chrom, rec.pos, ref, alt, genome.path)
                    stats["skipped"] += 1
                    continue
                if failure is not None and failure.reason == SkipReason.PAST_END:
                    _log.warning("%s:%d: beyond the end of %s; skipped", rec.chrom, rec.pos, check.chrom)
                    stats["skipped"] += 1
                    continue
                if failure is not None:  # REF does not match
                    _log.warning("%s:%d %s>%s: REF does not match the reference base %s; skipped", rec.chrom, rec.pos, ref,
                                 alt, failure.found)
                    stats["ref_mismatch"] += 1
                    continue
                chrom, pos0 = check.chrom, rec.pos - 1
                start = pos0 - size // 2
                seq = genome.fetch_padded(chrom, start, start + size).upper()
                yield {"sequence": seq, "position": size // 2, "alt": alt_u, "name": f"{rec.chrom}:{rec.pos}:{ref}>{alt_u}",
                       "chrom": rec.chrom, "pos": rec.pos, "id": rec.id or ".", "vcf_ref": ref, "vcf_alt": alt_u}
    except VcfFormatError as exc:
        state["error"] = exc


def _key(item: dict[str, Any]) -> list[str]:
    return [item["chrom"], str(item["pos"]), item["id"], item["vcf_ref"], item["vcf_alt"]]


def score_vcf_lm(
    pipe: Any,
    genome: Genome,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    flank: int = 100,
    window: int | None = None,
    combine: str = "mean",
    batch_size: int = 8,
    resume: bool = False,
    progress: bool = True,
) -> LmVariantSummary:
    """Score the SNVs of ``input_path`` (VCF/BCF) with ``pipe`` into the TSV ``output_path``.

    ``window`` nucleotides (default: the model's maximum) centred on each variant are cut from
    ``genome``; ``flank``/``combine`` are the pipeline's parameters; ``batch_size`` windows go
    through the model per call (3 per variant). See the module docstring for the output rules.
    """
    from nucleoforge.io.outputs import check_paths, open_resumable
    from nucleoforge.io.tables import read_variant_effect_table, variant_effect_header, variant_effect_row
    from nucleoforge.io.vcf import open_vcf
    from nucleoforge.io.vcf_records import iter_vcf_records
    from nucleoforge.pipelines._common import check_combine

    input_path, output_path = str(input_path), str(output_path)
    size = _window_size(pipe, window, flank)
    combine = check_combine(combine)
    if size < 2 * flank + 1:
        _log.warning("the %d-nt window is narrower than ±%d flank: the KL sum covers the window only", size, flank)
    check_paths({"-I/--input": input_path, "-R/--reference": str(genome.path)}, {"-O/--output": output_path})
    vcf = open_vcf(input_path)
    stats: Counter = Counter()
    state: dict[str, Any] = {"error": None}
    summary = LmVariantSummary()
    try:
        manifest = variant_effect_manifest(pipe, genome, input_path, flank=flank, window=size, combine=combine)
        items = _items(iter_vcf_records(vcf, input_path), genome, size, stats, state)

        def keys() -> Iterator[list[str]]:
            for item in items:
                yield _key(item)
            if state["error"] is not None:  # a bad line among the kept rows
                raise state["error"]

        def read_kept() -> tuple[list[list[str]], int, None]:
            rows, end = read_variant_effect_table(output_path)
            return rows, end, None

        fh, summary.resumed = open_resumable(
            output_path, manifest, resume=resume, inputs={"-I/--input": input_path, "-R/--reference": str(genome.path)},
            source=input_path, input_keys=keys(), read_kept=read_kept,
            open_sink=lambda append: open(output_path, "a" if append else "w"), header=variant_effect_header(),
            row_name="row", row_offset=2, input_name="variant")
        with fh:
            for res in pipe.iter_results(items, flank=flank, combine=combine, batch_size=batch_size, progress=progress):
                fh.write(variant_effect_row(res["chrom"], res["pos"], res["id"], res["vcf_ref"], res["vcf_alt"], res))
                summary.scored += 1
                if summary.scored % 64 == 0:
                    fh.flush()
    finally:
        vcf.close()
    if state["error"] is not None:
        raise state["error"]
    summary.rows = summary.resumed + summary.scored
    summary.skipped = {k: v for k, v in sorted(stats.items()) if v}
    return summary
