"""3UTRBERT checkpoints (figshare ``{k}-new-12w-0/``: DNABERT-style HF BERT with a pooler) → nucleoforge.

k comes from the vocabulary size (``4**k + 5``), never from the folder name.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from nucleoforge.models.bert.convert import ConversionError, HF_BERT_IGNORED, HF_BERT_RULES, load_strict, map_keys
from nucleoforge.models.utrbert.configuration_utrbert import UTRBERT_KS, UtrBertConfig
from nucleoforge.models.utrbert.modeling_utrbert import UtrBertForMaskedLM


def k_from_vocab_size(vocab_size: int) -> int:
    """>>> k_from_vocab_size(261)
    4
    """
    for k in UTRBERT_KS:
        if 4**k + 5 == vocab_size:
            return k
    raise ConversionError(f"vocab_size {vocab_size} is not a 3UTRBERT k-mer vocabulary (69, 261, 1029 or 4101)")


def config_from_original(original: Mapping) -> UtrBertConfig:
    """Our config from the original HF ``config.json`` dict."""
    return UtrBertConfig(
        k=k_from_vocab_size(int(original["vocab_size"])),
        hidden_size=int(original["hidden_size"]),
        num_hidden_layers=int(original["num_hidden_layers"]),
        num_attention_heads=int(original["num_attention_heads"]),
        intermediate_size=int(original["intermediate_size"]),
        hidden_act=original.get("hidden_act", "gelu"),
        max_position_embeddings=int(original["max_position_embeddings"]),
        type_vocab_size=int(original.get("type_vocab_size", 2)),
        layer_norm_eps=float(original.get("layer_norm_eps", 1e-12)),
    )


def load_original_state_dict(model: UtrBertForMaskedLM, state: Mapping[str, torch.Tensor]) -> None:
    """Fill ``model`` strictly; the original pooler is ignored when the target has none (masked LM)."""
    has_pooler = any(k.startswith("bert.pooler.") for k in model.state_dict())
    load_strict(model, map_keys(state, HF_BERT_RULES, HF_BERT_IGNORED, skip=[] if has_pooler else [r"bert\.pooler\..*"]))
