"""transformers' own ``fill-mask`` task, ranking nucleotides for nucleoforge's language models.

``pipeline("fill-mask", model=…)`` (what the model cards call) scores every vocabulary entry,
so a nucleotide model's top answers can be ``[CLS]``, ``N``, ``<null>`` or an IUPAC letter. After
``import nucleoforge`` the task's class is :class:`FillMaskPipeline`: for a nucleoforge BERT-family
model the candidates are the nucleotides (``A C G T``/``U``, or every ``ACGT``/``U`` k-mer) unless
``targets=`` names others; for any other model it is transformers' pipeline unchanged. Scores stay
transformers' (the softmax over the whole vocabulary, not renormalised), so they equal the
original model's probabilities of those tokens; ``top_k`` is capped at the number of candidates.
"""

from __future__ import annotations

import itertools
from typing import Any

from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.fill_mask import FillMaskPipeline as _TransformersFillMask

__all__ = ["FillMaskPipeline", "nucleotide_targets"]


def nucleotide_targets(tokenizer: Any) -> list[str] | None:
    """The nucleotide tokens of a nucleoforge tokenizer (single letters or k-mers), else None."""
    k = getattr(tokenizer, "k", None)
    fourth = getattr(tokenizer, "fourth_base", None)
    if k is None or fourth is None:
        return None
    return ["".join(p) for p in itertools.product("ACG" + fourth, repeat=k)]


class FillMaskPipeline(_TransformersFillMask):
    """transformers' ``FillMaskPipeline``; nucleotides only for nucleoforge's models (see the module docstring)."""

    def _sanitize_parameters(self, top_k=None, targets=None, tokenizer_kwargs=None):  # noqa: ANN001, ANN202
        from nucleoforge.models.bert.modeling_bert import NucleotideBertPreTrainedModel

        if targets is None and isinstance(self.model, NucleotideBertPreTrainedModel):
            targets = nucleotide_targets(self.tokenizer)
        return super()._sanitize_parameters(top_k=top_k, targets=targets, tokenizer_kwargs=tokenizer_kwargs)


# the built-in task keeps its default model and type; only its class becomes the subclass above
PIPELINE_REGISTRY.supported_tasks["fill-mask"]["impl"] = FillMaskPipeline
