"""SpliceBERT model classes: the shared encoder with :class:`SpliceBertConfig` (nothing copied)."""

from nucleoforge.models.bert.registry import register_bert_family
from nucleoforge.models.splicebert.configuration_splicebert import SpliceBertConfig

_classes = register_bert_family("SpliceBert", SpliceBertConfig, __name__)
SpliceBertPreTrainedModel = _classes.PreTrainedModel
SpliceBertModel = _classes.Model
SpliceBertForMaskedLM = _classes.ForMaskedLM
SpliceBertForSequencePrediction = _classes.ForSequencePrediction
SpliceBertForTokenPrediction = _classes.ForTokenPrediction
SpliceBertForContactPrediction = _classes.ForContactPrediction
