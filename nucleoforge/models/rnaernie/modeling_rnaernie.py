"""RNAErnie model classes: the shared encoder with :class:`RnaErnieConfig` (nothing copied)."""

from nucleoforge.models.bert.registry import register_bert_family
from nucleoforge.models.rnaernie.configuration_rnaernie import RnaErnieConfig

_classes = register_bert_family("RnaErnie", RnaErnieConfig, __name__)
RnaErniePreTrainedModel = _classes.PreTrainedModel
RnaErnieModel = _classes.Model
RnaErnieForMaskedLM = _classes.ForMaskedLM
RnaErnieForSequencePrediction = _classes.ForSequencePrediction
RnaErnieForTokenPrediction = _classes.ForTokenPrediction
RnaErnieForContactPrediction = _classes.ForContactPrediction
