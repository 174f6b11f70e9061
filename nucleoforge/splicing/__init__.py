"""The SpliceAI application layer: variant scoring, evaluation on annotated genes, plots.

Per-position prediction of a sequence is :func:`nucleoforge.pipelines.splice_predict.predict_sequence`
(re-exported here); the model itself is :class:`nucleoforge.models.spliceai.SpliceAIModel`.
The names below load on first use, so ``nucleoforge variants`` does not import the
transformers pipelines it never runs.

>>> from nucleoforge.splicing import score_vcf
>>> score_vcf.__module__
'nucleoforge.splicing.scoring_vcf'
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module that defines it (imported on first attribute access)
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("iter_predict", "predict_flanked", "predict_sequence"), "nucleoforge.pipelines.splice_predict"),
    **dict.fromkeys(("SpliceEvaluation", "evaluate_genes", "select_genes"), "nucleoforge.splicing.evaluation"),
    **dict.fromkeys(("LmVariantSummary", "score_vcf_lm"), "nucleoforge.splicing.lm_variants"),
    **dict.fromkeys(("VariantInput", "VariantScorer"), "nucleoforge.splicing.scoring"),
    "score_vcf": "nucleoforge.splicing.scoring_vcf",
}  # fmt: skip

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nucleoforge.splicing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
