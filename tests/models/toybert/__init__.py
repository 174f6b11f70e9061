"""A hypothetical fourth BERT-family model, as a user would add one: this folder plus one
registry entry (see tests/models/test_registry.py)."""

from tests.models.toybert.configuration_toybert import ToyBertConfig
from tests.models.toybert.modeling_toybert import ToyBertForMaskedLM, ToyBertModel, ToyBertPreTrainedModel

__all__ = ["ToyBertConfig", "ToyBertPreTrainedModel", "ToyBertModel", "ToyBertForMaskedLM"]
