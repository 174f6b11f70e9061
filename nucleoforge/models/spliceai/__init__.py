"""SpliceAI (Jaganathan et al., Cell 2019): configuration, model, conversion.

``import nucleoforge`` registers ``spliceai`` with :class:`transformers.AutoConfig` and
:class:`transformers.AutoModel` (see :mod:`nucleoforge.registry`).
"""

from .configuration_spliceai import SPLICEAI_10K_STAGES, SPLICEAI_LABELS, SPLICEAI_VARIANTS, SpliceAIConfig
from .convert import convert_keras_h5, convert_spliceai, find_spliceai_wheel_files
from .convert_pytorch import convert_openspliceai, convert_pangolin
from .modeling_spliceai import SpliceAI, SpliceAIModel, SpliceAIOutput, SpliceAIPreTrainedModel
from .pretrained import NAMED_WEIGHTS, licence_notice, resolve_named

__all__ = [
    "NAMED_WEIGHTS",
    "convert_openspliceai",
    "convert_pangolin",
    "licence_notice",
    "resolve_named",
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
]
