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
from nucleoforge.models.bert.registry import register_bert_family

__all__ = [
    "PROBLEM_TYPES", "NucleotideBertConfig", "EncoderOutput", "MaskedLMOutput", "PredictionOutput",
    "NucleotideBertPreTrainedModel", "NucleotideBertModel", "NucleotideBertForMaskedLM",
    "NucleotideBertForSequencePrediction", "NucleotideBertForTokenPrediction",
    "NucleotideBertForContactPrediction", "register_bert_family",
]  # fmt: skip
