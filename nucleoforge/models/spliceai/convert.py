"""Convert the original SpliceAI Keras models (h5) into nucleoforge folders, with h5py only.

The published SpliceAI weights ship inside the PyPI ``spliceai`` wheel as five Keras 2 h5
files (``spliceai/models/spliceai{1..5}.h5``). They are licensed **CC BY-NC 4.0**
(Illumina; non-commercial use only): every folder written here carries a LICENSE note saying
so, and the weights are never part of nucleoforge itself. Install them with
``pip install --no-deps spliceai==1.3.1`` (TensorFlow is not needed).

Name mapping (one member; Keras layers are numbered in creation order):

* ``conv1d_1`` -> ``input_conv``, ``conv1d_2`` -> ``input_skip``;
* per residual unit, in order: ``batch_normalization_{b}`` -> ``norm1``, ``conv1d_{c}`` ->
  ``conv1``, ``batch_normalization_{b+1}`` -> ``norm2``, ``conv1d_{c+1}`` -> ``conv2``;
* after each stage's units the next ``conv1d`` is the stage's 1x1 ``skip``;
* the last ``conv1d`` -> ``classifier``.

Kernels are stored ``(K, C_in, C_out)`` and become PyTorch's ``(C_out, C_in, K)``; BatchNorm
``gamma, beta, moving_mean, moving_variance`` become ``weight, bias, running_mean, running_var``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.cache import cache_dir as default_cache_dir
from nucleoforge.registry import family

from .configuration_spliceai import SpliceAIConfig

logger = logging.getLogger(__name__)

LICENSE_NOTE = """\
SpliceAI pretrained weights (Jaganathan et al., Cell 2019; Illumina, Inc.)

These weights were converted by nucleoforge from the Keras models shipped in the PyPI
package `spliceai` (https://github.com/Illumina/SpliceAI). They are licensed under the
Creative Commons Attribution-NonCommercial 4.0 International licence (CC BY-NC 4.0):
https://creativecommons.org/licenses/by-nc/4.0/ -- non-commercial use only, with
attribution. The conversion changes only the storage format (Keras h5 -> safetensors).

Cite: Jaganathan K, Kyriazopoulou Panagiotopoulou S, McRae JF, et al. Predicting splicing
from primary sequence with deep learning. Cell 176(3):535-548.e24 (2019).
"""

#: Names that :meth:`SpliceAIModel.from_pretrained` resolves to converted wheel weights,
#: mapped to the wheel's member numbers (``spliceai{n}.h5``).
PRETRAINED_NAMES: dict[str, tuple[int, ...]] = {
    name: (1, 2, 3, 4, 5) if name == "spliceai-10k" else (int(name.rsplit("-", 1)[1]),)
    for name in family("spliceai").pretrained
    if name.startswith("spliceai-10k")  # the other names (OpenSpliceAI, Pangolin, CI-SpliceAI): .pretrained
}

_INSTALL_HINT = (
    "install the SpliceAI wheel (only its data files are used; CC BY-NC 4.0 weights): "
    "pip install --no-deps spliceai==1.3.1"
)


def package_roots(name: str) -> list[Path]:
    """Candidate folders of the installed package ``name``, found without importing it.

    Used for the data files of original wheels (``spliceai``, ``cispliceai``), whose
    ``__init__`` has side effects or needs TensorFlow. Empty when it is not installed.
    """
    roots: list[Path] = []
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        roots.extend(Path(p) for p in spec.submodule_search_locations)
    try:
        dist = importlib.metadata.distribution(name)
        roots.append(Path(dist.locate_file(name)))
    except importlib.metadata.PackageNotFoundError:
        pass
    return list(dict.fromkeys(roots))


def find_spliceai_wheel_files() -> tuple[list[Path], Path]:
    """The five h5 models and the annotations folder of the installed ``spliceai`` package.

    The package is located without importing it (its ``__init__`` installs a SIGINT handler
    and needs ``pkg_resources``). Raises :class:`FileNotFoundError` with install instructions
    when the package or one of its files is missing.
    """
    roots = package_roots("spliceai")
    for root in roots:
        models = [root / "models" / f"spliceai{n}.h5" for n in range(1, 6)]
        if all(p.is_file() for p in models):
            return models, root / "annotations"
    where = ", ".join(str(r) for r in roots) or "nowhere (package not installed)"
    raise MissingPathError(
        f"SpliceAI model files models/spliceai1..5.h5 not found (looked in: {where}); {_INSTALL_HINT}"
    )


def read_keras_h5(path: str | Path) -> dict[str, np.ndarray]:
    """All weight arrays of a Keras h5 file as ``{"layer/weight:0": array}``.

    Reads the full-model layout (``model_weights/<layer>/<layer>/<weight>``) or the
    ``save_weights`` layout (layers at the root).
    """
    import h5py

    path = Path(path)
    weights: dict[str, np.ndarray] = {}
    try:
        f = h5py.File(path, "r")
    except OSError as exc:  # h5py's own "file signature not found" names no file
        raise NucleoforgeError(f"{path}: not a readable Keras .h5 file (truncated or not HDF5?): {exc}") from None
    with f:
        root = f["model_weights"] if "model_weights" in f else f

        def visit(name: str, obj) -> None:
            if isinstance(obj, h5py.Dataset):
                # "<layer>/<layer>/<weight>" -> "<layer>/<weight>"
                parts = name.split("/")
                key = "/".join(parts[1:]) if len(parts) > 2 and parts[0] == parts[1] else name
                weights[key] = np.asarray(obj[()], dtype=np.float32)

        root.visititems(visit)
    if not weights:
        raise NucleoforgeError(f"{path}: no weight datasets found; is this a Keras model file?")
    return weights


def _member_key_map(config: SpliceAIConfig) -> dict[str, tuple[str, str]]:
    """Map a member's PyTorch state-dict keys to ``(keras_layer, kind)`` for ``config``."""
    mapping: dict[str, tuple[str, str]] = {}
    conv, bn = 1, 1

    def add_conv(prefix: str) -> None:
        nonlocal conv
        mapping[f"{prefix}.weight"] = (f"conv1d_{conv}", "kernel")
        mapping[f"{prefix}.bias"] = (f"conv1d_{conv}", "bias")
        conv += 1

    def add_bn(prefix: str) -> None:
        nonlocal bn
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):
            mapping[f"{prefix}.{ours}"] = (f"batch_normalization_{bn}", theirs)
        bn += 1

    add_conv("input_conv")
    add_conv("input_skip")
    for s, (num_blocks, _, _) in enumerate(config.stages):
        for u in range(num_blocks):
            add_bn(f"stages.{s}.units.{u}.norm1")
            add_conv(f"stages.{s}.units.{u}.conv1")
            add_bn(f"stages.{s}.units.{u}.norm2")
            add_conv(f"stages.{s}.units.{u}.conv2")
        add_conv(f"stages.{s}.skip")
    add_conv("classifier")
    return mapping


