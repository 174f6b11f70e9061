"""What a ``nucleoforge variants`` process needs to build its scorers, and the one way to build them.

:class:`ScoringSettings` is picklable: it travels to the workers of a sharded run
(:mod:`.sharding`), and every process — the single-process run of :mod:`.variants_run` or a
worker — builds its scorers with :func:`build_scorers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["ScoringSettings", "build_scorers"]


@dataclass
class ScoringSettings:
    """Everything ``nucleoforge variants`` needs to build its scorers (picklable, for workers).

    ``before_shard``: called as ``before_shard(shard, part)`` by a worker before it scores a
    shard (paths of the shard VCF and its part file); a picklable callable (a module-level
    function or an instance of a module-level class). Tests inject faults with it (a worker
    that dies, one that is held); None in every real run.
    """

    reference: str
    annotation: str
    model: str = "spliceai-10k"
    distance: int = 50
    mask: bool = False
    batch_size: int = 16
    chunk_size: int = 256
    calibrated: bool = False
    device: str | None = None
    cache: str | None = None
    precomputed: list[str] = field(default_factory=list)
    transcripts: str | None = None
    threads: int | None = None
    incremental: bool = True
    activation_memory: int = 1 << 30  # bytes
    output_format: str = "vcf"  # or "tsv" (nucleoforge.io.variant_table)
    before_shard: Callable[[str, str], None] | None = None


def build_scorers(settings: ScoringSettings, model: Any = None) -> tuple[Any, Any]:
    """``(scorer, transcript scorer or None)``, the first owning the cache and precomputed files.

    ``model``: an already loaded SpliceAI model (else loaded from ``settings.model``). Close the
    sources with the scorer's ``close()``.
    """
    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.genome import Genome
    from nucleoforge.splicing.scoring import VariantScorer

    genome = Genome(settings.reference)
    genes = GeneTable.load(settings.annotation)
    tx_genes = GeneTable.load(settings.annotation, transcripts=settings.transcripts) if settings.transcripts else None
    if model is None:
        from nucleoforge.models.spliceai import SpliceAIModel

        model = SpliceAIModel.from_pretrained(settings.model).eval()
        if settings.device:
            model.to(settings.device)
    common = dict(distance=settings.distance, mask=settings.mask, batch_size=settings.batch_size, device=settings.device,
                  calibrated=settings.calibrated, incremental=settings.incremental,
                  activation_memory=settings.activation_memory)  # fmt: skip
    tx_scorer = None
    if tx_genes is not None:
        tx_scorer = VariantScorer(model, genome, tx_genes, transcript_entries=True, **common)
        tx_scorer.log_skips = False  # the same records, already reported by the gene-level pass
    precomputed: list[Any] = []
    try:
        if settings.precomputed:
            from nucleoforge.io.precomputed import PrecomputedScores

            for p in settings.precomputed:
                precomputed.append(PrecomputedScores(p))
        scorer = VariantScorer(model, genome, genes, cache=settings.cache, precomputed=precomputed, **common)
    except BaseException:
        for p in precomputed:
            p.close()
        raise
    return scorer, tx_scorer
