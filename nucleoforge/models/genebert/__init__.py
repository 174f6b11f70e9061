"""GeneBERT: multi-modal (sequence + region × motif matrix) pretraining for regulatory DNA.

``import nucleoforge`` registers (through :mod:`nucleoforge.registry`) :class:`GeneBertConfig` (``model_type="genebert"``) with
``AutoConfig``, :class:`GeneBertModel` with ``AutoModel`` and :class:`GeneBertForPreTraining`
with ``AutoModelForPreTraining``; the stand-alone sequence encoder (``genebert-sequence``) is
registered like every BERT-family model.
"""

from nucleoforge.models.genebert.configuration_genebert import (
    REGION_ENCODERS,
    GeneBertConfig,
    GeneBertSequenceConfig,
)
from nucleoforge.models.genebert.modeling_genebert import (
    GeneBertForPreTraining,
    GeneBertForPreTrainingOutput,
    GeneBertForSequencePrediction,
    GeneBertForTokenPrediction,
    GeneBertModel,
    GeneBertOutput,
    GeneBertPreTrainedModel,
    GeneBertSequenceForContactPrediction,
    GeneBertSequenceForMaskedLM,
    GeneBertSequenceForSequencePrediction,
    GeneBertSequenceForTokenPrediction,
    GeneBertSequenceModel,
    srm_infonce_loss,
    srm_pooled_loss,
)

__all__ = [
    "REGION_ENCODERS", "GeneBertConfig", "GeneBertSequenceConfig", "GeneBertPreTrainedModel",
    "GeneBertModel", "GeneBertForPreTraining", "GeneBertOutput", "GeneBertForPreTrainingOutput",
    "GeneBertSequenceModel", "GeneBertSequenceForMaskedLM", "GeneBertSequenceForContactPrediction", "GeneBertSequenceForSequencePrediction",
    "GeneBertSequenceForTokenPrediction", "GeneBertForSequencePrediction", "GeneBertForTokenPrediction",
    "srm_infonce_loss", "srm_pooled_loss",
]  # fmt: skip
