"""RNAErnie checkpoints (PaddleNLP ``ErnieForMaskedLM``: ``model_state.pdparams`` + ``model_config.json``)
↔ nucleoforge. Key map: :data:`~nucleoforge.models.bert.convert.PADDLE_ERNIE_RULES` (Linear weights
are [in, out] in Paddle and are transposed).

The ``.pdparams`` pickle is read by :func:`nucleoforge.io.checkpoints.load_paddle_state_dict`,
which rebuilds NumPy arrays and refuses anything else. Two config layouts are read:
PaddleNLP 2.4's ``model_config.json`` (``init_class`` ``ErnieForMaskedLM`` whose ``init_args[0]``
holds the ``ErnieModel`` arguments — RNAErnie's release) and PaddleNLP ≥ 2.5's flat ``config.json``.
The vocabulary (``vocab_1MER.txt`` in RNAErnie's code repository) is not part of the weight
release: put it in the folder or pass it explicitly; it is compared with ours token by token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nucleoforge.io.checkpoints import load_paddle_state_dict, save_paddle_state_dict
from nucleoforge.models.bert.convert import (
    PADDLE_ERNIE_IGNORED,
    PADDLE_ERNIE_RULES,
    ConversionError,
    ConversionReport,
    Mapped,
    check_destination,
    check_vocab,
    config_or_error,
    empty_model,
    folder_error,
    load_strict,
    map_keys,
    read_json,
    resolve_source,
    write_converted,
)
from nucleoforge.models.bert.export import PADDLE_ERNIE_EXPORT_RULES, export_model, write_vocab
from nucleoforge.models.rnaernie.configuration_rnaernie import RnaErnieConfig
from nucleoforge.models.rnaernie.modeling_rnaernie import RnaErnieForMaskedLM
from nucleoforge.tokenization import NucleotideTokenizer, vocabulary_for

RELEASE = "the RNAErnie checkpoint (model_state.pdparams + model_config.json)"
WHERE = "the Google Drive folder linked from github.com/CatIIIIIIII/RNAErnie"
VOCAB_NAMES = ("vocab_1MER.txt", "vocab.txt")
#: PaddleNLP model classes whose weights hold an MLM head over ``ernie.*``.
MLM_CLASSES = ("ErnieForMaskedLM", "ErnieForPretraining")


def config_from_original(init_args: Mapping) -> RnaErnieConfig:
    """Our config from the ``ErnieModel`` arguments in ``model_config.json`` (``init_args``)."""
    if init_args.get("use_task_id"):
        raise ConversionError(
            "use_task_id is true: this ERNIE adds a task-type embedding, which RNAErnie does not have "
            "(a randomly initialised one makes outputs random); not an RNAErnie checkpoint"
        )
    return RnaErnieConfig(
        vocab_size=int(init_args["vocab_size"]),
        hidden_size=int(init_args["hidden_size"]),
        num_hidden_layers=int(init_args["num_hidden_layers"]),
        num_attention_heads=int(init_args["num_attention_heads"]),
        intermediate_size=int(init_args.get("intermediate_size", 4 * int(init_args["hidden_size"]))),
        hidden_act=init_args.get("hidden_act", "relu"),
        max_position_embeddings=int(init_args["max_position_embeddings"]),
        type_vocab_size=int(init_args.get("type_vocab_size", 2)),
        # PaddleNLP's ERNIE sets every LayerNorm's epsilon to 1e-12 in its init hook
        layer_norm_eps=float(init_args.get("layer_norm_eps", 1e-12)),
    )


def read_paddle_config(folder: Path) -> tuple[dict, str, Path]:
    """``(ErnieModel arguments, model class name, config file)`` from ``model_config.json`` or ``config.json``.

    >>> import tempfile, json, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "model_config.json").write_text(json.dumps({"init_args": [{"vocab_size": 39, "init_class": "ErnieModel"}],
    ...                                                   "init_class": "ErnieForMaskedLM"}))
    >>> args, cls, _ = read_paddle_config(d); args["vocab_size"], cls
    (39, 'ErnieForMaskedLM')
    """
    legacy, modern = folder / "model_config.json", folder / "config.json"
    if legacy.is_file():
        data = read_json(legacy)
        cls = str(data.get("init_class", "ErnieModel"))
        init_args = data.get("init_args")
        if isinstance(init_args, list) and init_args and isinstance(init_args[0], dict):
            args = dict(init_args[0])  # the wrapped ErnieModel's arguments
        elif init_args is None:
            args = {k: v for k, v in data.items() if k != "init_class"}  # an ErnieModel saved on its own
        else:
            raise ConversionError(f"{legacy}: init_args is not [{{ErnieModel arguments}}]: {init_args!r}")
        args.pop("init_class", None)
        return args, cls, legacy
    if modern.is_file():
        data = read_json(modern)
        if data.get("model_type", "ernie") != "ernie":
            raise ConversionError(f"{modern}: model_type {data.get('model_type')!r}, expected a PaddleNLP 'ernie' config")
        architectures = data.get("architectures") or ["ErnieModel"]
        return data, str(architectures[0]), modern
    raise ConversionError(f"{folder}: no model_config.json (PaddleNLP 2.4) or config.json (PaddleNLP >= 2.5)")


def load_original_state_dict(
    model: RnaErnieForMaskedLM, state: Mapping[str, np.ndarray], strict_keys: bool = True, skip: tuple[str, ...] = ()
) -> Mapped:
    """Fill ``model`` strictly from a Paddle state dict (the pooler is ignored when the target has none).

    Returns the key mapping (ignored and duplicate source keys included).
    """
    has_pooler = any(k.startswith("bert.pooler.") for k in model.state_dict())
    extra = [*skip] + ([] if has_pooler else [r"ernie\.pooler\..*"])
    mapped = map_keys(state, PADDLE_ERNIE_RULES, PADDLE_ERNIE_IGNORED, skip=extra, strict=strict_keys)
    load_strict(model, mapped)
    return mapped


def _weights_file(folder: Path) -> Path:
    path = folder / "model_state.pdparams"
    if path.is_file():
        return path
    found = sorted(folder.glob("*.pdparams"))
    if len(found) == 1:
        return found[0]
    if found:
        raise ConversionError(f"{folder}: several .pdparams files {[p.name for p in found]}; keep only the model's")
    raise folder_error(folder, f"{folder}: no model_state.pdparams, so this is not a PaddleNLP (RNAErnie) folder")


def _vocab_file(folder: Path, vocab: str | os.PathLike | None) -> Path:
    if vocab is not None:
        path = Path(vocab).expanduser()
        if not path.is_file():
            raise ConversionError(f"{vocab}: vocabulary file not found")
        return path
    for name in VOCAB_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ConversionError(
        f"{folder}: no vocabulary file ({' or '.join(VOCAB_NAMES)}). RNAErnie's weights come without it: take "
        "data/vocab/vocab_1MER.txt from github.com/CatIIIIIIII/RNAErnie and put it in the folder or pass --vocab; "
        "it is checked token by token because the embedding rows follow it"
    )


def convert_rnaernie(
    src: str | os.PathLike, dst: str | os.PathLike, vocab: str | os.PathLike | None = None, overwrite: bool = False
) -> ConversionReport:
    """Convert an RNAErnie PaddleNLP folder into a nucleoforge folder at ``dst`` (Paddle itself is not needed)."""
    source = resolve_source(src, RELEASE, WHERE)
    check_destination(dst, overwrite)  # before the (slow) loading
    weights = _weights_file(source)
    args, cls, config_path = read_paddle_config(source)
    if cls not in MLM_CLASSES:
        raise ConversionError(
            f"{config_path}: the checkpoint is a {cls}, which has no masked-LM head; expected one of {MLM_CLASSES}"
        )
    if int(args.get("vocab_size", -1)) != 39:
        raise ConversionError(f"{config_path}: vocab_size {args.get('vocab_size')!r}, RNAErnie has 39 tokens")
    vocab_path = _vocab_file(source, vocab)
    check_vocab(vocab_path, vocabulary_for("rnaernie"), "RNAErnie")
    config = config_or_error(lambda: config_from_original(args), config_path)
    state = load_paddle_state_dict(weights)
    model = empty_model(RnaErnieForMaskedLM, config)
    skip = (r"cls\.seq_relationship\.(weight|bias)",) if cls == "ErnieForPretraining" else ()
    mapped = load_original_state_dict(model, state, strict_keys=False, skip=skip)
    tokenizer = NucleotideTokenizer.for_model("rnaernie")
    return write_converted(
        model, tokenizer, mapped, weights, source=source, dst=dst, overwrite=overwrite,
        config={"paddle_class": cls, "config_file": config_path.name, "vocab_file": str(vocab_path)},
    )  # fmt: skip


def export_rnaernie(model: RnaErnieForMaskedLM | str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``model`` (or a nucleoforge folder) as RNAErnie's release: ``model_state.pdparams``
    (PaddleNLP 2.4 names, Linear weights [in, out], the tied decoder as ``decoder_weight``),
    ``model_config.json`` (``init_class``/``init_args``) and ``vocab_1MER.txt``.

    A masked-LM model has no pooler, so ``ernie.pooler.*`` is not written (PaddleNLP then
    initialises it randomly; it does not affect the MLM output)."""
    return export_model(model, dst, overwrite, RnaErnieForMaskedLM, PADDLE_ERNIE_EXPORT_RULES, _write_paddle)


def _write_paddle(model: RnaErnieForMaskedLM, state: dict, out: Path) -> None:
    cfg = model.config
    save_paddle_state_dict({k: v.float().numpy() for k, v in state.items()}, out / "model_state.pdparams")
    ernie_args = {
        "attention_probs_dropout_prob": cfg.attention_probs_dropout_prob, "hidden_act": cfg.hidden_act,
        "hidden_dropout_prob": cfg.hidden_dropout_prob, "hidden_size": cfg.hidden_size,
        "initializer_range": cfg.initializer_range, "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings, "num_attention_heads": cfg.num_attention_heads,
        "num_hidden_layers": cfg.num_hidden_layers, "type_vocab_size": cfg.type_vocab_size,
        "vocab_size": cfg.vocab_size, "pad_token_id": cfg.pad_token_id, "init_class": "ErnieModel",
    }  # fmt: skip
    config = {"init_args": [ernie_args], "init_class": "ErnieForMaskedLM"}
    (out / "model_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    write_vocab(out / "vocab_1MER.txt", vocabulary_for("rnaernie"))
