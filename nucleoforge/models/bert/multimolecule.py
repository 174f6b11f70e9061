"""MultiMolecule's checkpoint format, read as it is (no re-indexing, nothing written).

A folder (or hub snapshot) saved by the ``multimolecule`` package for SpliceBERT, 3UTRBERT or
RNAErnie holds the same post-LN BERT encoder as ours under other names:

* ``config.json``: our ``model_type`` (``splicebert`` / ``utrbert`` / ``rnaernie``) with
  MultiMolecule's field names (``hidden_dropout``, ``attention_dropout``, ``nmers``,
  ``bos_token_id`` = ``<cls>``, ``eos_token_id`` = ``<eos>``, ``null_token_id``…);
* weights ``model.embeddings.…``, ``model.encoder.layer.N.…`` (``layer_norm`` for
  ``LayerNorm``), ``model.pooler.…`` (3UTRBERT / RNAErnie), ``lm_head.transform.…`` and
  ``lm_head.bias``; the decoder is tied to the word embeddings and usually not stored;
* its own vocabulary (``<pad> <cls> <eos> <unk> <mask> <null>`` then IUPAC letters with ``U``,
  or 3-mers over ``ACGUN``), which the model keeps: ids are never re-indexed, the tokenizer
  (:class:`nucleoforge.tokenization.RnaTokenizer`) reads the folder's ``vocab.txt``.

:func:`read_multimolecule` maps such a folder onto our classes strictly — every encoder tensor
mapped, every parameter filled; only a prediction head the checkpoint never had starts new.

>>> MULTIMOLECULE_TYPES
('splicebert', 'utrbert', 'rnaernie')
>>> mapped = map_keys({"model.encoder.layer.0.output.layer_norm.weight": torch.ones(2)}, MULTIMOLECULE_RULES)
>>> list(mapped.tensors)
['bert.layers.0.output_norm.weight']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nucleoforge.io.checkpoints import CheckpointError, read_folder_config
from nucleoforge.models.bert.convert import ConversionError, Mapped, Rule, map_keys

__all__ = [
    "MULTIMOLECULE_TYPES", "MULTIMOLECULE_RULES", "MultiMoleculeFolder", "is_multimolecule_config",
    "open_multimolecule", "config_kwargs", "map_state", "load_into",
]  # fmt: skip

#: model types MultiMolecule shares with nucleoforge's BERT families
MULTIMOLECULE_TYPES = ("splicebert", "utrbert", "rnaernie")

_L = r"model\.encoder\.layer\.(\d+)\."
#: MultiMolecule key -> ours (no transposes: both store torch Linear weights)
MULTIMOLECULE_RULES: list[Rule] = [
    (r"model\.embeddings\.(word|position|token_type)_embeddings\.weight", r"bert.embeddings.\1_embeddings.weight", False),
    (r"model\.embeddings\.layer_norm\.(weight|bias)", r"bert.embeddings.layer_norm.\1", False),
    (_L + r"attention\.self\.(query|key|value)\.(weight|bias)", r"bert.layers.\1.attention.\2.\3", False),
    (_L + r"attention\.output\.dense\.(weight|bias)", r"bert.layers.\1.attention_output.\2", False),
    (_L + r"attention\.output\.layer_norm\.(weight|bias)", r"bert.layers.\1.attention_norm.\2", False),
    (_L + r"intermediate\.dense\.(weight|bias)", r"bert.layers.\1.intermediate.\2", False),
    (_L + r"output\.dense\.(weight|bias)", r"bert.layers.\1.output.\2", False),
    (_L + r"output\.layer_norm\.(weight|bias)", r"bert.layers.\1.output_norm.\2", False),
    (r"model\.pooler\.dense\.(weight|bias)", r"bert.pooler.dense.\1", False),
    (r"lm_head\.transform\.dense\.(weight|bias)", r"lm_head.dense.\1", False),
    (r"lm_head\.transform\.layer_norm\.(weight|bias)", r"lm_head.layer_norm.\1", False),
    (r"lm_head\.bias", r"lm_head.bias", False),
    (r"lm_head\.decoder\.bias", r"lm_head.bias", False),  # the same tensor as lm_head.bias (tied)
    (r"lm_head\.decoder\.weight", r"lm_head.decoder.weight", False),  # tied to the word embeddings
]
#: a rebuildable buffer some versions save
MULTIMOLECULE_IGNORED = [r"model\.embeddings\.position_ids"]
#: MultiMolecule's prediction heads: not our heads' shapes; refused by name, never dropped silently
_MM_HEADS = ("sequence_head.", "token_head.", "contact_head.")


@dataclass
class MultiMoleculeFolder:
    """A MultiMolecule BERT-family folder: its config (as saved) and weights (as saved)."""

    path: Path
    config: dict[str, Any]
    state: dict[str, torch.Tensor]

    @property
    def model_type(self) -> str:
        return str(self.config["model_type"])


def is_multimolecule_config(config: Mapping[str, Any]) -> bool:
    """Whether a ``config.json`` was written by MultiMolecule: one of :data:`MULTIMOLECULE_TYPES`
    with its field names (``hidden_dropout`` where ours say ``hidden_dropout_prob``).

    >>> is_multimolecule_config({"model_type": "splicebert", "hidden_dropout": 0.1, "attention_dropout": 0.1})
    True
    >>> is_multimolecule_config({"model_type": "splicebert", "hidden_dropout_prob": 0.1, "k": 1})
    False
    """
    if config.get("model_type") not in MULTIMOLECULE_TYPES or "hidden_dropout_prob" in config:
        return False
    return "hidden_dropout" in config or "null_token_id" in config or "nmers" in config


def open_multimolecule(folder: str | Path) -> MultiMoleculeFolder:
    """Read a MultiMolecule folder's config and weights (``model.safetensors``, else
    ``pytorch_model.bin`` read with ``weights_only=True``)."""
    from nucleoforge.io.checkpoints import load_hf_folder_weights

    path = Path(folder)
    config = read_folder_config(path)
    if config is None or not is_multimolecule_config(config):
        raise CheckpointError(f"{path}: not a MultiMolecule {'/'.join(MULTIMOLECULE_TYPES)} folder")
    state, _ = load_hf_folder_weights(path)
    heads = sorted({k.split(".", 1)[0] for k in state if k.startswith(_MM_HEADS)})
    if heads:
        raise CheckpointError(
            f"{path}: a fine-tuned MultiMolecule checkpoint with its own {', '.join(heads)}: nucleoforge reads "
            "MultiMolecule's pretrained encoders (and their masked-LM head) only; load the encoder and train a new "
            "head with `nucleoforge finetune`")
    return MultiMoleculeFolder(path, config, dict(state))


def config_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Our config's arguments for a MultiMolecule ``config.json`` (the vocabulary stays theirs).

    >>> kw = config_kwargs({"model_type": "utrbert", "nmers": 3, "vocab_size": 131, "hidden_size": 32,
    ...     "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "hidden_dropout": 0.1,
    ...     "attention_dropout": 0.1, "max_position_embeddings": 64})
    >>> kw["k"], kw["cls_token_id"], kw["sep_token_id"], kw["hidden_dropout_prob"]
    (3, 1, 2, 0.1)
    """
    model_type = config["model_type"]
    kmers = config.get("nmers") or 1
    if model_type == "utrbert" and config.get("vocab_size") not in (None, 5**kmers + 6):
        raise CheckpointError(f"MultiMolecule utrbert config: vocab_size {config.get('vocab_size')} does not fit "
                              f"nmers={kmers} (expected {5**kmers + 6})")
    head = config.get("lm_head") or {}
    act = config.get("hidden_act", "relu" if model_type == "rnaernie" else "gelu")
    # MultiMolecule's MLM transform: GELU unless lm_head says otherwise (RNAErnie: its hidden_act)
    transform_act = head.get("transform_act", "gelu") if isinstance(head, dict) else "gelu"
    if transform_act != act:
        raise CheckpointError(f"MultiMolecule {model_type} config: the MLM transform uses {transform_act!r} and the "
                              f"encoder {act!r}; nucleoforge's BERT uses one activation for both")
    names = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
             "max_position_embeddings": 512, "layer_norm_eps": 1e-12, "initializer_range": 0.02, "type_vocab_size": 2}
    kwargs: dict[str, Any] = {n: config.get(n, d) for n, d in names.items()}
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"MultiMolecule {model_type} config: position_embedding_type "
                              f"{config['position_embedding_type']!r} (nucleoforge's BERT has absolute positions)")
    kwargs.update(
        model_type=model_type, vocab_size=int(config.get("vocab_size") or 5**kmers + 6), k=int(kmers), hidden_act=act,
        hidden_dropout_prob=float(config.get("hidden_dropout", 0.1)),
        attention_probs_dropout_prob=float(config.get("attention_dropout", 0.1)),
        pad_token_id=int(config.get("pad_token_id", 0)), cls_token_id=int(config.get("bos_token_id", 1)),
        sep_token_id=int(config.get("eos_token_id", 2)), mask_token_id=int(config.get("mask_token_id", 4)),
        unk_token_id=int(config.get("unk_token_id", 3)), tie_word_embeddings=True,
        source_format="multimolecule",
    )
    return kwargs


