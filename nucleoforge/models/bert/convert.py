"""Key maps from original BERT-family checkpoints to nucleoforge's parameter names, applied strictly.

A converter is the only place that knows an original checkpoint's quirks. Each map is a list
of ``(regex on the source key, target template, transpose)``; every source tensor must match a
rule or be listed as ignored, and every target parameter must be filled — otherwise
:class:`ConversionError` lists the missing and unexpected keys.

Also here: the folder handling the per-model converters share (source resolution without
downloads, token-by-token vocabulary checks, :class:`ConversionReport`) and the loading the
HF BERT releases share (:func:`load_hf_bert_folder`). The way back (``nucleoforge export``)
is :mod:`nucleoforge.models.bert.export`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from nucleoforge import registry
from nucleoforge.io.checkpoints import CheckpointError, load_hf_folder_weights, looks_like_hub_id, sha256

T = TypeVar("T")
Rule = tuple[str, str, bool]  # (source regex, target template with \1 groups, transpose a 2-D weight)


class ConversionError(CheckpointError):
    """An original checkpoint does not map one-to-one onto the target model (or its folder is not
    the release it claims to be). File-level failures (truncated, corrupt, unsafe pickles) raise
    its base :class:`~nucleoforge.io.checkpoints.CheckpointError`; catch that for both."""


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
    (r"cls\.predictions\.decoder\.bias", r"lm_head.bias", False),  # the same tensor as cls.predictions.bias
]
#: Source keys that carry nothing the target needs (rebuildable buffers, duplicates of tied weights).
HF_BERT_IGNORED = [
    r"bert\.embeddings\.(position_ids|token_type_ids)",  # rebuildable buffers some transformers versions save
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
    # PaddleNLP 2.4 (RNAErnie's release) saves the tied decoder as decoder_weight [vocab, hidden];
    # PaddleNLP >= 2.5 as a TransposedLinear decoder.weight [vocab, hidden] + decoder.bias (= decoder_bias).
    (r"cls\.predictions\.decoder_weight", r"lm_head.decoder.weight", False),
    (r"cls\.predictions\.decoder\.weight", r"lm_head.decoder.weight", False),
    (r"cls\.predictions\.decoder\.bias", r"lm_head.bias", False),
]
PADDLE_ERNIE_IGNORED: list[str] = []


@dataclass
class Mapped:
    """Result of applying a key map: target tensors, and the source keys ignored by rule."""

    tensors: dict[str, torch.Tensor]
    ignored: list[str]
    sources: dict[str, str]  # target key -> source key (for error messages)
    unmatched: list[str] = field(default_factory=list)  # source keys no rule claims (map_keys(strict=False))
    duplicates: list[str] = field(default_factory=list)  # source keys equal to another mapped to the same target


def map_keys(
    state: Mapping[str, torch.Tensor | np.ndarray],
    rules: Iterable[Rule],
    ignored: Iterable[str] = (),
    skip: Iterable[str] = (),
    strict: bool = True,
) -> Mapped:
    """Rename (and transpose where a rule says so) every source tensor.

    ``skip`` lists extra regexes to ignore for this conversion (e.g. the pooler when the target
    has none). A source key that matches no rule and no ignore pattern raises
    :class:`ConversionError` naming it; with ``strict=False`` such keys are returned in
    ``Mapped.unmatched`` instead, so that :func:`load_strict` can report them together with the
    missing parameters. Two source keys mapping to one target must hold equal tensors (a tied
    weight saved twice); they differ → :class:`ConversionError`.
    """
    compiled = [(re.compile(src + r"\Z"), dst, t) for src, dst, t in rules]
    ignore = [re.compile(p + r"\Z") for p in [*ignored, *skip]]
    out: dict[str, torch.Tensor] = {}
    sources: dict[str, str] = {}
    dropped: list[str] = []
    duplicates: list[str] = []
    unexpected: list[str] = []
    for key, value in state.items():
        name = _norm(key)
        if any(p.match(name) for p in ignore):  # checked first: ``skip`` overrides a rule (e.g. the pooler)
            dropped.append(key)
            continue
        tensor = torch.as_tensor(np.asarray(value)) if not isinstance(value, torch.Tensor) else value
        for pattern, template, transpose in compiled:
            match = pattern.match(name)
            if match:
                target = match.expand(template)
                value = tensor.t().contiguous() if transpose and tensor.dim() == 2 else tensor
                if target in out:
                    # one tensor saved under two names (tied or aliased parameters): fine only if equal
                    if out[target].shape != value.shape or not torch.equal(out[target], value):
                        raise ConversionError(
                            f"source keys {sources[target]!r} and {key!r} both map to {target!r} but hold different values"
                        )
                    duplicates.append(key)
                    break
                out[target] = value
                sources[target] = key
                break
        else:
            unexpected.append(key)
    if unexpected and strict:
        raise ConversionError(
            f"{len(unexpected)} source tensor(s) match no rule of this converter: {sorted(unexpected)[:20]}"
            + (" …" if len(unexpected) > 20 else "")
        )
    return Mapped(out, dropped, sources, unexpected, duplicates)


def load_strict(model: nn.Module, mapped: Mapped) -> None:
    """Copy mapped tensors into ``model``: every parameter/persistent buffer filled, shapes checked.

    Tied parameters (the MLM decoder = the word embeddings) count as filled through their twin,
    and a source that carries both must carry equal tensors.
    """
    target = model.state_dict()
    tied = _tied_aliases(model)
    missing = [k for k in target if k not in mapped.tensors and not any(a in mapped.tensors for a in tied.get(k, ()))]
    unexpected = [f"{k} (from {mapped.sources[k]})" for k in mapped.tensors if k not in target]
    unexpected += [f"{k} (matches no rule)" for k in mapped.unmatched]
    if missing or unexpected:
        raise ConversionError(
            "the checkpoint does not fit the model:\n"
            f"  missing (no source tensor): {missing}\n"
            f"  unexpected (no such parameter): {unexpected}"
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


# ---------------------------------------------------------------------------------------------
# Folder handling shared by the converters.

def resolve_source(src: str | os.PathLike, what: str, where: str) -> Path:
    """The existing local folder ``src``, or the checkpoint folder of the release archive at the
    ``https://`` URL ``src`` (:func:`nucleoforge.io.downloads.release_folder`: downloaded once into
    the cache, checksum verified when known, unpacked safely); a clear :class:`ConversionError`
    otherwise. A missing path that looks like a hub id (``owner/name``) gets a message telling
    the user to fetch the original release (``what`` from ``where``) and to pass its folder.
    """
    from nucleoforge.io.downloads import is_url, release_folder

    if is_url(str(src)):  # the release archive by URL: downloaded once into the cache, unpacked safely
        return release_folder(str(src))
    path = Path(src).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ConversionError(f"{src}: expected the checkpoint folder, got a file; pass the folder that holds it")
    text = str(src)
    if looks_like_hub_id(text):  # gets the "convert a local copy" message instead of "no such folder"
        raise ConversionError(
            f"{text!r} is not a local folder. `nucleoforge convert` reads a local copy of the original release and "
            f"never downloads (and does not fall back to default weights): download {what} from {where}, unpack it, "
            "and pass that folder"
        )
    raise ConversionError(f"{src}: no such folder")


def read_vocab(path: Path) -> list[str]:
    """Tokens of a ``vocab.txt`` (line number = id); trailing blank lines are ignored."""
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def check_vocab(path: Path, expected: Sequence[str], model: str) -> None:
    """Compare a checkpoint's vocabulary file with nucleoforge's token by token.

    The embedding rows are indexed by the file's order, so any difference (another order,
    missing or extra tokens) is an error, never a silent re-indexing.
    """
    found = read_vocab(path)
    if found == list(expected):
        return
    if sorted(found) == sorted(expected):
        i = next(i for i, (a, b) in enumerate(zip(found, expected)) if a != b)
        raise ConversionError(
            f"{path}: the tokens are {model}'s but in another order — line {i + 1} (id {i}) is {found[i]!r}, "
            f"nucleoforge's {model} vocabulary has {expected[i]!r} there. The embedding rows follow this file, "
            "so the checkpoint is not the original release (or was re-indexed); refusing to guess a permutation"
        )
    for i, (a, b) in enumerate(zip(found, expected)):
        if a != b:
            raise ConversionError(
                f"{path}: line {i + 1} (id {i}) is {a!r}, expected {b!r} for {model} "
                f"({len(found)} tokens in the file, {len(expected)} expected)"
            )
    raise ConversionError(f"{path}: {len(found)} tokens, expected {len(expected)} for {model}")


def read_json(path: Path) -> dict:
    """A JSON object from ``path`` with errors that name the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConversionError(f"{path}: missing") from None
    except json.JSONDecodeError as exc:
        raise ConversionError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise ConversionError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    if not isinstance(data, dict):
        raise ConversionError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def describe_folder(path: Path) -> str | None:
    """A guess at what an original-checkpoint folder holds, for error hints (``None`` if unknown).

    >>> describe_folder(Path("/nonexistent")) is None
    True
    """
    if not path.is_dir():
        return None
    if list(path.glob("*.pdparams")):
        return "a PaddlePaddle checkpoint (*.pdparams), e.g. RNAErnie: use `nucleoforge convert rnaernie`"
    config = path / "config.json"
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    model_type = data.get("model_type")
    if model_type in {f.model_type for f in registry.families()}:
        return f"an already converted nucleoforge folder (model_type {model_type!r}); load it with from_pretrained"
    vocab_size = data.get("vocab_size")
    for entry in registry.families(kind="bert"):
        if entry.converter is None:
            continue
        for k in entry.ks:
            if vocab_size == len(entry.tokens(k)):
                what = f"a {entry.name}" + (f" {k}-mer" if len(entry.ks) > 1 else "")
                return f"{what} checkpoint (vocab_size {vocab_size}): use `nucleoforge convert {entry.model_type}`"
    return None


