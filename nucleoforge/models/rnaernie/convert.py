"""RNAErnie checkpoints (PaddleNLP ``ErnieForMaskedLM``: ``model_state.pdparams`` + ``model_config.json``)
→ nucleoforge. Key map: :data:`~nucleoforge.models.bert.convert.PADDLE_ERNIE_RULES` (Linear weights
are [in, out] in Paddle and are transposed)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nucleoforge.models.bert.convert import PADDLE_ERNIE_IGNORED, PADDLE_ERNIE_RULES, load_strict, map_keys
from nucleoforge.models.rnaernie.configuration_rnaernie import RnaErnieConfig
from nucleoforge.models.rnaernie.modeling_rnaernie import RnaErnieForMaskedLM


def config_from_original(init_args: Mapping) -> RnaErnieConfig:
    """Our config from the ``ErnieModel`` arguments in ``model_config.json`` (``init_args``)."""
    return RnaErnieConfig(
        vocab_size=int(init_args["vocab_size"]),
        hidden_size=int(init_args["hidden_size"]),
        num_hidden_layers=int(init_args["num_hidden_layers"]),
        num_attention_heads=int(init_args["num_attention_heads"]),
        intermediate_size=int(init_args["intermediate_size"]),
        hidden_act=init_args.get("hidden_act", "relu"),
        max_position_embeddings=int(init_args["max_position_embeddings"]),
        type_vocab_size=int(init_args.get("type_vocab_size", 2)),
        layer_norm_eps=float(init_args.get("layer_norm_eps", 1e-12)),
    )


def load_original_state_dict(model: RnaErnieForMaskedLM, state: Mapping[str, np.ndarray]) -> None:
    """Fill ``model`` strictly from a Paddle state dict (the pooler is ignored when the target has none)."""
    has_pooler = any(k.startswith("bert.pooler.") for k in model.state_dict())
    skip = [] if has_pooler else [r"ernie\.pooler\..*"]
    load_strict(model, map_keys(state, PADDLE_ERNIE_RULES, PADDLE_ERNIE_IGNORED, skip=skip))