def map_state(folder: MultiMoleculeFolder, has_pooler: bool) -> Mapped:
    """The folder's tensors under our names (strict: an unknown key is an error naming it)."""
    skip = [] if has_pooler else [r"model\.pooler\.dense\.(weight|bias)"]
    try:
        return map_keys(folder.state, MULTIMOLECULE_RULES, MULTIMOLECULE_IGNORED, skip=skip)
    except ConversionError as exc:
        raise CheckpointError(f"{folder.path} (MultiMolecule {folder.model_type}): {exc}") from None


#: from_pretrained arguments about where and how to read, not what to build (the folder is local)
_LOADER_ARGUMENTS = ("cache_dir", "revision", "local_files_only", "token", "trust_remote_code", "force_download",
                     "subfolder", "use_safetensors", "ignore_mismatched_sizes", "proxies", "adapter_kwargs",
                     "device_map", "low_cpu_mem_usage", "gguf_file", "key_mapping", "tp_plan", "variant")

#: modules a model may start without (new, initialised) when the checkpoint has none of their
#: tensors: prediction heads, and the pooler (SpliceBERT's pretraining checkpoints have none)
NEW_MODULES = ("lm_head.", "head.", "bert.pooler.", "pooler.")


def fill(model: torch.nn.Module, mapped: Mapped, where: str) -> list[str]:
    """Copy ``mapped`` (our ``bert.``-prefixed names) into ``model`` strictly; returns the modules
    that start new (a head or pooler the checkpoint never had).

    A missing or unexpected encoder tensor is a :class:`CheckpointError` naming ``where``; so is
    a module the checkpoint has only part of. Tensors of a head the model does not have (the
    MLM head, when loading an encoder for a new task) are left out.
    """
    from nucleoforge.models.bert.convert import load_strict

    target = model.state_dict()
    bare = not any(k.startswith("bert.") for k in target)  # the bare encoder: names without "bert."
    tensors, sources = {}, {}
    for key, tensor in mapped.tensors.items():
        name = key[len("bert."):] if bare and key.startswith("bert.") else key
        if name in target or not name.startswith(NEW_MODULES):
            tensors[name], sources[name] = tensor, mapped.sources[key]
    tied = {n for n, p in model.named_parameters(remove_duplicate=False)} - {n for n, _ in model.named_parameters()}
    missing = [k for k in target if k not in tensors and k not in tied]
    new = sorted({p for p in NEW_MODULES for k in missing if k.startswith(p)})
    partial = [p for p in new if any(k.startswith(p) for k in tensors)]
    encoder = [k for k in missing if not k.startswith(NEW_MODULES)]
    if partial or encoder:
        what = encoder or [k for k in missing if k.startswith(tuple(partial))]
        raise CheckpointError(f"{where}: its weights do not fill {type(model).__name__}: {len(what)} missing "
                              f"({', '.join(what[:4])}{', …' if len(what) > 4 else ''})")
    kept = {k: v for k, v in tensors.items() if k in target}
    unexpected = [f"{sources[k]}" for k in tensors if k not in target]
    if unexpected:
        raise CheckpointError(f"{where}: {len(unexpected)} weight(s) {type(model).__name__} has no place for "
                              f"({', '.join(unexpected[:4])})")
    skeleton = Mapped(kept, mapped.ignored, {k: sources[k] for k in kept})
    fresh = {k: v for k, v in target.items() if k.startswith(tuple(new)) and k not in kept}
    skeleton.tensors.update(fresh)
    skeleton.sources.update({k: "(new)" for k in fresh})
    try:
        load_strict(model, skeleton)
    except ConversionError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    return new


