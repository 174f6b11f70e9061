"""Safe readers (and writers) for the weight files of original checkpoints.

Nothing here executes code from a file:

* PyTorch ``.bin`` / ``.pt`` goes through ``torch.load(weights_only=True)``;
* ``.safetensors`` through :mod:`safetensors` (no pickle at all);
* PaddlePaddle ``.pdparams`` is a pickle, read by :class:`RestrictedUnpickler`, which rebuilds
  NumPy arrays and nothing else.

What ``paddle.save(layer.state_dict(), path)`` writes (Paddle 2.x, ``paddle/framework/io.py``):
a pickle (protocol 2–4, default 4) of a plain ``dict`` mapping each structured parameter name
to a ``numpy.ndarray`` (``numpy.core.multiarray._reconstruct`` + ``numpy.dtype``; NumPy 2 names
``numpy._core.multiarray``; protocol 2 spells the array bytes as ``_codecs.encode(text, "latin1")``), plus the
entry ``"StructuredToParameterName@@"`` (structured name → internal parameter name). With
protocol 2 or 3, arrays above 2**30 bytes are split into slices listed under
``"UnpackBigParamInfor@@"``. Paddle 2.1's ``static.save`` stored a tensor as the tuple
``(name, ndarray)``, pickled through ``builtins.tuple``. Those are exactly the forms accepted.

>>> import io, pickle, numpy as np
>>> blob = pickle.dumps({"w": np.arange(3, dtype=np.float32), "StructuredToParameterName@@": {"w": "w_0"}}, protocol=4)
>>> load_paddle_state_dict(io.BytesIO(blob))["w"]
array([0., 1., 2.], dtype=float32)
>>> load_paddle_state_dict(io.BytesIO(pickle.dumps(print)))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nucleoforge.io.checkpoints.UnsafeCheckpointError: <stream>: the pickle asks for builtins.print, which ... refusing to load it ...
"""

from __future__ import annotations


import hashlib
import json
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from nucleoforge.errors import MissingPathError, NucleoforgeError

PADDLE_NAME_TABLE = "StructuredToParameterName@@"
PADDLE_BIG_PARAMS = "UnpackBigParamInfor@@"


class CheckpointError(NucleoforgeError):
    """A weight file is missing, truncated, corrupt or not a state dict."""


class UnsafeCheckpointError(CheckpointError):
    """A pickle asks for something other than NumPy array reconstruction."""


def _numpy_core() -> Any:
    # NumPy 2 moved numpy.core to numpy._core; pickles from either name the old or the new module.
    return getattr(np, "_core", None) or np.core


def _allowed_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_core().multiarray._reconstruct
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("builtins", "tuple"): tuple,  # Paddle 2.1: a tensor pickled as tuple((name, ndarray))
        ("__builtin__", "tuple"): tuple,  # the same under protocol 2 (Python 2 module name)
        ("collections", "OrderedDict"): OrderedDict,
        ("_codecs", "encode"): _latin1_bytes,  # protocol 2 spells bytes (array data) as encode(str, "latin1")
    }