def folder_error(folder: Path, message: str) -> ConversionError:
    """``message`` plus, when :func:`describe_folder` recognises ``folder``, what it looks like instead."""
    hint = describe_folder(folder)
    return ConversionError(message + (f" — it looks like {hint}" if hint else ""))


@dataclass
class ConversionReport:
    """What a conversion read, wrote and left out (also written to ``conversion.json``)."""

    model_type: str
    source: str
    destination: str
    weights_file: str
    weights_sha256: str
    tensors_converted: int
    ignored_source_keys: list[str]
    duplicate_source_keys: list[str]  # a tied tensor saved twice; checked equal to its twin
    config: dict
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def check_destination(dst: str | os.PathLike, overwrite: bool) -> Path:
    """``dst`` if it can be written: absent, an empty folder, or (with ``overwrite``) any folder."""
    path = Path(dst).expanduser()
    if path.exists() and not path.is_dir():
        raise ConversionError(f"{dst}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ConversionError(f"{dst}: folder exists and is not empty (pass overwrite=True / --force to write into it)")
    return path


def prepare_destination(dst: str | os.PathLike, overwrite: bool) -> Path:
    """``dst`` as an empty (or, with ``overwrite``, reusable) folder, created if needed."""
    path = check_destination(dst, overwrite)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_converted(
    model: nn.Module, tokenizer: object, mapped: Mapped, weights: Path, *, source: Path, dst: str | os.PathLike,
    overwrite: bool, config: dict, notes: Sequence[str] = (),
) -> ConversionReport:
    """Save a ready folder at ``dst`` (``config.json``, ``model.safetensors``, tokenizer files and
    ``conversion.json``) for a model filled from ``weights``; returns the report written there."""
    out = prepare_destination(dst, overwrite)
    report = ConversionReport(
        model_type=model.config.model_type, source=str(source), destination=str(out), weights_file=weights.name,
        weights_sha256=sha256(weights), tensors_converted=len(mapped.tensors), ignored_source_keys=sorted(mapped.ignored),
        duplicate_source_keys=sorted(mapped.duplicates), config=config, notes=list(notes),
    )  # fmt: skip
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)  # type: ignore[attr-defined]
    (out / "conversion.json").write_text(report.to_json(), encoding="utf-8")
    return report


