"""Named splice weights (``spliceai-10k``, ``openspliceai-mane-10k``, ``pangolin``, ``cispliceai``…): where
each comes from, its licence, and how a name resolves to a converted folder.

* ``spliceai-10k`` (and its members ``spliceai-10k-1..5``) and ``cispliceai`` convert themselves
  from the installed wheels (``spliceai``, ``cispliceai``) into the cache on first use.
* OpenSpliceAI and Pangolin weights are not on PyPI: ``nucleoforge convert openspliceai SRC`` /
  ``nucleoforge convert pangolin SRC`` (OUT omitted) write them into the cache folder of their
  name (:func:`cache_folder`); until then the name is one error line saying which command to run.

>>> NAMED_WEIGHTS["openspliceai-mane-10k"].display, NAMED_WEIGHTS["pangolin"].licence
('OpenSpliceAI MANE 10k', 'GPL-3.0')
>>> from nucleoforge.models.spliceai import SpliceAIConfig
>>> licence_notice(SpliceAIConfig(weights_name="Pangolin", weights_licence="GPL-3.0", weights_source="final.{1,2,3}.{0,2,4,6}.3.v2"))
'weights: Pangolin (GPL-3.0; converted from final.{1,2,3}.{0,2,4,6}.3.v2)'
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.cache import cache_dir

__all__ = ["NAMED_WEIGHTS", "NamedWeights", "cache_folder", "is_converted", "licence_notice", "openspliceai_name", "resolve_named"]

_OSAI_REPO = "https://github.com/Kuanhao-Chao/OpenSpliceAI"
_CONTEXT_SUFFIX = {80: "80", 400: "400", 2000: "2k", 10000: "10k"}


@dataclass(frozen=True)
class NamedWeights:
    """One named weight set: ``weights_family``, display name, licence, how it is made, where it is published."""

    name: str
    family: str
    display: str
    licence: str
    make: str
    published: str


def _table() -> dict[str, NamedWeights]:
    rows = [NamedWeights("spliceai-10k", "spliceai", "SpliceAI 10k", "CC BY-NC 4.0", "converted from the installed "
                         "spliceai wheel on first use", "PyPI spliceai==1.3.1 (pip install --no-deps spliceai==1.3.1)")]
    rows += [NamedWeights(f"spliceai-10k-{i}", "spliceai", f"SpliceAI 10k member {i}", "CC BY-NC 4.0", rows[0].make,
                          rows[0].published) for i in range(1, 6)]
    for species, context in [("mane", n) for n in _CONTEXT_SUFFIX] + [
            (s, 10000) for s in ("mouse", "zebrafish", "honeybee", "arabidopsis")]:
        name = f"openspliceai-{species}-{_CONTEXT_SUFFIX[context]}"
        label = "MANE" if species == "mane" else species
        rows.append(NamedWeights(
            name, "openspliceai", f"OpenSpliceAI {label} {_CONTEXT_SUFFIX[context]}", "GPL-3.0",
            f"nucleoforge convert openspliceai <folder of model_{context}nt_rs10..14.pt>",
            f"{_OSAI_REPO} models/openspliceai-{species}/{context}nt/"))
    rows.append(NamedWeights("pangolin", "pangolin", "Pangolin", "GPL-3.0",
                             "nucleoforge convert pangolin <folder of final.{1,2,3}.{0,2,4,6}.3.v2>",
                             "https://github.com/tkzeng/Pangolin pangolin/models/"))
    rows.append(NamedWeights("cispliceai", "cispliceai", "CI-SpliceAI", "CC BY 4.0",
                             "converted from the installed cispliceai wheel on first use",
                             "PyPI cispliceai==1.2.2 (pip install --no-deps cispliceai==1.2.2)"))
    return {row.name: row for row in rows}


#: Every named weight set, by name.
NAMED_WEIGHTS: dict[str, NamedWeights] = _table()


def cache_folder(name: str) -> Path:
    """The cache folder a named model converts into: ``$NUCLEOFORGE_CACHE/<name>`` (SpliceAI: ``spliceai/<name>``)."""
    if name.startswith("spliceai-"):
        return cache_dir(create=False) / "spliceai" / name
    return cache_dir(create=False) / name


def is_converted(name: str) -> bool:
    """Whether the named model's converted folder is in the cache."""
    folder = cache_folder(name)
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def openspliceai_name(folder: Path, context: int) -> str | None:
    """The published name of an OpenSpliceAI context folder laid out as released
    (``.../openspliceai-<species>/<N>nt``), or None."""
    species = folder.parent.name.removeprefix("openspliceai-")
    if folder.name != f"{context}nt" or species == folder.parent.name or context not in _CONTEXT_SUFFIX:
        return None
    name = f"openspliceai-{species}-{_CONTEXT_SUFFIX[context]}"
    return name if name in NAMED_WEIGHTS else None


def _convert_cispliceai(target: Path) -> Path:
    """Convert the installed cispliceai wheel into ``target`` through a temporary sibling."""
    try:
        from .convert_cispliceai import convert_cispliceai
    except ImportError as exc:
        raise NucleoforgeError(f"cispliceai: this installation has no CI-SpliceAI converter ({exc})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".cispliceai-", dir=target.parent))
    try:
        convert_cispliceai(tmp / "out")
        try:
            os.replace(tmp / "out", target)
        except OSError:  # another process converted it first
            if not is_converted("cispliceai"):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_named(name: str) -> Path:
    """The converted folder of the named model ``name``, converting wheel weights on first use.

    OpenSpliceAI and Pangolin names must have been converted with ``nucleoforge convert``
    (one error line says how, and where the weights are published).
    """
    entry = NAMED_WEIGHTS.get(name)
    if entry is None:
        raise NucleoforgeError(f"unknown named splice model {name!r}; expected one of {', '.join(NAMED_WEIGHTS)}")
    if entry.family == "spliceai":
        from .convert import resolve_pretrained

        return resolve_pretrained(name)
    if is_converted(name):
        return cache_folder(name)
    if name == "cispliceai":
        return _convert_cispliceai(cache_folder(name))
    raise MissingPathError(f"{name} is not converted yet: run `{entry.make}` (weights published at {entry.published}, "
                           f"{entry.licence}); it writes {cache_folder(name)}")


def fill_provenance(config: Any, name: str) -> None:
    """Record the named model's display name, licence and family in ``config`` where the folder did not."""
    entry = NAMED_WEIGHTS.get(name)
    if entry is None:
        return
    if getattr(config, "weights_name", None) is None:
        config.weights_name = entry.display
    if getattr(config, "weights_licence", None) is None:
        config.weights_licence = entry.licence


def licence_notice(model_or_config: Any) -> str:
    """One line naming the weights and their licence, e.g.
    ``weights: OpenSpliceAI MANE 10k (GPL-3.0; converted from model_10000nt_rs{10..14}.pt)``.

    Commands print it once per run (stderr). Weights without a recorded licence (trained here,
    or converted before licences were recorded) say so.
    """
    config = getattr(model_or_config, "config", model_or_config)
    name = getattr(config, "weights_name", None) or getattr(model_or_config, "name_or_path", None) or \
        getattr(config, "_name_or_path", None) or "unnamed SpliceAI weights"
    licence = getattr(config, "weights_licence", None) or "licence not recorded"
    source = getattr(config, "weights_source", None)
    return f"weights: {name} ({licence}" + (f"; converted from {source})" if source else ")")
