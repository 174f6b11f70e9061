"""Convert OpenSpliceAI and Pangolin PyTorch checkpoints into SpliceAI model folders.

Both originals are SpliceAI's network with other settings, so both load as
:class:`~.modeling_spliceai.SpliceAIModel` (differences are configuration):

* **OpenSpliceAI** (Chao et al. 2025; GPL-3.0): a folder ``<N>nt/`` of
  ``model_<N>nt_rs<seed>.pt`` files, one per training seed, each becoming an ensemble member.
  ``N`` (80, 400, 2000, 10000) selects the first 1-4 stages of SpliceAI-10k. LeakyReLU(0.1),
  PyTorch BatchNorm (eps 1e-5). Keys: ``initial_conv``, ``initial_skip.conv``,
  ``residual_units.<i>.{batchnorm1,conv1,batchnorm2,conv2}`` with a 1x1 skip conv
  ``residual_units.<i>.conv`` after every fourth unit (so ``i`` counts units and skips), ``final_conv``.
* **Pangolin** (Zeng & Li 2022; GPL-3.0): the 12 files ``final.{1,2,3}.{0,2,4,6}.3.v2`` its
  command line loads: tissue groups 0, 2, 4, 6 (heart, liver, brain, testis), 3 replicates each.
  ReLU, eps 1e-5, 12 output channels from 8 heads ``conv_last1..8`` (2, 1, 2, 1, 2, 1, 2, 1
  channels, concatenated in that order into our classifier). Keys: ``conv1``, ``skip``,
  ``resblocks.<i>.{bn1,conv1,bn2,conv2}``, ``convs.<s>``.

Files are read with ``torch.load(weights_only=True)`` only; every source tensor is mapped or
listed as ignored (``num_batches_tracked``, a training counter); a missing, unexpected or
mis-shaped tensor is one error line naming the file and the key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nucleoforge.errors import MissingPathError, NotAFolderError, NucleoforgeError
from nucleoforge.io.checkpoints import CheckpointError, load_torch_state_dict, sha256

from .configuration_spliceai import PANGOLIN_TISSUES, SPLICEAI_10K_STAGES, SpliceAIConfig

__all__ = [
    "OPENSPLICEAI_CONTEXTS", "PANGOLIN_FILES", "convert_openspliceai", "convert_pangolin", "openspliceai_config",
    "openspliceai_files", "openspliceai_state", "pangolin_config", "pangolin_files", "pangolin_state",
]  # fmt: skip

#: OpenSpliceAI context (nt) -> number of SpliceAI-10k stages.
OPENSPLICEAI_CONTEXTS = {80: 1, 400: 2, 2000: 3, 10000: 4}
#: The seeds OpenSpliceAI publishes for every model.
OPENSPLICEAI_SEEDS = (10, 11, 12, 13, 14)
_OSAI_FILE = re.compile(r"model_(\d+)nt_rs(\d+)\.pt")
#: Pangolin's 12 files in its command line's order: tissue group i in 0, 2, 4, 6, replicate j in 1..3.
PANGOLIN_FILES = tuple(f"final.{j}.{i}.3.v2" for i in (0, 2, 4, 6) for j in (1, 2, 3))
_PANGOLIN_HEADS = 8  # conv_last1..8: a softmax pair then a sigmoid channel per tissue
LICENCE = "GPL-3.0"
_IGNORED = "num_batches_tracked"  # BatchNorm's training step counter: not a weight

KeyMap = dict[str, tuple[str, int | None, int | None]]  # source key -> (our member key, rows start, stop)


# ------------------------------------------------------------------------------------ configs
def openspliceai_config(context: int, num_members: int, **kwargs) -> SpliceAIConfig:
    """Config of an OpenSpliceAI model of ``context`` nt (80, 400, 2000 or 10000) with ``num_members`` seeds."""
    if context not in OPENSPLICEAI_CONTEXTS:
        raise NucleoforgeError(f"OpenSpliceAI context {context} nt: expected one of {', '.join(map(str, OPENSPLICEAI_CONTEXTS))}")
    return SpliceAIConfig(
        stages=list(SPLICEAI_10K_STAGES[: OPENSPLICEAI_CONTEXTS[context]]), num_members=num_members,
        activation="leaky_relu", activation_slope=0.1, batch_norm_eps=1e-5, weights_family="openspliceai", **kwargs,
    )


def pangolin_config(**kwargs) -> SpliceAIConfig:
    """Config of Pangolin's 12-model ensemble (SpliceAI-10k trunk, ReLU, eps 1e-5, 4 tissues × 3 replicates)."""
    return SpliceAIConfig(
        num_members=len(PANGOLIN_FILES), batch_norm_eps=1e-5, head="pangolin", tissues=list(PANGOLIN_TISSUES),
        member_tissues=[PANGOLIN_FILES.index(f) // 3 for f in PANGOLIN_FILES], weights_family="pangolin",
        weights_name="Pangolin", weights_licence=LICENCE, weights_source="final.{1,2,3}.{0,2,4,6}.3.v2", **kwargs,
    )


# ------------------------------------------------------------------------------------ key maps
def _unit_keys(ours: str, theirs: str, names: Sequence[str]) -> KeyMap:
    """Keys of one residual unit: ``names`` = the source's (bn1, conv1, bn2, conv2) module names."""
    out: KeyMap = {}
    for our_mod, their_mod in zip(("norm1", "conv1", "norm2", "conv2"), names):
        params = ("weight", "bias", "running_mean", "running_var") if our_mod.startswith("norm") else ("weight", "bias")
        for p in params:
            out[f"{theirs}.{their_mod}.{p}"] = (f"{ours}.{our_mod}.{p}", None, None)
    return out


def _conv(ours: str, theirs: str) -> KeyMap:
    return {f"{theirs}.{p}": (f"{ours}.{p}", None, None) for p in ("weight", "bias")}


def openspliceai_key_map(config: SpliceAIConfig) -> KeyMap:
    """OpenSpliceAI state-dict key -> our member key, for ``config``'s stages."""
    out = {**_conv("input_conv", "initial_conv"), **_conv("input_skip", "initial_skip.conv")}
    index = 0  # residual_units holds the units and, after every 4th, a Skip module
    for s, (num_blocks, _, _) in enumerate(config.stages):
        for u in range(num_blocks):
            out.update(_unit_keys(f"stages.{s}.units.{u}", f"residual_units.{index}",
                                  ("batchnorm1", "conv1", "batchnorm2", "conv2")))
            index += 1
        out.update(_conv(f"stages.{s}.skip", f"residual_units.{index}.conv"))
        index += 1
    return {**out, **_conv("classifier", "final_conv")}


def pangolin_key_map(config: SpliceAIConfig) -> KeyMap:
    """Pangolin state-dict key -> our member key (``conv_last1..8`` -> row ranges of the classifier)."""
    out = {**_conv("input_conv", "conv1"), **_conv("input_skip", "skip")}
    index = 0
    for s, (num_blocks, _, _) in enumerate(config.stages):
        for u in range(num_blocks):
            out.update(_unit_keys(f"stages.{s}.units.{u}", f"resblocks.{index}", ("bn1", "conv1", "bn2", "conv2")))
            index += 1
        out.update(_conv(f"stages.{s}.skip", f"convs.{s}"))
    row = 0
    for head in range(1, _PANGOLIN_HEADS + 1):
        width = 2 if head % 2 else 1  # odd heads: the softmax pair; even: the sigmoid usage channel
        for p in ("weight", "bias"):
            out[f"conv_last{head}.{p}"] = (f"classifier.{p}", row, row + width)
        row += width
    return out


# ------------------------------------------------------------------------------------ mapping
def _map_member(path: Path, m: int, key_map: KeyMap, expected: dict, what: str) -> dict:
    """``members.{m}.*`` tensors from the checkpoint at ``path``, strictly (one error line per problem)."""
    import torch

    tensors = load_torch_state_dict(path)
    unexpected = sorted(k for k in tensors if k not in key_map and not k.endswith(_IGNORED))
    missing = sorted(k for k in key_map if k not in tensors)
    if unexpected or missing:
        problem = (f"unexpected tensor(s) {', '.join(unexpected[:4])}" if unexpected else
                   f"missing tensor(s) {', '.join(missing[:4])}")
        count = len(unexpected) if unexpected else len(missing)
        raise CheckpointError(f"{path}: {problem}{f' (… {count} in all)' if count > 4 else ''}; expected {what}")
    filled: dict[str, torch.Tensor] = {}
    for theirs, (ours, start, stop) in key_map.items():
        key = f"members.{m}.{ours}"
        want = tuple(expected[key].shape)
        target_shape = want if start is None else (stop - start, *want[1:])
        tensor = tensors[theirs]
        if tuple(tensor.shape) != target_shape or not tensor.is_floating_point():
            raise CheckpointError(f"{path}: {theirs} has shape {tuple(tensor.shape)} ({tensor.dtype}); expected "
                                  f"{target_shape} float for {key} ({what})")
        if start is None:
            filled[key] = tensor.float().contiguous()
        else:
            filled.setdefault(key, torch.zeros(want))[start:stop] = tensor.float()
    return filled


def _state(files: Sequence[Path], config: SpliceAIConfig, key_map: KeyMap, what: str) -> dict:
    """The model state dict of ``config`` from one checkpoint per member."""
    import torch

    from .modeling_spliceai import SpliceAIModel

    with torch.device("meta"):
        expected = SpliceAIModel(config).state_dict()
    state: dict = {}
    for m, path in enumerate(files):
        state.update(_map_member(Path(path), m, key_map, expected, what))
    for key, tensor in expected.items():
        if key.endswith(_IGNORED):
            state[key] = torch.zeros((), dtype=tensor.dtype)
    assert set(state) == set(expected), sorted(set(expected) ^ set(state))
    return state


def openspliceai_state(files: Sequence[str | Path], config: SpliceAIConfig) -> dict:
    """State dict of ``config`` with member ``m`` from ``files[m]`` (OpenSpliceAI checkpoints)."""
    what = f"an OpenSpliceAI {config.context}-nt model ({sum(n for n, _, _ in config.stages)} residual units)"
    return _state([Path(f) for f in files], config, openspliceai_key_map(config), what)


def pangolin_state(files: Sequence[str | Path], config: SpliceAIConfig) -> dict:
    """State dict of ``config`` with member ``m`` from ``files[m]`` (Pangolin checkpoints)."""
    return _state([Path(f) for f in files], config, pangolin_key_map(config), "a Pangolin final.*.3.v2 model")


# ------------------------------------------------------------------------------------ folders
def _source_folder(src: str | os.PathLike) -> Path:
    path = Path(src).expanduser()
    if not path.exists():
        raise MissingPathError(f"{src}: no such folder")
    if not path.is_dir():
        raise NotAFolderError(f"{src}: not a folder (give the folder that holds the checkpoint files)")
    return path


def openspliceai_files(src: str | os.PathLike) -> tuple[int, list[tuple[int, Path]]]:
    """``(context, [(seed, file), ...])`` of an OpenSpliceAI context folder (``.../<N>nt/``), seeds sorted."""
    folder = _source_folder(src)
    found, others = [], []
    for p in sorted(folder.iterdir()):
        match = _OSAI_FILE.fullmatch(p.name)
        if match:
            found.append((int(match[1]), int(match[2]), p))
        elif p.suffix in (".pt", ".pth"):
            others.append(p.name)
    if not found:
        subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"\d+nt", p.name))
        hint = f"; it holds context folders {', '.join(subfolders)}: pick one" if subfolders else ""
        if (folder / PANGOLIN_FILES[0]).is_file():
            hint = "; it holds Pangolin's final.*.3.v2 files: use `nucleoforge convert pangolin`"
        raise ConversionFolderError(f"{src}: no model_<N>nt_rs<seed>.pt files; expected one OpenSpliceAI context folder "
                                    f"such as openspliceai-mane/10000nt{hint}")
    if others:
        raise ConversionFolderError(f"{src}: {others[0]} is not named model_<N>nt_rs<seed>.pt; expected only OpenSpliceAI "
                                    "checkpoints of one context in the folder")
    contexts = sorted({n for n, _, _ in found})
    if len(contexts) > 1:
        raise ConversionFolderError(f"{src}: checkpoints of several contexts ({', '.join(f'{n} nt' for n in contexts)}); "
                                    "expected one context per folder")
    if contexts[0] not in OPENSPLICEAI_CONTEXTS:
        raise ConversionFolderError(f"{src}: context {contexts[0]} nt; expected one of "
                                    f"{', '.join(map(str, OPENSPLICEAI_CONTEXTS))}")
    return contexts[0], sorted((seed, p) for _, seed, p in found)