def load_hf_bert_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], strict_keys: bool = True) -> Mapped:
    """Fill ``model`` from an original HF BERT state dict (SpliceBERT, 3UTRBERT) with :data:`HF_BERT_RULES`,
    strictly; the original pooler is ignored when the target has none (a masked-LM model).

    Returns the key mapping (ignored and duplicate source keys included). ``strict_keys=False`` reports unknown
    source keys together with missing parameters in one error.
    """
    has_pooler = any(k.startswith("bert.pooler.") for k in model.state_dict())
    mapped = map_keys(state, HF_BERT_RULES, HF_BERT_IGNORED, skip=[] if has_pooler else [r"bert\.pooler\..*"], strict=strict_keys)
    load_strict(model, mapped)
    return mapped


def open_hf_bert_folder(
    src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool, release: str, where: str, model: str
) -> tuple[Path, Path, dict]:
    """Start converting an original HF BERT folder (SpliceBERT, 3UTRBERT): ``src`` must be a local folder
    (see :func:`resolve_source`; ``release`` from ``where``), ``dst`` is checked before anything slow, and
    the folder's ``config.json`` (that of a ``model`` release) is read. Returns ``(folder, config path, config)``."""
    source = resolve_source(src, release, where)
    check_destination(dst, overwrite)  # before the (slow) loading
    config_path = source / "config.json"
    if not config_path.is_file():
        raise folder_error(source, f"{source}: no config.json, so this is not a {model} folder")
    return source, config_path, read_json(config_path)


