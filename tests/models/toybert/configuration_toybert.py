"""ToyBERT: 2 layers × 32 hidden over 2-mers of ACGT, 66 positions."""

from __future__ import annotations

from typing import Any

from nucleoforge.models.bert.configuration_bert import NucleotideBertConfig


class ToyBertConfig(NucleotideBertConfig):
    model_type = "toybert"

    def __init__(self, k: int = 2, **kwargs: Any) -> None:
        defaults = dict(vocab_size=5 + 4**k, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=66)  # fmt: skip
        super().__init__(k=k, **{**defaults, **kwargs})
