"""3UTRBERT checkpoints (figshare ``{k}-new-12w-0/``: DNABERT-style HF BERT with a pooler) ↔ nucleoforge.

k comes from the vocabulary size (``4**k + 5``), never from the folder name. The original
``pytorch_model.bin`` carries a pooler (``bert.pooler.dense``) that a masked-LM model does not
use; it is listed as ignored when converting to :class:`UtrBertForMaskedLM`. The loading and writing shared
with SpliceBERT is :func:`~nucleoforge.models.bert.convert.load_hf_bert_folder` and
:func:`~nucleoforge.models.bert.export.write_hf_bert`.
"""

from __future__ import annotations

import os
import re
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


def convert_utrbert(src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> ConversionReport:
    """Convert an original 3UTRBERT folder (``config.json``, ``vocab.txt``, ``pytorch_model.bin``) at ``dst``.

    k is read from ``vocab_size``; ``vocab.txt`` must equal the ``[PAD] [UNK] [CLS] [SEP] [MASK]`` +
    AUCG-product k-mer vocabulary token by token.
    """
    source, config_path, original = open_hf_bert_folder(src, dst, overwrite, RELEASE, WHERE, "3UTRBERT")
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
    config, model, mapped, weights = load_hf_bert_folder(
        source, lambda: config_from_original(original), config_path, UtrBertForMaskedLM,
        vocabulary_for("utrbert", k), f"3UTRBERT {k}-mer",
    )  # fmt: skip
    tokenizer = NucleotideTokenizer.for_model("utrbert", k=k)
    return write_converted(
        model, tokenizer, mapped, weights, source=source, dst=dst, overwrite=overwrite,
        config={"k": k, "max_position_embeddings": config.max_position_embeddings}, notes=notes,
    )  # fmt: skip


def export_utrbert(model: UtrBertForMaskedLM | str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``model`` (or a nucleoforge folder) in the original layout (``config.json``, ``vocab.txt``,
    ``pytorch_model.bin``). A masked-LM model has no pooler, so none is written."""
    return export_model(
        model, dst, overwrite, UtrBertForMaskedLM, HF_BERT_EXPORT_RULES,
        lambda m, state, out: write_hf_bert(state, m.config, out, vocabulary_for("utrbert", m.config.k), position_ids=False),
    )  # fmt: skip