def _latin1_bytes(text: str, encoding: str = "utf-8") -> bytes:
    # Only the use protocol-2 pickles make of codecs.encode: text → bytes through latin-1.
    if not isinstance(text, str) or encoding.replace("_", "-").lower() not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError(f"codecs.encode({type(text).__name__}, {encoding!r}) is not how a pickle spells bytes")
    return text.encode("latin-1")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals NumPy arrays need; anything else is refused.

    ``find_class`` is the single door through which a pickle reaches code (GLOBAL, STACK_GLOBAL,
    INST, OBJ and the extension registry all go through it); persistent ids are refused by
    :meth:`persistent_load`.
    """

    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file, encoding="latin1")  # Paddle's own loader uses latin1 (Python-2 pickles)
        self._source = source
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"{self._source}: the pickle asks for {module}.{name}, which a Paddle state dict never contains; "
                "refusing to load it (only NumPy arrays are rebuilt)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeCheckpointError(f"{self._source}: the pickle uses persistent ids ({pid!r}); refusing to load it")


def _source_name(f: str | os.PathLike | IO[bytes]) -> str:
    return str(f) if isinstance(f, (str, os.PathLike)) else "<stream>"


def load_paddle_state_dict(f: str | os.PathLike | IO[bytes]) -> dict[str, np.ndarray]:
    """Read a PaddlePaddle ``.pdparams`` file into ``{name: ndarray}`` without running any code.

    Accepts the forms ``paddle.save`` writes (see the module docstring); drops the name table,
    reassembles split parameters and unwraps ``(name, ndarray)`` tuples. Raises
    :class:`UnsafeCheckpointError` for a pickle that wants any other global and
    :class:`CheckpointError` for a truncated or malformed file.
    """
    source = _source_name(f)
    try:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as fh:
                obj = RestrictedUnpickler(fh, source).load()
        else:
            obj = RestrictedUnpickler(f, source).load()
    except UnsafeCheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{source}: no such file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        raise CheckpointError(f"{source}: not a readable Paddle state dict (truncated or corrupt?): {exc}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{source}: expected a pickled dict of parameters, found {type(obj).__name__}")
    obj = dict(obj)
    obj.pop(PADDLE_NAME_TABLE, None)
    big = obj.pop(PADDLE_BIG_PARAMS, None)
    if big is not None:
        obj = _join_split_params(obj, big, source)
    state: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            value = value[1]  # Paddle 2.1: (parameter name, ndarray)
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise CheckpointError(f"{source}: entry {key!r} is a {type(value).__name__}, expected a NumPy array")
        if value.dtype.hasobject:
            raise UnsafeCheckpointError(f"{source}: entry {key!r} is an object array; refusing it")
        state[key] = value
    return state


def _join_split_params(obj: dict, info: Any, source: str) -> dict:
    if not isinstance(info, dict):
        raise CheckpointError(f"{source}: malformed {PADDLE_BIG_PARAMS} entry")
    for key, spec in info.items():
        try:
            parts = [obj.pop(part) for part in spec["slices"]]
            obj[key] = np.concatenate(parts).reshape(spec["OriginShape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{source}: cannot reassemble the split parameter {key!r}: {exc}") from None
    return obj


def save_paddle_state_dict(state: Mapping[str, np.ndarray], path: str | os.PathLike, protocol: int = 4) -> None:
    """Write ``state`` the way ``paddle.save(layer.state_dict(), path)`` does (dict of ndarrays + name table).

    The internal parameter names Paddle would record are not known outside Paddle; the table maps
    each structured name to itself, which ``paddle.load`` accepts.
    """
    if not 2 <= protocol <= 4:
        raise NucleoforgeError(f"Paddle pickles use protocol 2, 3 or 4, got {protocol}")
    obj: dict[str, Any] = {k: np.ascontiguousarray(v) for k, v in state.items()}
    obj[PADDLE_NAME_TABLE] = {k: k for k in state}
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)


def load_torch_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """Read a PyTorch ``.bin``/``.pt`` state dict with ``torch.load(weights_only=True)`` (tensors only)."""
    import torch

    source = str(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{source}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise UnsafeCheckpointError(
                f"{source}: the file holds objects other than tensors, which torch.load(weights_only=True) refuses: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        raise CheckpointError(f"{source}: not a readable PyTorch state dict (truncated or corrupt?): {exc}") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{source}: not a readable PyTorch state dict (truncated or corrupt?): {exc}") from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]  # training checkpoints wrap the weights
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source}: expected a state dict (name -> tensor), found {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: entries that are not tensors: {bad[:5]}")
    return dict(obj)


def load_safetensors_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``.safetensors`` file into ``{name: torch.Tensor}``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupt?): {exc}") from None


#: Weight files of a Hugging Face-style folder, in order of preference (safetensors first).
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def hf_weight_file(folder: str | os.PathLike) -> Path:
    """The weight file of a Hugging Face-style folder (``model.safetensors``, else ``pytorch_model.bin``);
    a :class:`CheckpointError` naming the folder when it has neither."""
    folder = Path(folder)
    for name in HF_WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError(f"{folder}: no weight file (looked for {', '.join(HF_WEIGHT_FILES)})")


def load_hf_folder_weights(folder: str | os.PathLike) -> tuple[dict[str, Any], Path]:
    """The state dict of a Hugging Face-style folder: ``model.safetensors`` where present, else ``pytorch_model.bin``."""
    path = hf_weight_file(folder)
    loader = load_safetensors_state_dict if path.name.endswith(".safetensors") else load_torch_state_dict
    return loader(path), path


def package_version(name: str = "nucleoforge") -> str:
    """The installed version of ``name`` (recorded with each conversion), ``"unknown"`` when it is
    not installed (run from a source tree).

    >>> package_version("no-such-package-here")
    'unknown'
    """
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file (recorded with each conversion).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(b"abc"); f.flush(); sha256(f.name)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------- saved folders
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def looks_like_hub_id(name: str) -> bool:
    """``owner/name`` as a Hugging Face hub id is written, and nothing that reads as a local path
    (``./x``, ``/x``, ``~/x``, ``a/b/c``, ``..``).

    >>> looks_like_hub_id("multimolecule/splicebert"), looks_like_hub_id("./splicebert"), looks_like_hub_id("a/b/c")
    (True, False, False)
    """
    return bool(_HUB_ID.fullmatch(str(name))) and ".." not in str(name)


def read_folder_config(folder: str | os.PathLike) -> dict[str, Any] | None:
    """``folder/config.json`` as a dict, or None where there is none, it is unreadable or not a JSON object
    (for sniffing a folder's format; :func:`folder_model_type` is the check that names what is wrong)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def folder_model_type(folder: str | os.PathLike) -> str:
    """The ``model_type`` of a saved model folder's ``config.json``.

    A missing path is a ``FileNotFoundError``; a file, a folder without ``config.json`` or an
    unreadable config a :class:`CheckpointError` naming the folder. A name that is not a local
    path but looks like a Hub id (``org/name``) is read through transformers.
    """
    path = Path(folder)
    if not path.exists():
        if not looks_like_hub_id(str(folder)):
            raise MissingPathError(f"model folder not found: {folder}")
        from transformers import PretrainedConfig

        try:
            config, _ = PretrainedConfig.get_config_dict(str(folder))
        except OSError as exc:
            raise CheckpointError(f"{folder}: no such local model folder, and it cannot be read from the Hub: {exc}") from None
        return str(config.get("model_type") or "")
    if not path.is_dir():
        raise CheckpointError(f"{folder}: is a file, not a model folder (expected a folder with config.json and weights)")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{folder}: not a model folder (no config.json)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{config_file}: unreadable model config: {exc}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_file}: not a model config (expected a JSON object)")
    return str(config.get("model_type") or "")


