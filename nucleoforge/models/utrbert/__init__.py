"""3UTRBERT: 3'UTR k-mer masked language model (configurations of the shared BERT encoder)."""

from nucleoforge.models.utrbert.configuration_utrbert import UTRBERT_KS, UtrBertConfig
from nucleoforge.models.utrbert.modeling_utrbert import (
    UtrBertForContactPrediction,
    UtrBertForMaskedLM,
    UtrBertForSequencePrediction,
    UtrBertForTokenPrediction,
    UtrBertModel,
    UtrBertPreTrainedModel,
)

__all__ = [
    "UTRBERT_KS", "UtrBertConfig", "UtrBertPreTrainedModel", "UtrBertModel", "UtrBertForMaskedLM",
    "UtrBertForSequencePrediction", "UtrBertForTokenPrediction", "UtrBertForContactPrediction",
]  # fmt: skip
