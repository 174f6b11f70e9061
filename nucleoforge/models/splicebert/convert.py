"""SpliceBERT checkpoints (HF ``BertForMaskedLM``: Zenodo ``SpliceBERT.1024nt`` / ``.510nt`` /
``-human.510nt``) ↔ nucleoforge. The key maps are
:data:`~nucleoforge.models.bert.convert.HF_BERT_RULES` and ``HF_BERT_EXPORT_RULES``.

An original folder holds ``config.json``, ``vocab.txt`` and ``pytorch_model.bin`` (which also
carries the ``bert.embeddings.position_ids`` buffer). :func:`convert_splicebert` turns it into a
folder that ``AutoModelForMaskedLM`` / ``AutoTokenizer.from_pretrained`` load;
:func:`export_splicebert` writes the original layout back.
"""

from __future__ import annotations

import os
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
from nucleoforge.models.splicebert.configuration_splicebert import SPLICEBERT_VARIANTS, SpliceBertConfig
from nucleoforge.models.splicebert.modeling_splicebert import SpliceBertForMaskedLM
from nucleoforge.tokenization import NucleotideTokenizer, vocabulary_for

RELEASE = "the SpliceBERT models (SpliceBERT.1024nt, SpliceBERT.510nt, SpliceBERT-human.510nt)"
WHERE = "Zenodo (doi:10.5281/zenodo.7995778, models.tar.gz; see github.com/chenkenbio/SpliceBERT)"


def config_from_original(original: Mapping, variant: str | None = None) -> SpliceBertConfig:
    """Our config from the original HF ``config.json`` dict; the variant follows the positions.

    1026 positions is the 1024-nt model; 512 one of the two 510-nt models, ``splicebert.510``
    unless ``variant="splicebert-human.510"`` says which (their configs are identical).

    >>> config_from_original({"vocab_size": 10, "hidden_size": 512, "num_hidden_layers": 6, "num_attention_heads": 16,
    ...                       "intermediate_size": 2048, "max_position_embeddings": 512}).variant
    'splicebert.510'
    """
    positions = int(original["max_position_embeddings"])
    implied = "splicebert" if positions == SPLICEBERT_VARIANTS["splicebert"] else "splicebert.510"
    if variant is not None:
        if variant not in SPLICEBERT_VARIANTS:
            raise ConversionError(f"unknown SpliceBERT variant {variant!r}; expected one of {sorted(SPLICEBERT_VARIANTS)}")
        if SPLICEBERT_VARIANTS[variant] != positions:
            raise ConversionError(
                f"variant {variant!r} has {SPLICEBERT_VARIANTS[variant]} positions but the checkpoint's config has "
                f"max_position_embeddings={positions}"
            )
        implied = variant
    return SpliceBertConfig(
        variant=implied,
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


def load_original_state_dict(model: SpliceBertForMaskedLM, state: Mapping[str, torch.Tensor], strict_keys: bool = True) -> Mapped:
    """Fill ``model`` from an original SpliceBERT state dict, strictly (the pooler, if any, is ignored).

    Returns the key mapping (ignored and duplicate source keys included). ``strict_keys=False`` reports unknown
    source keys together with missing parameters in one error.
    """
    has_pooler = any(k.startswith("bert.pooler.") for k in model.state_dict())
    mapped = map_keys(state, HF_BERT_RULES, HF_BERT_IGNORED, skip=[] if has_pooler else [r"bert\.pooler\..*"], strict=strict_keys)
    load_strict(model, mapped)
    return mapped


def convert_splicebert(
    src: str | os.PathLike, dst: str | os.PathLike, variant: str | None = None, overwrite: bool = False
) -> ConversionReport:
    """Convert an original SpliceBERT folder into a nucleoforge folder at ``dst``.

    Checks, in order: the folder exists (a hub id gets a "download a local copy" error),
    ``config.json`` describes a SpliceBERT (10-token vocabulary), ``vocab.txt`` equals
    SpliceBERT's vocabulary token by token, the weights load safely (``model.safetensors`` or
    ``pytorch_model.bin`` via ``torch.load(weights_only=True)``) and map one-to-one.
    """
    source = resolve_source(src, RELEASE, WHERE)
    check_destination(dst, overwrite)  # before the (slow) loading
    config_path = source / "config.json"
    if not config_path.is_file():
        raise folder_error(source, f"{source}: no config.json, so this is not a SpliceBERT folder")
    original = read_json(config_path)
    if original.get("model_type", "bert") != "bert" or original.get("vocab_size") != 10:
        raise folder_error(
            source,
            f"{config_path}: not a SpliceBERT config (model_type {original.get('model_type')!r}, vocab_size "
            f"{original.get('vocab_size')!r}; SpliceBERT is a 'bert' model with 10 tokens)",
        )
    vocab_path = source / "vocab.txt"
    if not vocab_path.is_file():
        raise ConversionError(f"{source}: no vocab.txt; the original release ships one and it is checked against ours")
    check_vocab(vocab_path, vocabulary_for("splicebert"), "SpliceBERT")
    config = config_or_error(lambda: config_from_original(original, variant), config_path)
    state, weights = load_hf_folder_weights(source)
    model = empty_model(SpliceBertForMaskedLM, config)
    mapped = load_original_state_dict(model, state, strict_keys=False)
    tokenizer = NucleotideTokenizer.for_model("splicebert", variant=config.variant)
    out = prepare_destination(dst, overwrite)
    report = ConversionReport(
        model_type="splicebert", source=str(source), destination=str(out), weights_file=weights.name,
        weights_sha256=sha256(weights), tensors_converted=len(mapped.tensors), ignored_source_keys=sorted(mapped.ignored),
        duplicate_source_keys=sorted(mapped.duplicates),
        config={"variant": config.variant, "max_position_embeddings": config.max_position_embeddings},
    )  # fmt: skip
    write_converted(model, tokenizer, out, report)
    return report


def export_splicebert(model: SpliceBertForMaskedLM | str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``model`` (or a nucleoforge folder) in the original release's layout: ``config.json``
    (transformers ``BertConfig``), ``vocab.txt`` and ``pytorch_model.bin`` (with ``position_ids``)."""
    from transformers import BertConfig

    if not isinstance(model, torch.nn.Module):
        model = load_nucleoforge_folder(model, SpliceBertForMaskedLM, "splicebert")
    cfg = model.config
    out = prepare_destination(dst, overwrite)
    state = export_state_dict(model, HF_BERT_EXPORT_RULES)
    state["cls.predictions.decoder.bias"] = state["cls.predictions.bias"].clone()
    state["bert.embeddings.position_ids"] = torch.arange(cfg.max_position_embeddings).unsqueeze(0)
    torch.save(state, out / "pytorch_model.bin")
    BertConfig(**hf_bert_config_kwargs(cfg)).to_json_file(str(out / "config.json"))
    (out / "vocab.txt").write_text("\n".join(vocabulary_for("splicebert")) + "\n", encoding="utf-8")
    return out
