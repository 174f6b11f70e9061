"""SpliceBERT (Chen et al. 2023): pre-mRNA MLM, 6 layers × 512 hidden, 16 heads, FFN 2048, GELU."""

from __future__ import annotations

from typing import Any

from nucleoforge.errors import NucleoforgeError
from nucleoforge.models.bert.configuration_bert import NucleotideBertConfig
from nucleoforge.registry import family

#: variant -> max_position_embeddings (1024-nt model: 1026; the two 510-nt models: 512), from the registry
SPLICEBERT_VARIANTS = family("splicebert").variants


class SpliceBertConfig(NucleotideBertConfig):
    """SpliceBERT defaults from the model card; ``variant`` picks the position count.

    >>> SpliceBertConfig().max_position_embeddings, SpliceBertConfig(variant="splicebert.510").max_position_embeddings
    (1026, 512)
    """

    model_type = "splicebert"

    def __init__(self, variant: str = "splicebert", **kwargs: Any) -> None:
        if variant not in SPLICEBERT_VARIANTS:
            raise NucleoforgeError(f"unknown SpliceBERT variant {variant!r}; expected one of {sorted(SPLICEBERT_VARIANTS)}")
        self.variant = variant
        defaults = dict(
            vocab_size=10, k=1, hidden_size=512, num_hidden_layers=6, num_attention_heads=16,
            intermediate_size=2048, hidden_act="gelu", max_position_embeddings=SPLICEBERT_VARIANTS[variant],
            layer_norm_eps=1e-12, type_vocab_size=2,
        )  # fmt: skip
        super().__init__(**{**defaults, **kwargs})
