"""3UTRBERT model classes: the shared encoder with :class:`UtrBertConfig` (nothing copied)."""

from nucleoforge.models.bert.registry import register_bert_family
from nucleoforge.models.utrbert.configuration_utrbert import UtrBertConfig

_classes = register_bert_family("UtrBert", UtrBertConfig, __name__)
UtrBertPreTrainedModel = _classes.PreTrainedModel
UtrBertModel = _classes.Model
UtrBertForMaskedLM = _classes.ForMaskedLM
UtrBertForSequencePrediction = _classes.ForSequencePrediction
UtrBertForTokenPrediction = _classes.ForTokenPrediction
UtrBertForContactPrediction = _classes.ForContactPrediction
