"""3UTRBERT model classes: the shared encoder with :class:`UtrBertConfig` (nothing copied; the
architecture lives once, in :mod:`nucleoforge.models.bert.modeling_bert`)."""

from nucleoforge.models.bert.modeling_bert import (
    NucleotideBertForContactPrediction,
    NucleotideBertForMaskedLM,
    NucleotideBertForSequencePrediction,
    NucleotideBertForTokenPrediction,
    NucleotideBertModel,
    NucleotideBertPreTrainedModel,
)
from nucleoforge.models.utrbert.configuration_utrbert import UtrBertConfig


class UtrBertPreTrainedModel(NucleotideBertPreTrainedModel):
    config_class = UtrBertConfig


class UtrBertModel(NucleotideBertModel):
    config_class = UtrBertConfig


class UtrBertForMaskedLM(NucleotideBertForMaskedLM):
    config_class = UtrBertConfig


class UtrBertForSequencePrediction(NucleotideBertForSequencePrediction):
    config_class = UtrBertConfig


class UtrBertForTokenPrediction(NucleotideBertForTokenPrediction):
    config_class = UtrBertConfig


class UtrBertForContactPrediction(NucleotideBertForContactPrediction):
    config_class = UtrBertConfig
