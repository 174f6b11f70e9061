"""The SpliceAI application layer: variant scoring, evaluation on annotated genes, plots.

Per-position prediction of a sequence is :func:`nucleoforge.pipelines.splice_predict.predict_sequence`
(re-exported here); the model itself is :class:`nucleoforge.models.spliceai.SpliceAIModel`.
"""

from nucleoforge.pipelines.splice_predict import iter_predict, predict_flanked, predict_sequence
from nucleoforge.splicing.evaluation import SpliceEvaluation, evaluate_genes, select_genes
from nucleoforge.splicing.lm_variants import LmVariantSummary, score_vcf_lm
from nucleoforge.splicing.scoring import VariantInput, VariantScorer
from nucleoforge.splicing.scoring_vcf import score_vcf

__all__ = [
    "iter_predict", "predict_flanked", "predict_sequence", "SpliceEvaluation", "evaluate_genes", "select_genes",
    "VariantInput", "VariantScorer", "score_vcf", "LmVariantSummary", "score_vcf_lm",
]  # fmt: skip
