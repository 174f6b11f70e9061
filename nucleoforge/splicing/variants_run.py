"""``nucleoforge variants`` as one library call: :func:`run_variants` scores a VCF on one process
(:func:`.scoring_vcf.score_vcf`) or on shards (:func:`.sharding.score_vcf_sharded`, local workers or
Ray actors) and returns the summary and the line the command prints. Its settings are a
:class:`~.scorer_settings.ScoringSettings`, the scorers built by
:func:`~.scorer_settings.build_scorers`, the same way in every process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nucleoforge.splicing.scorer_settings import ScoringSettings, build_scorers

__all__ = ["run_variants", "VariantsResult"]


@dataclass
class VariantsResult:
    """What :func:`run_variants` did: the summed :class:`~.scoring_vcf.VcfRunSummary` and the
    summary line ``variants`` prints."""

    summary: Any
    line: str


def run_variants(settings: ScoringSettings, input_path: str, output_path: str, *, model: Any = None, resume: bool = False,
                 workers: int = 1, shard_size: int = 2000, ray_address: str | None = None, retries: int = 2,
                 progress: bool = True) -> VariantsResult:
    """Score ``input_path`` into ``output_path``: on this process when ``workers`` is 1 and there
    is no ``ray_address``, else on shards (see :mod:`.sharding`). The output is byte-identical
    either way.

    ``model``: the loaded model for a run on this process, or a list of them, one per
    :meth:`~.scorer_settings.ScoringSettings.specs` (loaded from the settings when None); sharded
    runs load them in every worker and build no scorer here. Raises
    ``NucleoforgeError`` after the output is written when no record's chromosome is in the
    reference (:func:`~.scoring_vcf.check_chromosomes_matched`).
    """
    from nucleoforge.splicing.scoring_vcf import allele_summary, check_chromosomes_matched

    sources = bool(settings.precomputed or settings.cache)
    if workers > 1 or ray_address:
        from nucleoforge.splicing.sharding import score_vcf_sharded

        total = score_vcf_sharded(settings, input_path, output_path, workers=workers, shard_size=shard_size,
                                  resume=resume, retries=retries, progress=progress, ray_address=ray_address)
        kind = f"{total['workers']} Ray actors ({total['retried']} actor restart(s))" if ray_address else \
            f"{workers} workers ({total['retried']} pool restart(s))"
        head = f"{total['records']} records written, {total['scored']} scored in {total['shards']} shards by {kind}"
        tail = f"; alleles by source: {json.dumps(total['sources'])}" if sources else ""
        # nothing could be scored because no chromosome name is the reference's (the output keeps the records)
        check_chromosomes_matched(total["summary"], settings.reference, input_path, output_path)
        return VariantsResult(total["summary"], f"{head}; {allele_summary(total['summary'])}{tail}")
    from nucleoforge.splicing.scoring_vcf import score_vcf

    models = None if model is None else (list(model) if isinstance(model, (list, tuple)) else [model])
    scorers, tx_scorer = build_scorers(settings, models=models)
    try:
        summary = score_vcf(scorers, input_path, output_path, resume=resume, chunk_size=settings.chunk_size,
                            progress=progress and output_path != "-", transcripts=tx_scorer,
                            output_format=settings.output_format, check_chromosomes=False)  # fmt: skip
    finally:
        for s in scorers:
            s.close()
    caches = [s.cache for s in scorers if s.cache is not None]
    tail = (f"; cache {settings.cache}: {sum(c.hits for c in caches)} of {sum(c.lookups for c in caches)} alleles "
            f"found, {sum(c.stored for c in caches)} added" if caches else "")
    if sources:
        tail += f"; alleles by source: {json.dumps(summary.sources)}"
    check_chromosomes_matched(summary, scorers[0].genome, input_path, output_path)
    head = f"{summary.records} records written ({summary.resumed} kept from a previous run), {summary.scored} scored"
    return VariantsResult(summary, f"{head}; {allele_summary(summary)}{tail}")
