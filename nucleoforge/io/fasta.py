"""Streaming FASTA reader (plain or gzip) with line-numbered errors.

>>> import io
>>> records = list(read_fasta(io.StringIO(">a desc\\nACG\\ntt\\n>b\\nNNA\\n")))
>>> [(r.name, r.description, r.sequence) for r in records]
[('a', 'a desc', 'ACGtt'), ('b', 'b', 'NNA')]
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, TextIO


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record: ``name`` is the header up to the first whitespace."""

    name: str
    description: str
    sequence: str
    line: int  # 1-based line number of the header


def open_text(path: str | os.PathLike) -> TextIO:
    """Open a plain or gzip-compressed text file (detected from the magic bytes)."""
    path = Path(path)
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def read_fasta(source: str | os.PathLike | IO[str], *, uppercase: bool = False) -> Iterator[FastaRecord]:
    """Yield records one by one, never loading the whole file.

    Raises ``ValueError`` naming the file and line for sequence data before the first
    header, an empty header, or a record without sequence.
    """
    if isinstance(source, (str, os.PathLike)):
        name = str(source)
        with open_text(source) as fh:
            yield from _parse(fh, name, uppercase)
    else:
        yield from _parse(source, getattr(source, "name", "<stream>"), uppercase)


def _parse(fh: Iterable[str], filename: str, uppercase: bool) -> Iterator[FastaRecord]:
    header: str | None = None
    header_line = 0
    chunks: list[str] = []
    lineno = 0
    for lineno, line in enumerate(fh, 1):
        line = line.rstrip("\r\n")
        if line.startswith(">"):
            if header is not None:
                yield _finish(header, header_line, chunks, filename, uppercase)
            header = line[1:].strip()
            if not header:
                raise ValueError(f"{filename}:{lineno}: empty FASTA header")
            header_line, chunks = lineno, []
        elif line.startswith(";") or not line.strip():
            continue
        else:
            if header is None:
                raise ValueError(
                    f"{filename}:{lineno}: sequence data before the first '>' header "
                    "(is this a FASTA file?)"
                )
            chunks.append(line.strip())
    if header is not None:
        yield _finish(header, header_line, chunks, filename, uppercase)


def _finish(header: str, line: int, chunks: list[str], filename: str, uppercase: bool) -> FastaRecord:
    seq = "".join(chunks)
    if not seq:
        raise ValueError(f"{filename}:{line}: FASTA record '{header}' has no sequence")
    if uppercase:
        seq = seq.upper()
    return FastaRecord(header.split()[0], header, seq, line)


def write_fasta(records: Iterable[tuple[str, str]], handle: TextIO, width: int = 60) -> None:
    """Write ``(header, sequence)`` pairs, wrapping lines at ``width`` (0 = no wrap)."""
    for header, seq in records:
        handle.write(f">{header}\n")
        if width <= 0:
            handle.write(seq + "\n")
        else:
            for i in range(0, len(seq), width):
                handle.write(seq[i : i + width] + "\n")
