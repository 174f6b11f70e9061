"""The one cache folder: decompressed genomes and converted weights live below it."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(create: bool = True) -> Path:
    """``$NUCLEOFORGE_CACHE``, else ``$XDG_CACHE_HOME/nucleoforge``, else ``~/.cache/nucleoforge``.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); os.environ["NUCLEOFORGE_CACHE"] = d
    >>> str(cache_dir()) == d
    True
    >>> del os.environ["NUCLEOFORGE_CACHE"]; os.environ["XDG_CACHE_HOME"] = d
    >>> cache_dir(create=False) == Path(d) / "nucleoforge"
    True
    >>> del os.environ["XDG_CACHE_HOME"]
    """
    if env := os.environ.get("NUCLEOFORGE_CACHE"):
        path = Path(env).expanduser()
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "nucleoforge"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
