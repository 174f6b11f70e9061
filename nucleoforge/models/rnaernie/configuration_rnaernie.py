"""RNAErnie (Wang et al. 2024): ncRNA MLM, 12 × 768, ReLU, 513 positions, 39-token vocabulary."""

from __future__ import annotations

from typing import Any

from nucleoforge.models.bert.configuration_bert import NucleotideBertConfig
from nucleoforge.registry import family


class RnaErnieConfig(NucleotideBertConfig):
    """RNAErnie defaults (PaddleNLP ``ErnieModel``: ReLU in the encoder and the MLM transform,
    eps 1e-12, no task-type embedding).

    >>> c = RnaErnieConfig(); c.hidden_act, c.vocab_size, c.max_position_embeddings
    ('relu', 39, 513)
    """

    model_type = "rnaernie"

    def __init__(self, **kwargs: Any) -> None:
        defaults = dict(
            vocab_size=39, k=1, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, hidden_act="relu", max_position_embeddings=family("rnaernie").positions(), layer_norm_eps=1e-12,
            type_vocab_size=2,
        )  # fmt: skip
        super().__init__(**{**defaults, **kwargs})
