"""3UTRBERT checkpoints (figshare ``{k}-new-12w-0/``: DNABERT-style HF BERT with a pooler) ↔ nucleoforge.

k comes from the vocabulary size (``4**k + 5``), never from the folder name. The original
``pytorch_model.bin`` carries a pooler (``bert.pooler.dense``) that a masked-LM model does not
use; it is listed as ignored when converting to :class:`UtrBertForMaskedLM`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from nucleoforge.io.checkpoints import load_hf_folder_weights, sha256
from nucleoforge.models.bert.convert import (
    HF_BERT_EXPORT_RULES,
    HF_BERT_IGNORED,
    HF_BERT_RULES,
    ConversionError,
    ConversionReport,
    Mapped,
    check_destination,
    check_vocab,
    config_or_error,
    empty_model,
    export_state_dict,
    folder_error,
    hf_bert_config_kwargs,
    load_nucleoforge_folder,
    load_strict,
    map_keys,
    prepare_destination,
    read_json,
    resolve_source,
    write_converted,
)
from nucleoforge.models.utrbert.configuration_utrbert import UTRBERT_KS, UtrBertConfig
from nucleoforge.models.utrbert.modeling_utrbert import UtrBertForMaskedLM
from nucleoforge.tokenization import NucleotideTokenizer, vocabulary_for

RELEASE = "the 3UTRBERT k-mer models ({k}-new-12w-0 folders)"
WHERE = "figshare (linked from github.com/yangyn533/3UTRBERT)"


def k_from_vocab_size(vocab_size: int) -> int:
    """k of a 3UTRBERT vocabulary of ``vocab_size`` tokens (``4**k + 5``).

    >>> k_from_vocab_size(261)
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


def load_original_state_dict(model: UtrBertForMaskedLM, state: Mapping[str, torch.Tensor], strict_keys: bool = True) -> Mapped:
    """Fill ``model`` strictly; the original pooler is ignored when the target has none (masked LM).

    Returns the key mapping (ignored and duplicate source keys included).
    """
    has_pooler = any(k.startswith("bert.pooler.") for k in model.state_dict())
    mapped = map_keys(state, HF_BERT_RULES, HF_BERT_IGNORED, skip=[] if has_pooler else [r"bert\.pooler\..*"], strict=strict_keys)
    load_strict(model, mapped)
    return mapped


def convert_utrbert(src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> ConversionReport:
    """Convert an original 3UTRBERT folder (``config.json``, ``vocab.txt``, ``pytorch_model.bin``) at ``dst``.

    k is read from ``vocab_size``; ``vocab.txt`` must equal the ``[PAD] [UNK] [CLS] [SEP] [MASK]`` +
    AUCG-product k-mer vocabulary token by token.
    """
    source = resolve_source(src, RELEASE, WHERE)
    check_destination(dst, overwrite)  # before the (slow) loading
    config_path = source / "config.json"
    if not config_path.is_file():
        raise folder_error(source, f"{source}: no config.json, so this is not a 3UTRBERT folder")
    original = read_json(config_path)
    vocab_size = original.get("vocab_size")
    if original.get("model_type", "bert") != "bert" or vocab_size not in [4**k + 5 for k in UTRBERT_KS]:
        raise folder_error(
            source,
            f"{config_path}: not a 3UTRBERT config (model_type {original.get('model_type')!r}, vocab_size {vocab_size!r}; "
            "3UTRBERT is a 'bert' model with 4^k+5 tokens: 69, 261, 1029 or 4101)",
        )
    k = k_from_vocab_size(vocab_size)
    notes = []
    named = re.match(r"(\d+)-new", source.name)
    if named and int(named.group(1)) != k:
        notes.append(f"the folder name says {named.group(1)}-mer but the vocabulary ({vocab_size} tokens) is {k}-mer; used k={k}")
    vocab_path = source / "vocab.txt"
    if not vocab_path.is_file():
        raise ConversionError(f"{source}: no vocab.txt; the original release ships one and it is checked against ours")
    check_vocab(vocab_path, vocabulary_for("utrbert", k), f"3UTRBERT {k}-mer")
    config = config_or_error(lambda: config_from_original(original), config_path)
    state, weights = load_hf_folder_weights(source)
    model = empty_model(UtrBertForMaskedLM, config)
    mapped = load_original_state_dict(model, state, strict_keys=False)
    tokenizer = NucleotideTokenizer.for_model("utrbert", k=k)
    out = prepare_destination(dst, overwrite)
    report = ConversionReport(
        model_type="utrbert", source=str(source), destination=str(out), weights_file=weights.name,
        weights_sha256=sha256(weights), tensors_converted=len(mapped.tensors), ignored_source_keys=sorted(mapped.ignored),
        duplicate_source_keys=sorted(mapped.duplicates),
        config={"k": k, "max_position_embeddings": config.max_position_embeddings}, notes=notes,
    )  # fmt: skip
    write_converted(model, tokenizer, out, report)
    return report


def export_utrbert(model: UtrBertForMaskedLM | str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``model`` (or a nucleoforge folder) in the original layout (``config.json``, ``vocab.txt``,
    ``pytorch_model.bin``). A masked-LM model has no pooler, so none is written."""
    from transformers import BertConfig

    if not isinstance(model, torch.nn.Module):
        model = load_nucleoforge_folder(model, UtrBertForMaskedLM, "utrbert")
    cfg = model.config
    out = prepare_destination(dst, overwrite)
    state = export_state_dict(model, HF_BERT_EXPORT_RULES)
    state["cls.predictions.decoder.bias"] = state["cls.predictions.bias"].clone()
    torch.save(state, out / "pytorch_model.bin")
    BertConfig(**hf_bert_config_kwargs(cfg)).to_json_file(str(out / "config.json"))
    (out / "vocab.txt").write_text("\n".join(vocabulary_for("utrbert", cfg.k)) + "\n", encoding="utf-8")
    return out
