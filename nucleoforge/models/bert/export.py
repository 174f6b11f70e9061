"""The way back: nucleoforge models written in their original release's layout (``nucleoforge export``).

The inverse key maps (``*_EXPORT_RULES``) are applied with the same strict
:func:`~nucleoforge.models.bert.convert.map_keys` as the import maps; :func:`export_model` is the one
export path every family goes through, and each family passes only the writer of its release's files
(:func:`write_hf_bert` for SpliceBERT and 3UTRBERT).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from torch import nn

from nucleoforge.io.checkpoints import load_model_folder
from nucleoforge.models.bert.convert import ConversionError, Rule, map_keys, prepare_destination, resolve_source

#: nucleoforge → transformers ``BertForMaskedLM`` (SpliceBERT, 3UTRBERT).
HF_BERT_EXPORT_RULES: list[Rule] = [
    (r"bert\.embeddings\.(word|position|token_type)_embeddings\.weight", r"bert.embeddings.\1_embeddings.weight", False),
    (r"bert\.embeddings\.layer_norm\.(weight|bias)", r"bert.embeddings.LayerNorm.\1", False),
    (r"bert\.layers\.(\d+)\.attention\.(query|key|value)\.(weight|bias)", r"bert.encoder.layer.\1.attention.self.\2.\3", False),
    (r"bert\.layers\.(\d+)\.attention_output\.(weight|bias)", r"bert.encoder.layer.\1.attention.output.dense.\2", False),
    (r"bert\.layers\.(\d+)\.attention_norm\.(weight|bias)", r"bert.encoder.layer.\1.attention.output.LayerNorm.\2", False),
    (r"bert\.layers\.(\d+)\.intermediate\.(weight|bias)", r"bert.encoder.layer.\1.intermediate.dense.\2", False),
    (r"bert\.layers\.(\d+)\.output\.(weight|bias)", r"bert.encoder.layer.\1.output.dense.\2", False),
    (r"bert\.layers\.(\d+)\.output_norm\.(weight|bias)", r"bert.encoder.layer.\1.output.LayerNorm.\2", False),
    (r"bert\.pooler\.dense\.(weight|bias)", r"bert.pooler.dense.\1", False),
    (r"lm_head\.dense\.(weight|bias)", r"cls.predictions.transform.dense.\1", False),
    (r"lm_head\.layer_norm\.(weight|bias)", r"cls.predictions.transform.LayerNorm.\1", False),
    (r"lm_head\.bias", r"cls.predictions.bias", False),
    (r"lm_head\.decoder\.weight", r"cls.predictions.decoder.weight", False),
]

#: nucleoforge → PaddleNLP 2.4 ``ErnieForMaskedLM`` (the layout of RNAErnie's release); Linear → [in, out].
PADDLE_ERNIE_EXPORT_RULES: list[Rule] = [
    (r"bert\.embeddings\.(word|position|token_type)_embeddings\.weight", r"ernie.embeddings.\1_embeddings.weight", False),
    (r"bert\.embeddings\.layer_norm\.(weight|bias)", r"ernie.embeddings.layer_norm.\1", False),
    (r"bert\.layers\.(\d+)\.attention\.query\.(weight|bias)", r"ernie.encoder.layers.\1.self_attn.q_proj.\2", True),
    (r"bert\.layers\.(\d+)\.attention\.key\.(weight|bias)", r"ernie.encoder.layers.\1.self_attn.k_proj.\2", True),
    (r"bert\.layers\.(\d+)\.attention\.value\.(weight|bias)", r"ernie.encoder.layers.\1.self_attn.v_proj.\2", True),
    (r"bert\.layers\.(\d+)\.attention_output\.(weight|bias)", r"ernie.encoder.layers.\1.self_attn.out_proj.\2", True),
    (r"bert\.layers\.(\d+)\.attention_norm\.(weight|bias)", r"ernie.encoder.layers.\1.norm1.\2", False),
    (r"bert\.layers\.(\d+)\.intermediate\.(weight|bias)", r"ernie.encoder.layers.\1.linear1.\2", True),
    (r"bert\.layers\.(\d+)\.output\.(weight|bias)", r"ernie.encoder.layers.\1.linear2.\2", True),
    (r"bert\.layers\.(\d+)\.output_norm\.(weight|bias)", r"ernie.encoder.layers.\1.norm2.\2", False),
    (r"bert\.pooler\.dense\.(weight|bias)", r"ernie.pooler.dense.\1", True),
    (r"lm_head\.dense\.(weight|bias)", r"cls.predictions.transform.\1", True),
    (r"lm_head\.layer_norm\.(weight|bias)", r"cls.predictions.layer_norm.\1", False),
    (r"lm_head\.bias", r"cls.predictions.decoder_bias", False),
    (r"lm_head\.decoder\.weight", r"cls.predictions.decoder_weight", False),
]


def export_state_dict(model: nn.Module, rules: Iterable[Rule]) -> dict[str, torch.Tensor]:
    """``model``'s tensors under the original names (every parameter must match a rule)."""
    mapped = map_keys(model.state_dict(), rules)
    return {k: v.detach().clone().contiguous() for k, v in mapped.tensors.items()}


