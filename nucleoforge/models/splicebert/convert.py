"""SpliceBERT checkpoints (HF ``BertForMaskedLM``: Zenodo ``SpliceBERT.1024nt`` / ``.510nt`` /
``-human.510nt``) → nucleoforge. The key map is :data:`~nucleoforge.models.bert.convert.HF_BERT_RULES`."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from nucleoforge.models.bert.convert import HF_BERT_IGNORED, HF_BERT_RULES, load_strict, map_keys
from nucleoforge.models.splicebert.configuration_splicebert import SPLICEBERT_VARIANTS, SpliceBertConfig
from nucleoforge.models.splicebert.modeling_splicebert import SpliceBertForMaskedLM


def config_from_original(original: Mapping) -> SpliceBertConfig:
    """Our config from the original HF ``config.json`` dict; the variant follows the positions."""
    positions = int(original["max_position_embeddings"])
    variant = "splicebert" if positions == SPLICEBERT_VARIANTS["splicebert"] else "splicebert.510"
    return SpliceBertConfig(
        variant=variant,
        vocab_size=int(original["vocab_size"]),
        hidden_size=int(original["hidden_size"]),
        num_hidden_layers=int(original["num_hidden_layers"]),
        num_attention_heads=int(original["num_attention_heads"]),
        intermediate_size=int(original["intermediate_size"]),
        hidden_act=original.get("hidden_act", "gelu"),
        max_position_embeddings=positions,
        type_vocab_size=int(original.get("type_vocab_size", 2)),
        layer_norm_eps=float(original.get("layer_norm_eps", 1e-12)),
    )


def load_original_state_dict(model: SpliceBertForMaskedLM, state: Mapping[str, torch.Tensor]) -> None:
    """Fill ``model`` from an original SpliceBERT state dict, strictly (the pooler, if any, is ignored)."""
    load_strict(model, map_keys(state, HF_BERT_RULES, HF_BERT_IGNORED, skip=[r"bert\.pooler\..*"]))
