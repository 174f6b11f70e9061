"""The shared BERT-family encoder (SpliceBERT, 3UTRBERT and RNAErnie are configurations of it)."""

from nucleoforge.models.bert.configuration_bert import PROBLEM_TYPES, NucleotideBertConfig
from nucleoforge.models.bert.modeling_bert import (
    EncoderOutput,
    MaskedLMOutput,
    NucleotideBertForContactPrediction,
    NucleotideBertForMaskedLM,
    NucleotideBertForSequencePrediction,
    NucleotideBertForTokenPrediction,
    NucleotideBertModel,
    NucleotideBertPreTrainedModel,
    PredictionOutput,
)

__all__ = [
    "PROBLEM_TYPES", "NucleotideBertConfig", "EncoderOutput", "MaskedLMOutput", "PredictionOutput",
    "NucleotideBertPreTrainedModel", "NucleotideBertModel", "NucleotideBertForMaskedLM",
    "NucleotideBertForSequencePrediction", "NucleotideBertForTokenPrediction",
    "NucleotideBertForContactPrediction",
]  # fmt: skip