def load_hf_bert_folder(
    source: Path, make_config: Callable[[], T], config_path: Path, model_class: type, vocabulary: Sequence[str], label: str
) -> tuple[T, nn.Module, Mapped, Path]:
    """The checks and loading an original HF BERT folder (SpliceBERT, 3UTRBERT) shares once its ``config.json``
    is known to describe the release: ``vocab.txt`` equals ``vocabulary`` token by token (``label`` names the
    model in errors), ``make_config()`` builds our config, the weights load safely and map one-to-one.

    Returns ``(config, model, mapped, weights file)``.
    """
    vocab_path = source / "vocab.txt"
    if not vocab_path.is_file():
        raise ConversionError(f"{source}: no vocab.txt; the original release ships one and it is checked against ours")
    check_vocab(vocab_path, vocabulary, label)
    config = config_or_error(make_config, config_path)
    state, weights = load_hf_folder_weights(source)
    model = empty_model(model_class, config)
    mapped = load_hf_bert_state_dict(model, state, strict_keys=False)
    return config, model, mapped, weights


def config_or_error(factory: Callable[[], T], source: Path) -> T:
    """Run a config constructor, turning its ``ValueError`` into a :class:`ConversionError` naming ``source``."""
    try:
        return factory()
    except ConversionError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ConversionError(f"{source}: unsupported configuration: {detail}") from None


def empty_model(model_class: type, config: object) -> nn.Module:
    """``model_class(config)`` in eval mode without random initialisation (seconds saved on BERT-base):
    every parameter is then overwritten by :func:`load_strict`, which refuses to leave one unfilled."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # pragma: no cover - older transformers: just initialise
        no_init_weights = contextlib.nullcontext
    with no_init_weights():
        model = model_class(config)
    model.tie_weights()  # skipped with the initialisation; the MLM decoder shares the word embeddings
    return model.eval()
