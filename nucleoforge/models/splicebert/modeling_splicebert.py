"""SpliceBERT model classes: the shared encoder with :class:`SpliceBertConfig` (nothing copied; the
architecture lives once, in :mod:`nucleoforge.models.bert.modeling_bert`)."""

from nucleoforge.models.bert.modeling_bert import (
    NucleotideBertForContactPrediction,
    NucleotideBertForMaskedLM,
    NucleotideBertForSequencePrediction,
    NucleotideBertForTokenPrediction,
    NucleotideBertModel,
    NucleotideBertPreTrainedModel,
)
from nucleoforge.models.splicebert.configuration_splicebert import SpliceBertConfig


class SpliceBertPreTrainedModel(NucleotideBertPreTrainedModel):
    config_class = SpliceBertConfig


class SpliceBertModel(NucleotideBertModel):
    config_class = SpliceBertConfig


class SpliceBertForMaskedLM(NucleotideBertForMaskedLM):
    config_class = SpliceBertConfig


class SpliceBertForSequencePrediction(NucleotideBertForSequencePrediction):
    config_class = SpliceBertConfig


class SpliceBertForTokenPrediction(NucleotideBertForTokenPrediction):
    config_class = SpliceBertConfig


class SpliceBertForContactPrediction(NucleotideBertForContactPrediction):
    config_class = SpliceBertConfig