def pangolin_files(src: str | os.PathLike) -> list[Path]:
    """Pangolin's 12 checkpoint files in ``src``, in :data:`PANGOLIN_FILES` order (other files ignored)."""
    folder = _source_folder(src)
    missing = [name for name in PANGOLIN_FILES if not (folder / name).is_file()]
    if len(missing) == len(PANGOLIN_FILES):
        hint = "; it holds OpenSpliceAI checkpoints: use `nucleoforge convert openspliceai`" if any(
            _OSAI_FILE.fullmatch(p.name) for p in folder.iterdir()) else ""
        raise ConversionFolderError(f"{src}: not a Pangolin models folder; expected the 12 files "
                                    f"final.{{1,2,3}}.{{0,2,4,6}}.3.v2{hint}")
    if missing:
        raise ConversionFolderError(f"{src}: missing {', '.join(missing)}; expected all 12 files final.{{1,2,3}}.{{0,2,4,6}}.3.v2")
    return [folder / name for name in PANGOLIN_FILES]


class ConversionFolderError(CheckpointError):
    """A source folder is not the release the converter reads (wrong kind, files missing)."""


def _write(out: Path, config: SpliceAIConfig, state: dict, sources: list[dict], mapping: KeyMap, overwrite: bool) -> Path:
    """``out``/config.json, model.safetensors, conversion.json and LICENSE, written via a temporary sibling."""
    from safetensors.torch import save_file

    from nucleoforge.io.checkpoints import package_version

    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        raise NucleoforgeError(f"{out}: exists and is not an empty folder (pass --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        config.architectures = ["SpliceAIModel"]
        config.save_pretrained(tmp)
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        report = {
            "name": config.weights_name, "weights_family": config.weights_family, "licence": config.weights_licence,
            "converter": f"{__name__} (nucleoforge {package_version()})", "sources": sources,
            "mapping": {k: f"members.<m>.{o}" + ("" if a is None else f"[{a}:{b}]") for k, (o, a, b) in mapping.items()},
            "ignored": [f"*.{_IGNORED} (BatchNorm's training step counter; zeros in the converted folder)"],
        }
        (tmp / "conversion.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (tmp / "LICENSE").write_text(
            f"{config.weights_name}: weights converted by nucleoforge (format only) from {config.weights_source}.\n"
            f"The original weights are licensed {config.weights_licence} (GNU General Public License v3.0); "
            "this folder is a derived work under the same licence: https://www.gnu.org/licenses/gpl-3.0.html\n",
            encoding="utf-8",
        )
        if out.exists():
            shutil.rmtree(out)
        try:
            os.replace(tmp, out)
        except OSError:  # another process put a complete folder there first
            if not (out / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _sources(files: Sequence[Path], **extra: Sequence) -> list[dict]:
    rows = []
    for m, path in enumerate(files):
        row = {"file": path.name, "sha256": sha256(path), "member": m}
        rows.append({**row, **{k: v[m] for k, v in extra.items()}})
    return rows


def convert_openspliceai(src: str | os.PathLike, out: str | os.PathLike | None = None, *, overwrite: bool = False) -> Path:
    """Convert an OpenSpliceAI context folder (``model_<N>nt_rs*.pt``, every seed a member) into ``out``.

    ``out`` omitted: the cache folder of the published model's name (``openspliceai-mane-10k``…),
    which needs ``src`` laid out as published (``openspliceai-<species>/<N>nt/``, seeds rs10-rs14).
    """
    from .pretrained import cache_folder, openspliceai_name

    context, seeds = openspliceai_files(src)
    name = openspliceai_name(Path(src).expanduser().resolve(), context)
    published = name is not None and tuple(s for s, _ in seeds) == OPENSPLICEAI_SEEDS
    if out is None:  # the published model's cache folder: only the published files
        if name is None:
            raise NucleoforgeError(f"{src}: not laid out as a published OpenSpliceAI model (.../openspliceai-<species>/<N>nt/); "
                                   "give OUT, the folder to write")
        if not published:
            missing = [f"model_{context}nt_rs{s}.pt" for s in OPENSPLICEAI_SEEDS if s not in dict(seeds)]
            raise ConversionFolderError(f"{src}: {name} is published with seeds rs10-rs14; "
                                        f"{'missing ' + ', '.join(missing) if missing else 'found other seeds'}")
        out, overwrite = cache_folder(name), True
    files = [p for _, p in seeds]
    pretty = _display_name(name if published else None, context)
    numbers = [s for s, _ in seeds]
    contiguous = numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    source = f"model_{context}nt_rs{{{numbers[0]}..{numbers[-1]}}}.pt" if contiguous and len(numbers) > 1 else \
        ", ".join(p.name for p in files)
    config = openspliceai_config(context, len(files), weights_name=pretty, weights_source=source, weights_licence=LICENCE)
    state = openspliceai_state(files, config)
    return _write(Path(out), config, state, _sources(files, seed=[f"rs{s}" for s in numbers]),
                  openspliceai_key_map(config), overwrite)


def _display_name(name: str | None, context: int) -> str:
    if name is None:
        return f"OpenSpliceAI {context} nt"
    from .pretrained import NAMED_WEIGHTS

    return NAMED_WEIGHTS[name].display


def convert_pangolin(src: str | os.PathLike, out: str | os.PathLike | None = None, *, overwrite: bool = False) -> Path:
    """Convert Pangolin's 12 ``final.{1,2,3}.{0,2,4,6}.3.v2`` files into ``out`` (default: the ``pangolin`` cache folder)."""
    from .pretrained import cache_folder

    files = pangolin_files(src)
    if out is None:
        out, overwrite = cache_folder("pangolin"), True
    config = pangolin_config()
    state = pangolin_state(files, config)
    tissues = [config.tissues[t] for t in config.member_tissues]
    return _write(Path(out), config, state, _sources(files, tissue=tissues), pangolin_key_map(config), overwrite)
