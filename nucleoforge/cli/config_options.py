"""The ``--config`` option of the training commands: model-config overrides from the command line.

``pretrain``, ``finetune`` and ``train-splice`` take ``--config`` (repeatable) and hand the
library a plain ``dict`` of config overrides; the parsing of the command-line strings stays here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nucleoforge.errors import NucleoforgeError

__all__ = ["parse_config_overrides"]


def parse_config_overrides(items: Iterable[str] | None) -> dict[str, Any]:
    """``--config`` values: a JSON file, a JSON object, or ``key=value`` pairs (values parsed as JSON).

    >>> parse_config_overrides(["hidden_size=64,num_hidden_layers=2", '{"hidden_act": "relu"}'])
    {'hidden_size': 64, 'num_hidden_layers': 2, 'hidden_act': 'relu'}
    """
    out: dict[str, Any] = {}
    for item in items or []:
        item = item.strip()
        if not item:
            continue
        if item.startswith("{"):
            try:
                out.update(json.loads(item))
            except json.JSONDecodeError as exc:
                raise NucleoforgeError(f"--config {item[:40]!r} is not valid JSON ({exc.msg})") from None
            continue
        if "=" not in item and Path(item).is_file():
            out.update(_json_file(item))
            continue
        for pair in item.split(","):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise NucleoforgeError(f"--config entry {pair!r} is not key=value (nor a JSON file/object)")
            try:
                out[key.strip()] = json.loads(value)
            except json.JSONDecodeError:
                out[key.strip()] = value
    return out


def _json_file(path: str) -> dict[str, Any]:
    """The JSON object in the file ``path``; a file that holds none is refused naming it."""
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise NucleoforgeError(f"--config {path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
        except UnicodeDecodeError as exc:
            raise NucleoforgeError(f"--config {path}: not UTF-8 text ({exc.reason})") from None
    if not isinstance(data, dict):
        raise NucleoforgeError(f"--config {path}: expected a JSON object of config values, got a JSON {type(data).__name__}")
    return data
