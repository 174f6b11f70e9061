"""SpliceAI (Jaganathan et al., Cell 2019): configuration, model, conversion, prediction.

Importing this package registers ``spliceai`` with :class:`transformers.AutoConfig` and
:class:`transformers.AutoModel`.
"""

from transformers import AutoConfig, AutoModel

from .configuration_spliceai import SPLICEAI_10K_STAGES, SPLICEAI_LABELS, SPLICEAI_VARIANTS, SpliceAIConfig
from .convert import convert_keras_h5, convert_spliceai, find_spliceai_wheel_files
from .modeling_spliceai import SpliceAI, SpliceAIModel, SpliceAIOutput, SpliceAIPreTrainedModel
from .predict import iter_predict, predict_flanked, predict_sequence

AutoConfig.register(SpliceAIConfig.model_type, SpliceAIConfig, exist_ok=True)
AutoModel.register(SpliceAIConfig, SpliceAIModel, exist_ok=True)

__all__ = [
    "SPLICEAI_10K_STAGES",
    "SPLICEAI_LABELS",
    "SPLICEAI_VARIANTS",
    "SpliceAI",
    "SpliceAIConfig",
    "SpliceAIModel",
    "SpliceAIOutput",
    "SpliceAIPreTrainedModel",
    "convert_keras_h5",
    "convert_spliceai",
    "find_spliceai_wheel_files",
    "iter_predict",
    "predict_flanked",
    "predict_sequence",
]
