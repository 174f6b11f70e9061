"""Named sequences from a FASTA (plain or gzip) or Stockholm file, the inputs of the language-model pipelines.

:func:`open_sequences` looks at the file once, cheaply (its bytes, not decoded): the format from
the first line (``# STOCKHOLM`` or FASTA) and, for FASTA, the number of records (lines starting
with ``>``) for a progress bar. Iterating the returned :class:`SequenceFile` then parses the
file once, yielding ``(name, sequence)`` pairs (Stockholm gaps removed).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "two.fa"
>>> _ = path.write_text(">a\\nACGT\\n>b desc\\nGG\\nTT\\n")
>>> source = open_sequences(path)
>>> source.format, source.count, list(source)
('fasta', 2, [('a', 'ACGT'), ('b', 'GGTT')])
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nucleoforge.errors import MissingPathError
from nucleoforge.io.fasta import _is_gzip_file, read_error, read_fasta

__all__ = ["SequenceFile", "open_sequences"]

_STOCKHOLM = b"# STOCKHOLM"


@dataclass(frozen=True)
class SequenceFile:
    """A sequence file: its ``format`` (``"fasta"`` or ``"stockholm"``) and ``count`` of records
    (``None`` for Stockholm: unknown without parsing). Iterating parses it: ``(name, sequence)``."""

    path: Path
    format: str
    count: int | None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        if self.format == "stockholm":
            from nucleoforge.io.stockholm import read_stockholm

            for record in read_stockholm(self.path):
                yield record.name, record.sequence
        else:
            for rec in read_fasta(self.path):
                yield rec.name, rec.sequence


def open_sequences(path: str | os.PathLike) -> SequenceFile:
    """The format and record count of ``path`` from one pass over its bytes (see the module docstring).

    A missing path is a :class:`~nucleoforge.errors.MissingPathError`; a truncated or corrupt gzip
    stream a :class:`~nucleoforge.errors.NucleoforgeError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"input file not found: {path}")
    try:
        with gzip.open(path, "rb") if _is_gzip_file(path) else open(path, "rb") as fh:
            first = fh.readline()
            if first.startswith(_STOCKHOLM):
                return SequenceFile(path, "stockholm", None)
            count = first.startswith(b">") + sum(1 for line in fh if line.startswith(b">"))
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise read_error(path, exc) from None
    return SequenceFile(path, "fasta", count)