def convert_keras_h5(paths: Sequence[str | Path], config: SpliceAIConfig | None = None) -> dict:
    """State dict of a :class:`SpliceAIModel` with one member per h5 file, strictly.

    Every weight of every h5 file must be used and every parameter and buffer of the model
    must be filled; otherwise :class:`ValueError` lists the missing / unused / mis-shaped
    keys with the file they belong to. ``config`` defaults to SpliceAI-10k with
    ``len(paths)`` members.
    """
    import torch

    from .modeling_spliceai import SpliceAIModel

    paths = [Path(p) for p in paths]
    if not paths:
        raise NucleoforgeError("convert_keras_h5: no h5 files given")
    if config is None:
        config = SpliceAIConfig(num_members=len(paths))
    if config.num_members != len(paths):
        raise NucleoforgeError(f"config.num_members = {config.num_members} but {len(paths)} h5 files were given")
    with torch.device("meta"):
        expected = SpliceAIModel(config).state_dict()
    key_map = _member_key_map(config)
    state: dict[str, torch.Tensor] = {}
    for m, path in enumerate(paths):
        weights = read_keras_h5(path)
        used: set[str] = set()
        missing: list[str] = []
        for ours, (layer, kind) in key_map.items():
            h5_key = f"{layer}/{kind}:0"
            if h5_key not in weights:
                missing.append(f"{h5_key} (for members.{m}.{ours})")
                continue
            array = weights[h5_key]
            if kind == "kernel":
                array = array.transpose(2, 1, 0)  # (K, C_in, C_out) -> (C_out, C_in, K)
            full_key = f"members.{m}.{ours}"
            want = tuple(expected[full_key].shape)
            if array.shape != want:
                raise NucleoforgeError(
                    f"{path}: {h5_key} has shape {weights[h5_key].shape}, which does not fit "
                    f"{full_key} of shape {want} (config stages {config.stages}, channels {config.channels})"
                )
            state[full_key] = torch.from_numpy(np.ascontiguousarray(array))
            used.add(h5_key)
        unused = sorted(set(weights) - used)
        if missing or unused:
            raise NucleoforgeError(
                f"{path}: the h5 weights do not match SpliceAI config stages={config.stages}: "
                f"missing datasets {missing or '[]'}; unused datasets {unused or '[]'}"
            )
    for key, tensor in expected.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros((), dtype=tensor.dtype)  # a training counter, not in Keras files
    not_filled = sorted(set(expected) - set(state))
    if not_filled:
        raise NucleoforgeError(f"convert_keras_h5: model keys not filled: {not_filled}")
    return state