class _DropLoadReport:
    """Drops transformers' reports of missing/unexpected weights (the CheckpointError says it in one line)."""

    def filter(self, record: Any) -> bool:
        text = str(record.msg)
        return "LOAD REPORT" not in text and "checkpoint seem corrupted" not in text


def _listed(keys: Any, limit: int = 4) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f", … ({len(keys)} in all)" if len(keys) > limit else "")


def no_loading_problems() -> dict[str, list]:
    """transformers' ``output_loading_info`` of a load that filled every weight (for loaders that map
    weights themselves, e.g. MultiMolecule folders, and answer ``output_loading_info=True`` too)."""
    return {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}


def load_model_folder(
    load: Callable[..., Any],
    folder: str | os.PathLike,
    *,
    model_types: Collection[str],
    what: str,
    allow_missing: tuple[str, ...] = (),
    **kwargs: Any,
) -> Any:
    """Load a saved model folder with ``load`` (a ``from_pretrained``), refusing anything but a complete match.

    The one check behind every load of trained weights: the folder's ``config.json`` must
    name one of ``model_types`` (anything else is a :class:`CheckpointError` naming the folder,
    its model type and ``what`` was expected, before any weight is read),
    and every weight of the model must come from the folder and every weight of the folder
    must be used. transformers would initialise missing weights at random and drop unknown
    ones with a warning; here either is a :class:`CheckpointError` naming the folder, its model
    type and the weights. ``allow_missing`` lists name prefixes that may be missing (a new
    head that training initialises); unexpected weights are then allowed too (a head the
    new model does not have). Returns the model.
    """
    found = folder_model_type(folder)
    if found not in model_types:
        types = [repr(t) for t in model_types]
        expected = ", ".join(types[:-1]) + " or " + types[-1] if len(types) > 1 else types[0]
        raise CheckpointError(f"{folder}: holds a {found or 'unknown'!r} model, not {what} (model_type {expected})")
    import logging

    from safetensors import SafetensorError

    # transformers logs a "LOAD REPORT" table of missing/unexpected weights; the error below says it in one line.
    report = logging.getLogger("transformers.modeling_utils")
    drop_report = _DropLoadReport()
    report.addFilter(drop_report)
    kwargs.setdefault("ignore_mismatched_sizes", True)  # reported below, with the other weight problems
    try:
        model, info = load(str(folder) if isinstance(folder, Path) else folder, output_loading_info=True, **kwargs)
    except OSError as exc:  # transformers: no or unreadable weight file
        raise CheckpointError(f"{folder} ({found} model): cannot load its weights: {exc}") from None
    except SafetensorError as exc:  # a truncated or corrupt model.safetensors
        raise CheckpointError(f"{folder} ({found} model): cannot load its weights (truncated or corrupt "
                              f"model.safetensors?): {exc}") from None
    finally:
        report.removeFilter(drop_report)
    missing = [k for k in info.get("missing_keys", ()) if not (allow_missing and k.startswith(allow_missing))]
    unexpected = [] if allow_missing else list(info.get("unexpected_keys", ()))
    problems = []
    if missing:
        problems.append(f"{len(missing)} weight(s) missing ({_listed(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected weight(s) ({_listed(unexpected)})")
    mismatched = [k if isinstance(k, str) else k[0] for k in info.get("mismatched_keys", ())]
    mismatched = [k for k in mismatched if not (allow_missing and k.startswith(allow_missing))]
    if mismatched:
        problems.append(f"{len(mismatched)} weight(s) whose shape differs from config.json ({_listed(mismatched)})")
    if problems:
        raise CheckpointError(
            f"{folder} ({found} model): its weights do not match {type(model).__name__}: " + "; ".join(problems)
            + " (an incomplete folder, or one saved by another model class)"
        )
    return model


__all__ = [
    "CheckpointError", "UnsafeCheckpointError", "RestrictedUnpickler", "load_paddle_state_dict",
    "save_paddle_state_dict", "load_torch_state_dict", "load_safetensors_state_dict", "load_hf_folder_weights",
    "HF_WEIGHT_FILES", "sha256", "package_version", "folder_model_type", "load_model_folder", "looks_like_hub_id",
    "no_loading_problems", "read_folder_config",
]  # fmt: skip
