"""SpliceBERT: pre-mRNA masked language model (configurations of the shared BERT encoder)."""

from nucleoforge.models.splicebert.configuration_splicebert import SPLICEBERT_VARIANTS, SpliceBertConfig
from nucleoforge.models.splicebert.modeling_splicebert import (
    SpliceBertForContactPrediction,
    SpliceBertForMaskedLM,
    SpliceBertForSequencePrediction,
    SpliceBertForTokenPrediction,
    SpliceBertModel,
    SpliceBertPreTrainedModel,
)

__all__ = [
    "SPLICEBERT_VARIANTS", "SpliceBertConfig", "SpliceBertPreTrainedModel", "SpliceBertModel",
    "SpliceBertForMaskedLM", "SpliceBertForSequencePrediction", "SpliceBertForTokenPrediction",
    "SpliceBertForContactPrediction",
]  # fmt: skip