def export_model(
    model: nn.Module | str | os.PathLike, dst: str | os.PathLike, overwrite: bool, model_class: type, rules: Iterable[Rule],
    write: Callable[[nn.Module, dict[str, torch.Tensor], Path], None],
) -> Path:
    """The export path of every family: ``model`` (or the nucleoforge folder it names, which must hold a
    ``model_class`` model) is mapped to the original names with ``rules``; ``write(model, state, folder)``
    lays out the release's files in the prepared ``dst``, which is returned."""
    if not isinstance(model, nn.Module):
        model = load_nucleoforge_folder(model, model_class, model_class.config_class.model_type)
    out = prepare_destination(dst, overwrite)
    write(model, export_state_dict(model, rules), out)
    return out


def write_hf_bert(state: dict[str, torch.Tensor], cfg: object, out: Path, vocabulary: Sequence[str], position_ids: bool) -> None:
    """An original HF BERT folder (SpliceBERT, 3UTRBERT): ``pytorch_model.bin`` (the decoder bias saved twice,
    as transformers does, and with ``position_ids`` if the release carries them), ``config.json`` (a transformers
    ``BertConfig``) and ``vocab.txt``."""
    from transformers import BertConfig

    state["cls.predictions.decoder.bias"] = state["cls.predictions.bias"].clone()
    if position_ids:
        state["bert.embeddings.position_ids"] = torch.arange(cfg.max_position_embeddings).unsqueeze(0)  # type: ignore[attr-defined]
    torch.save(state, out / "pytorch_model.bin")
    BertConfig(**hf_bert_config_kwargs(cfg)).to_json_file(str(out / "config.json"))
    write_vocab(out / "vocab.txt", vocabulary)


def write_vocab(path: Path, tokens: Sequence[str]) -> None:
    """A vocabulary file: one token a line, in id order."""
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")


def hf_bert_config_kwargs(cfg: object) -> dict:
    """Arguments of a transformers ``BertConfig`` equivalent to one of our configs (for export)."""
    names = (
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
        "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "hidden_dropout_prob",
        "attention_probs_dropout_prob", "initializer_range", "pad_token_id",
    )  # fmt: skip
    return {"architectures": ["BertForMaskedLM"], **{n: getattr(cfg, n) for n in names}}


def load_nucleoforge_folder(path: str | os.PathLike, model_class: type, model_type: str) -> nn.Module:
    """The masked-LM model of a nucleoforge folder, which must hold a ``model_type`` model."""
    from transformers import AutoConfig

    folder = resolve_source(path, "a nucleoforge folder", "`nucleoforge convert` or save_pretrained")
    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{folder}: not a nucleoforge model folder: {exc}") from None
    if config.model_type != model_type:
        raise ConversionError(f"{folder}: holds a {config.model_type!r} model, not {model_type!r}")
    # missing or unknown weights are an error, not random ones
    return load_model_folder(model_class.from_pretrained, folder, model_types=[model_type], what=f"a {model_type} model").eval()
