"""Create a model family's classes (subclasses of the shared encoder) and register them with the Auto classes."""

from __future__ import annotations

from types import SimpleNamespace

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

from nucleoforge.models.bert import modeling_bert as mb
from nucleoforge.models.bert.configuration_bert import NucleotideBertConfig
from nucleoforge.tokenization import NucleotideTokenizer

_BASES = {
    "PreTrainedModel": mb.NucleotideBertPreTrainedModel,
    "Model": mb.NucleotideBertModel,
    "ForMaskedLM": mb.NucleotideBertForMaskedLM,
    "ForSequencePrediction": mb.NucleotideBertForSequencePrediction,
    "ForTokenPrediction": mb.NucleotideBertForTokenPrediction,
    "ForContactPrediction": mb.NucleotideBertForContactPrediction,
}


def register_bert_family(prefix: str, config_class: type[NucleotideBertConfig], module: str) -> SimpleNamespace:
    """Subclass every shared model class for ``config_class`` (``{prefix}Model``, ``{prefix}ForMaskedLM``, …)
    and register them with AutoConfig / AutoModel / AutoModelForMaskedLM / AutoTokenizer.

    The subclasses add nothing but their config class and name: the architecture lives once,
    in :mod:`nucleoforge.models.bert.modeling_bert`.
    """
    classes = {}
    for suffix, base in _BASES.items():
        cls = type(f"{prefix}{suffix}", (base,), {"config_class": config_class, "__module__": module,
                                                  "__doc__": f"{prefix} {suffix}: see :class:`{base.__name__}`."})  # fmt: skip
        classes[suffix] = cls
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoModel.register(config_class, classes["Model"], exist_ok=True)
    AutoModelForMaskedLM.register(config_class, classes["ForMaskedLM"], exist_ok=True)
    AutoModelForSequenceClassification.register(config_class, classes["ForSequencePrediction"], exist_ok=True)
    AutoModelForTokenClassification.register(config_class, classes["ForTokenPrediction"], exist_ok=True)
    AutoTokenizer.register(config_class, tokenizer_class=NucleotideTokenizer, exist_ok=True)
    return SimpleNamespace(**classes)
