"""nucleoforge: nucleic-acid foundation models for PyTorch and Hugging Face transformers.

Importing the package registers every model with the transformers Auto classes, so
``AutoModelForMaskedLM.from_pretrained(dir)`` and ``AutoTokenizer.from_pretrained(dir)`` work
on folders written by nucleoforge.
"""

from nucleoforge.models.bert import NucleotideBertConfig
from nucleoforge.models.rnaernie import (
    RnaErnieConfig,
    RnaErnieForContactPrediction,
    RnaErnieForMaskedLM,
    RnaErnieForSequencePrediction,
    RnaErnieForTokenPrediction,
    RnaErnieModel,
)
from nucleoforge.models.splicebert import (
    SpliceBertConfig,
    SpliceBertForContactPrediction,
    SpliceBertForMaskedLM,
    SpliceBertForSequencePrediction,
    SpliceBertForTokenPrediction,
    SpliceBertModel,
)
from nucleoforge.models.utrbert import (
    UtrBertConfig,
    UtrBertForContactPrediction,
    UtrBertForMaskedLM,
    UtrBertForSequencePrediction,
    UtrBertForTokenPrediction,
    UtrBertModel,
)
from nucleoforge.models.genebert import (
    GeneBertConfig,
    GeneBertForPreTraining,
    GeneBertModel,
    GeneBertSequenceConfig,
    GeneBertSequenceForSequencePrediction,
    GeneBertSequenceForTokenPrediction,
)
from nucleoforge.models.spliceai import SpliceAI, SpliceAIConfig, SpliceAIModel
from nucleoforge.tokenization import NucleotideTokenizer

# registers the pipelines (fill-mask, embeddings, variant effect, attention, splice sites)
import nucleoforge.pipelines  # noqa: E402,F401  isort: skip

__version__ = "0.1.0"

__all__ = [
    "NucleotideTokenizer", "NucleotideBertConfig",
    "SpliceBertConfig", "SpliceBertModel", "SpliceBertForMaskedLM", "SpliceBertForSequencePrediction",
    "SpliceBertForTokenPrediction", "SpliceBertForContactPrediction",
    "UtrBertConfig", "UtrBertModel", "UtrBertForMaskedLM", "UtrBertForSequencePrediction",
    "UtrBertForTokenPrediction", "UtrBertForContactPrediction",
    "RnaErnieConfig", "RnaErnieModel", "RnaErnieForMaskedLM", "RnaErnieForSequencePrediction",
    "RnaErnieForTokenPrediction", "RnaErnieForContactPrediction",
    "SpliceAI", "SpliceAIConfig", "SpliceAIModel",
    "GeneBertConfig", "GeneBertSequenceConfig", "GeneBertModel", "GeneBertForPreTraining",
    "GeneBertSequenceForSequencePrediction", "GeneBertSequenceForTokenPrediction",
]  # fmt: skip
