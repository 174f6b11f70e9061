"""GeneBERT configuration: a k-mer BERT for the sequence, a vision transformer for the region matrix.

GeneBERT (Mo et al., "Multi-modal Self-supervised Pre-training for Regulatory Genome Across
Cell Types") pairs a DNABERT-style k-mer encoder (1-D modality: ``group_size`` concatenated
regulatory regions) with an image transformer over the ``group_size × n_TF`` motif-affinity
matrix of the same regions (2-D modality). No original code or weights were published; the
defaults follow the paper (6-mers, Swin region encoder, λ = 0.5).
"""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from nucleoforge.errors import NucleoforgeError
from nucleoforge.models.bert.configuration_bert import NucleotideBertConfig

#: region encoders the paper compares (its Table 7; T2T-ViT is not in transformers).
REGION_ENCODERS = ("swin", "vit", "deit")
SRM_LOSSES = ("infonce", "pooled")


class GeneBertSequenceConfig(NucleotideBertConfig):
    """The sequence encoder: DNABERT-6 shape (12 × 768, 12 heads, FFN 3072, 512 positions,
    vocabulary ``[PAD] [UNK] [CLS] [SEP] [MASK]`` + 4,096 ACGT 6-mers), two segment types.

    >>> c = GeneBertSequenceConfig()
    >>> c.vocab_size, c.k, c.hidden_size, c.type_vocab_size
    (4101, 6, 768, 2)
    """

    model_type = "genebert-sequence"

    def __init__(self, **kwargs: Any) -> None:
        k = kwargs.get("k", 6)
        defaults = dict(
            vocab_size=5 + 4**k, k=k, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, hidden_act="gelu", max_position_embeddings=512, type_vocab_size=2,
        )  # fmt: skip
        super().__init__(**{**defaults, **kwargs})


class GeneBertConfig(PretrainedConfig):
    r"""Configuration of the two GeneBERT encoders, their projections and the pretraining losses.

    Args:
        sequence_config: :class:`GeneBertSequenceConfig` (or its dict); default DNABERT-6 shape.
        region_config: a transformers ``SwinConfig``, ``ViTConfig`` or ``DeiTConfig`` (or a dict
            with ``model_type``); default Swin-T at 224 × 224 with 3 channels (ImageNet-shaped,
            so local pretrained Swin weights load). The ``group_size × n_TF`` matrix is resized
            (``region_interpolation``) to ``image_size`` and repeated over ``num_channels``.
        projection_dim: size of the shared sequence–region space.
        logit_scale_init_value: initial ``log(1/temperature)`` (CLIP's 2.6592 = log(1/0.07)).
        learnable_temperature: train the temperature (default) or keep it fixed.
        srm_weight: λ in ``L = L_mgm + L_ngsp + λ·L_srm`` (paper: 0.5). 0 disables the region
            branch during pretraining (the uni-modal ablation).
        ngsp_weight: weight of the next-segment loss (1; 0 leaves MGM alone, or MGM + SRM: the
            "MGM only" ablation arm).
        srm_loss: ``infonce`` — symmetric InfoNCE, the mean of per-row softmax cross-entropies in
            both directions (CLIP); ``pooled`` — the paper's Eq. 3 with exponentiated scaled
            cosine similarities, ``-log(Σ_i e^{s_ii} / Σ_ij e^{s_ij})``, one ratio for the batch.
        srm_gather: in training under ``torch.distributed`` with several ranks (torchrun),
            contrast every rank's rows against the pairs of all ranks, so the SRM batch is the
            global batch (``srm_loss="infonce"`` only; the pooled loss stays per rank).
        region_interpolation: how the ``group_size × n_TF`` matrix is resized to the image:
            ``area`` (default) averages every input cell into the pixel it falls in (adaptive
            average pooling; cells are repeated when the image is larger), so every motif column
            reaches the encoder; ``bilinear`` (without antialiasing) and ``nearest`` read only
            some columns when shrinking (579 JASPAR columns to 64 px: 128 survive bilinear) —
            kept only to load configs that name them.

    >>> GeneBertConfig(srm_weight=-1)
    Traceback (most recent call last):
    ...
    nucleoforge.errors.NucleoforgeError: srm_weight must be >= 0, got -1
    """

    model_type = "genebert"
    sub_configs_defaults = {
        "sequence_config": SubConfigSpec(config_class=GeneBertSequenceConfig),
        "region_config": SubConfigSpec(config_class=AutoConfig, model_type="swin"),
    }

    def __init__(
        self,
        sequence_config: GeneBertSequenceConfig | dict | None = None,
        region_config: PretrainedConfig | dict | None = None,
        projection_dim: int = 256,
        logit_scale_init_value: float = 2.6592,
        learnable_temperature: bool = True,
        srm_weight: float = 0.5,
        srm_loss: str = "infonce",
        ngsp_weight: float = 1.0,
        region_interpolation: str = "area",
        srm_gather: bool = True,
        tie_word_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        if sequence_config is None:
            sequence_config = GeneBertSequenceConfig()
        elif isinstance(sequence_config, dict):
            sequence_config = GeneBertSequenceConfig(**{k: v for k, v in sequence_config.items() if k != "model_type"})
        if region_config is None:
            region_config = AutoConfig.for_model("swin")
        elif isinstance(region_config, dict):
            region_config = dict(region_config)
            region_config = AutoConfig.for_model(region_config.pop("model_type", "swin"), **region_config)
        if region_config.model_type not in REGION_ENCODERS:
            raise NucleoforgeError(f"region_config.model_type must be one of {REGION_ENCODERS}, got {region_config.model_type!r}")
        if not isinstance(projection_dim, int) or projection_dim < 1:
            raise NucleoforgeError(f"projection_dim must be a positive integer, got {projection_dim!r}")
        if srm_weight < 0:
            raise NucleoforgeError(f"srm_weight must be >= 0, got {srm_weight}")
        if ngsp_weight < 0:
            raise NucleoforgeError(f"ngsp_weight must be >= 0, got {ngsp_weight}")
        if srm_loss not in SRM_LOSSES:
            raise NucleoforgeError(f"srm_loss must be one of {SRM_LOSSES}, got {srm_loss!r}")
        if region_interpolation not in ("area", "bilinear", "nearest"):
            raise NucleoforgeError(f"region_interpolation must be 'area', 'bilinear' or 'nearest', got {region_interpolation!r}")
        self.sequence_config = sequence_config
        self.region_config = region_config
        self.projection_dim = projection_dim
        self.logit_scale_init_value = float(logit_scale_init_value)
        self.learnable_temperature = learnable_temperature
        self.srm_weight = float(srm_weight)
        self.srm_loss = srm_loss
        self.ngsp_weight = float(ngsp_weight)
        self.region_interpolation = region_interpolation
        self.srm_gather = bool(srm_gather)
        self.tie_word_embeddings = tie_word_embeddings
        super().__init__(**kwargs)

    @property
    def region_image_size(self) -> tuple[int, int]:
        """(height, width) the region matrix is resized to."""
        size = self.region_config.image_size
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
