"""ToyBERT model classes: the shared encoder with :class:`ToyBertConfig`."""

from nucleoforge.models.bert.modeling_bert import NucleotideBertForMaskedLM, NucleotideBertModel, NucleotideBertPreTrainedModel
from tests.models.toybert.configuration_toybert import ToyBertConfig


class ToyBertPreTrainedModel(NucleotideBertPreTrainedModel):
    config_class = ToyBertConfig


class ToyBertModel(NucleotideBertModel):
    config_class = ToyBertConfig


class ToyBertForMaskedLM(NucleotideBertForMaskedLM):
    config_class = ToyBertConfig