def load_into(model_class: type, folder: str | Path, **kwargs: Any) -> Any:
    """``model_class.from_pretrained`` for a MultiMolecule folder: our config from theirs (keyword
    arguments that name config fields override it, as in transformers), weights mapped strictly
    (:func:`fill`), eval mode. The vocabulary stays the checkpoint's."""
    mm = open_multimolecule(folder)
    expected = getattr(model_class.config_class, "model_type", None)
    if expected and expected != mm.model_type:
        raise CheckpointError(f"{mm.path}: holds a MultiMolecule {mm.model_type!r} model, not a {expected!r} model")
    for name in _LOADER_ARGUMENTS:
        kwargs.pop(name, None)
    for name in [k for k in kwargs if k.startswith("_")]:  # transformers' own (_from_auto, _commit_hash…)
        kwargs.pop(name)
    dtype = kwargs.pop("dtype", None) or kwargs.pop("torch_dtype", None)
    attn = kwargs.pop("attn_implementation", None)
    config = kwargs.pop("config", None)
    if getattr(config, "source_format", None) != "multimolecule":
        # None, a path, or what AutoConfig read from this folder with our field names: read it as MultiMolecule's
        config, unused = model_class.config_class.from_dict(config_kwargs(mm.config), return_unused_kwargs=True, **kwargs)
    else:
        unused = kwargs
    if unused:
        raise CheckpointError(f"{mm.path}: unknown argument(s) for {model_class.__name__}.from_pretrained: "
                              f"{', '.join(sorted(unused))}")
    if attn:
        config._attn_implementation = attn
    model = model_class(config)
    mapped = map_state(mm, has_pooler=any(k.startswith(("bert.pooler.", "pooler.")) for k in model.state_dict()))
    new = fill(model, mapped, f"{mm.path} (MultiMolecule {mm.model_type})")
    model.loaded_new_modules = [p.rstrip(".") for p in new]
    if dtype is not None and dtype != "auto":
        model.to(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
    return model.eval()
