"""SpliceBERT checkpoints (HF ``BertForMaskedLM``: Zenodo ``SpliceBERT.1024nt`` / ``.510nt`` /
``-human.510nt``) ↔ nucleoforge. The key maps are
:data:`~nucleoforge.models.bert.convert.HF_BERT_RULES` and ``HF_BERT_EXPORT_RULES`` (in :mod:`~nucleoforge.models.bert.export`); the loading and
writing shared with 3UTRBERT is :func:`~nucleoforge.models.bert.convert.load_hf_bert_folder` and
:func:`~nucleoforge.models.bert.export.write_hf_bert`.

An original folder holds ``config.json``, ``vocab.txt`` and ``pytorch_model.bin`` (which also
carries the ``bert.embeddings.position_ids`` buffer). :func:`convert_splicebert` turns it into a
folder that ``AutoModelForMaskedLM`` / ``AutoTokenizer.from_pretrained`` load;
:func:`export_splicebert` writes the original layout back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from nucleoforge.models.bert.convert import (
    ConversionError,
    ConversionReport,
    folder_error,
    load_hf_bert_folder,
    open_hf_bert_folder,
    write_converted,
)
from nucleoforge.models.bert.export import HF_BERT_EXPORT_RULES, export_model, write_hf_bert
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


def convert_splicebert(
    src: str | os.PathLike, dst: str | os.PathLike, variant: str | None = None, overwrite: bool = False
) -> ConversionReport:
    """Convert an original SpliceBERT folder into a nucleoforge folder at ``dst``.

    Checks, in order: the folder exists (a hub id gets a "download a local copy" error),
    ``config.json`` describes a SpliceBERT (10-token vocabulary), ``vocab.txt`` equals
    SpliceBERT's vocabulary token by token, the weights load safely (``model.safetensors`` or
    ``pytorch_model.bin`` via ``torch.load(weights_only=True)``) and map one-to-one.
    """
    source, config_path, original = open_hf_bert_folder(src, dst, overwrite, RELEASE, WHERE, "SpliceBERT")
    if original.get("model_type", "bert") != "bert" or original.get("vocab_size") != 10:
        raise folder_error(
            source,
            f"{config_path}: not a SpliceBERT config (model_type {original.get('model_type')!r}, vocab_size "
            f"{original.get('vocab_size')!r}; SpliceBERT is a 'bert' model with 10 tokens)",
        )
    config, model, mapped, weights = load_hf_bert_folder(
        source, lambda: config_from_original(original, variant), config_path, SpliceBertForMaskedLM,
        vocabulary_for("splicebert"), "SpliceBERT",
    )  # fmt: skip
    tokenizer = NucleotideTokenizer.for_model("splicebert", variant=config.variant)
    return write_converted(
        model, tokenizer, mapped, weights, source=source, dst=dst, overwrite=overwrite,
        config={"variant": config.variant, "max_position_embeddings": config.max_position_embeddings},
    )  # fmt: skip


def export_splicebert(model: SpliceBertForMaskedLM | str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``model`` (or a nucleoforge folder) in the original release's layout: ``config.json``
    (transformers ``BertConfig``), ``vocab.txt`` and ``pytorch_model.bin`` (with ``position_ids``)."""
    return export_model(
        model, dst, overwrite, SpliceBertForMaskedLM, HF_BERT_EXPORT_RULES,
        lambda m, state, out: write_hf_bert(state, m.config, out, vocabulary_for("splicebert"), position_ids=True),
    )  # fmt: skip
