"""RNAErnie model classes: the shared encoder with :class:`RnaErnieConfig` (nothing copied; the
architecture lives once, in :mod:`nucleoforge.models.bert.modeling_bert`)."""

from nucleoforge.models.bert.modeling_bert import (
    NucleotideBertForContactPrediction,
    NucleotideBertForMaskedLM,
    NucleotideBertForSequencePrediction,
    NucleotideBertForTokenPrediction,
    NucleotideBertModel,
    NucleotideBertPreTrainedModel,
)
from nucleoforge.models.rnaernie.configuration_rnaernie import RnaErnieConfig


class RnaErniePreTrainedModel(NucleotideBertPreTrainedModel):
    config_class = RnaErnieConfig


class RnaErnieModel(NucleotideBertModel):
    config_class = RnaErnieConfig


class RnaErnieForMaskedLM(NucleotideBertForMaskedLM):
    config_class = RnaErnieConfig


class RnaErnieForSequencePrediction(NucleotideBertForSequencePrediction):
    config_class = RnaErnieConfig


class RnaErnieForTokenPrediction(NucleotideBertForTokenPrediction):
    config_class = RnaErnieConfig


class RnaErnieForContactPrediction(NucleotideBertForContactPrediction):
    config_class = RnaErnieConfig
