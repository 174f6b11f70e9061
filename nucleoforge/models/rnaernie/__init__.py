"""RNAErnie: ncRNA masked language model (configurations of the shared BERT encoder)."""

from nucleoforge.models.rnaernie.configuration_rnaernie import RnaErnieConfig
from nucleoforge.models.rnaernie.modeling_rnaernie import (
    RnaErnieForContactPrediction,
    RnaErnieForMaskedLM,
    RnaErnieForSequencePrediction,
    RnaErnieForTokenPrediction,
    RnaErnieModel,
    RnaErniePreTrainedModel,
)

__all__ = [
    "RnaErnieConfig", "RnaErniePreTrainedModel", "RnaErnieModel", "RnaErnieForMaskedLM",
    "RnaErnieForSequencePrediction", "RnaErnieForTokenPrediction", "RnaErnieForContactPrediction",
]  # fmt: skip
