"""Key maps from original BERT-family checkpoints to nucleoforge's parameter names, applied strictly.

A converter is the only place that knows an original checkpoint's quirks. Each map is a list
of ``(regex on the source key, target template, transpose)``; every source tensor must match a
rule or be listed as ignored, and every target parameter must be filled — otherwise
:class:`ConversionError` lists the missing and unexpected keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

Rule = tuple[str, str, bool]  # (source regex, target template with \1 groups, transpose a 2-D weight)


class ConversionError(ValueError):
    """An original checkpoint does not map one-to-one onto the target model."""


def _norm(name: str) -> str:
    # old TF-ported checkpoints call LayerNorm parameters gamma/beta
    return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")


#: transformers ``BertForMaskedLM`` / ``BertForPreTraining`` (SpliceBERT, 3UTRBERT/DNABERT) → ours.
HF_BERT_RULES: list[Rule] = [
    (r"bert\.embeddings\.(word|position|token_type)_embeddings\.weight", r"bert.embeddings.\1_embeddings.weight", False),
    (r"bert\.embeddings\.LayerNorm\.(weight|bias)", r"bert.embeddings.layer_norm.\1", False),
    (r"bert\.encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)", r"bert.layers.\1.attention.\2.\3", False),
    (r"bert\.encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", r"bert.layers.\1.attention_output.\2", False),
    (r"bert\.encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)", r"bert.layers.\1.attention_norm.\2", False),
    (r"bert\.encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", r"bert.layers.\1.intermediate.\2", False),
    (r"bert\.encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", r"bert.layers.\1.output.\2", False),
    (r"bert\.encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)", r"bert.layers.\1.output_norm.\2", False),
    (r"bert\.pooler\.dense\.(weight|bias)", r"bert.pooler.dense.\1", False),
    (r"cls\.predictions\.transform\.dense\.(weight|bias)", r"lm_head.dense.\1", False),
    (r"cls\.predictions\.transform\.LayerNorm\.(weight|bias)", r"lm_head.layer_norm.\1", False),
    (r"cls\.predictions\.bias", r"lm_head.bias", False),
    (r"cls\.predictions\.decoder\.weight", r"lm_head.decoder.weight", False),
]
#: Source keys that carry nothing the target needs (rebuildable buffers, duplicates of tied weights).
HF_BERT_IGNORED = [
    r"bert\.embeddings\.position_ids",
    r"cls\.predictions\.decoder\.bias",  # the same tensor as cls.predictions.bias
    r"cls\.seq_relationship\.(weight|bias)",  # next-sentence head of BertForPreTraining
]

#: PaddleNLP ``ErnieForMaskedLM`` (RNAErnie) → ours; Paddle ``Linear`` weights are [in, out].
PADDLE_ERNIE_RULES: list[Rule] = [
    (r"ernie\.embeddings\.(word|position|token_type)_embeddings\.weight", r"bert.embeddings.\1_embeddings.weight", False),
    (r"ernie\.embeddings\.layer_norm\.(weight|bias)", r"bert.embeddings.layer_norm.\1", False),
    (r"ernie\.encoder\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)", r"bert.layers.\1.attention.query.\2", True),
    (r"ernie\.encoder\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)", r"bert.layers.\1.attention.key.\2", True),
    (r"ernie\.encoder\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)", r"bert.layers.\1.attention.value.\2", True),
    (r"ernie\.encoder\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)", r"bert.layers.\1.attention_output.\2", True),
    (r"ernie\.encoder\.layers\.(\d+)\.norm1\.(weight|bias)", r"bert.layers.\1.attention_norm.\2", False),
    (r"ernie\.encoder\.layers\.(\d+)\.linear1\.(weight|bias)", r"bert.layers.\1.intermediate.\2", True),
    (r"ernie\.encoder\.layers\.(\d+)\.linear2\.(weight|bias)", r"bert.layers.\1.output.\2", True),
    (r"ernie\.encoder\.layers\.(\d+)\.norm2\.(weight|bias)", r"bert.layers.\1.output_norm.\2", False),
    (r"ernie\.pooler\.dense\.(weight|bias)", r"bert.pooler.dense.\1", True),
    (r"cls\.predictions\.transform\.(weight|bias)", r"lm_head.dense.\1", True),
    (r"cls\.predictions\.layer_norm\.(weight|bias)", r"lm_head.layer_norm.\1", False),
    (r"cls\.predictions\.decoder_bias", r"lm_head.bias", False),
]
PADDLE_ERNIE_IGNORED: list[str] = []


@dataclass
class Mapped:
    """Result of applying a key map: target tensors, and the source keys ignored by rule."""

    tensors: dict[str, torch.Tensor]
    ignored: list[str]
    sources: dict[str, str]  # target key -> source key (for error messages)


def map_keys(
    state: Mapping[str, torch.Tensor | np.ndarray],
    rules: Iterable[Rule],
    ignored: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> Mapped:
    """Rename (and transpose where a rule says so) every source tensor.

    ``skip`` lists extra regexes to ignore for this conversion (e.g. the pooler when the target
    has none). A source key that matches no rule and no ignore pattern raises
    :class:`ConversionError` naming it.
    """
    compiled = [(re.compile(src + r"\Z"), dst, t) for src, dst, t in rules]
    ignore = [re.compile(p + r"\Z") for p in [*ignored, *skip]]
    out: dict[str, torch.Tensor] = {}
    sources: dict[str, str] = {}
    dropped: list[str] = []
    unexpected: list[str] = []
    for key, value in state.items():
        name = _norm(key)
        tensor = torch.as_tensor(np.asarray(value)) if not isinstance(value, torch.Tensor) else value
        for pattern, template, transpose in compiled:
            match = pattern.match(name)
            if match:
                target = match.expand(template)
                if target in out:
                    raise ConversionError(f"source keys {sources[target]!r} and {key!r} both map to {target!r}")
                out[target] = tensor.t().contiguous() if transpose and tensor.dim() == 2 else tensor
                sources[target] = key
                break
        else:
            if any(p.match(name) for p in ignore):
                dropped.append(key)
            else:
                unexpected.append(key)
    if unexpected:
        raise ConversionError(
            f"{len(unexpected)} source tensor(s) match no rule of this converter: {sorted(unexpected)[:20]}"
            + (" …" if len(unexpected) > 20 else "")
        )
    return Mapped(out, dropped, sources)


def load_strict(model: nn.Module, mapped: Mapped) -> None:
    """Copy mapped tensors into ``model``: every parameter/persistent buffer filled, shapes checked.

    Tied parameters (the MLM decoder = the word embeddings) count as filled through their twin,
    and a source that carries both must carry equal tensors.
    """
    target = model.state_dict()
    tied = _tied_aliases(model)
    missing = [k for k in target if k not in mapped.tensors and not any(a in mapped.tensors for a in tied.get(k, ()))]
    unexpected = [k for k in mapped.tensors if k not in target]
    if missing or unexpected:
        raise ConversionError(
            "the checkpoint does not fit the model:\n"
            f"  missing (no source tensor): {missing}\n"
            f"  unexpected (no such parameter): {[f'{k} (from {mapped.sources[k]})' for k in unexpected]}"
        )
    for key, tensor in mapped.tensors.items():
        if tuple(tensor.shape) != tuple(target[key].shape):
            raise ConversionError(
                f"shape mismatch for {key} (source {mapped.sources[key]!r}): checkpoint {tuple(tensor.shape)}, "
                f"model {tuple(target[key].shape)}"
            )
    for key, aliases in tied.items():
        for alias in aliases:
            if key in mapped.tensors and alias in mapped.tensors and not torch.equal(mapped.tensors[key], mapped.tensors[alias]):
                raise ConversionError(
                    f"{mapped.sources[key]!r} and {mapped.sources[alias]!r} should be the same tied tensor but differ"
                )
    with torch.no_grad():
        for key, tensor in mapped.tensors.items():
            target[key].copy_(tensor.to(target[key].dtype))


def _tied_aliases(model: nn.Module) -> dict[str, list[str]]:
    """Parameter names that share storage, keyed by every name of the group."""
    groups: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(param), []).append(name)
    aliases: dict[str, list[str]] = {}
    for names in groups.values():
        for name in names:
            aliases[name] = [n for n in names if n != name]
    return aliases