def _resolve_sources(sources: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """h5 files from ``None`` (installed wheel), a folder (``*.h5`` sorted) or explicit files."""
    if sources is None:
        return find_spliceai_wheel_files()[0]
    if isinstance(sources, (str, Path)):
        sources = [sources]
    files: list[Path] = []
    for src in map(Path, sources):
        if src.is_dir():
            found = sorted(src.glob("*.h5")) or sorted((src / "models").glob("*.h5"))
            if not found:
                raise MissingPathError(f"{src}: no .h5 files in this folder (or its models/ subfolder)")
            files.extend(found)
        elif src.is_file():
            files.append(src)
        else:
            raise MissingPathError(f"{src}: no such file or folder")
    return files


def convert_spliceai(
    dst_dir: str | Path,
    sources: str | Path | Sequence[str | Path] | None = None,
    config: SpliceAIConfig | None = None,
) -> Path:
    """Convert SpliceAI Keras h5 models into ``dst_dir`` (config.json, model.safetensors, LICENSE).

    ``sources``: h5 files or a folder of them; default the five models of the installed
    ``spliceai`` wheel. The weights are CC BY-NC 4.0 (non-commercial use only).
    """
    from safetensors.torch import save_file

    files = _resolve_sources(sources)
    logger.warning(
        "Converting %d SpliceAI Keras model(s) (%s) to %s. The SpliceAI weights are licensed "
        "CC BY-NC 4.0 (non-commercial use only); see LICENSE in the output folder.",
        len(files), ", ".join(f.name for f in files), dst_dir,
    )
    names = [f.name for f in files]
    published = names == [f"spliceai{n}.h5" for n in range(1, 6)]
    member = len(names) == 1 and names[0] in [f"spliceai{n}.h5" for n in range(1, 6)]
    title = "SpliceAI 10k" if published else f"SpliceAI 10k member {names[0][8]}" if member else f"SpliceAI ({', '.join(names)})"
    config = config or SpliceAIConfig(num_members=len(files), weights_name=title, weights_licence="CC BY-NC 4.0",
                                      weights_source="spliceai{1..5}.h5" if published else ", ".join(names))
    state = convert_keras_h5(files, config)
    dst = Path(dst_dir)
    dst.mkdir(parents=True, exist_ok=True)
    config.architectures = ["SpliceAIModel"]
    config.save_pretrained(dst)
    save_file({k: v.contiguous() for k, v in state.items()}, str(dst / "model.safetensors"), metadata={"format": "pt"})
    (dst / "LICENSE").write_text(LICENSE_NOTE + "\nSource files: " + ", ".join(f.name for f in files) + "\n")
    return dst


def resolve_pretrained(name: str, cache_dir: str | Path | None = None) -> Path:
    """Folder of the converted pretrained model ``name``, converting from the wheel on first use.

    The result is cached under :func:`default_cache_dir` (``$NUCLEOFORGE_CACHE``) as
    ``spliceai/<name>``, so later loads work offline and without the wheel.
    """
    if name not in PRETRAINED_NAMES:
        raise NucleoforgeError(f"unknown pretrained SpliceAI name {name!r}; expected one of {sorted(PRETRAINED_NAMES)}")
    target = Path(cache_dir or default_cache_dir(create=False)) / "spliceai" / name
    if (target / "model.safetensors").is_file() and (target / "config.json").is_file():
        return target
    try:
        h5_files, _ = find_spliceai_wheel_files()
    except FileNotFoundError as exc:
        raise MissingPathError(f"{name} is not in the cache ({target}) and cannot be converted: {exc}") from None
    sources = [h5_files[n - 1] for n in PRETRAINED_NAMES[name]]
    target.parent.mkdir(parents=True, exist_ok=True)
    # Convert into a temporary sibling and rename it into place, so that concurrent first
    # uses (e.g. parallel test workers) never see a half-written folder.
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        convert_spliceai(tmp, sources)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


__all__ = [
    "LICENSE_NOTE",
    "PRETRAINED_NAMES",
    "convert_keras_h5",
    "convert_spliceai",
    "default_cache_dir",
    "find_spliceai_wheel_files",
    "package_roots",
    "read_keras_h5",
    "resolve_pretrained",
]
