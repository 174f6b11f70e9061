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
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, TextIO

from nucleoforge.errors import NucleoforgeError


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record: ``name`` is the header up to the first whitespace."""

    name: str
    description: str
    sequence: str
    line: int  # 1-based line number of the header


class _CheckedText(io.TextIOWrapper):
    """UTF-8 text of a file whose read errors name the file: a byte that is not UTF-8 (with its
    line), or a truncated / corrupt gzip stream, is a :class:`NucleoforgeError` instead of a bare
    codec or ``EOFError``."""

    def _fail(self, exc: Exception) -> NucleoforgeError:
        return read_error(self._nf_path, exc)

    def __iter__(self) -> Iterator[str]:  # a generator over the C readline: no Python call per line
        return self._lines()

    def _lines(self) -> Iterator[str]:
        try:
            yield from iter(io.TextIOWrapper.readline.__get__(self), "")
        except (UnicodeDecodeError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise self._fail(exc) from None

    def readline(self, size: int = -1) -> str:
        try:
            return super().readline(size)
        except (UnicodeDecodeError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise self._fail(exc) from None

    def read(self, size: int | None = -1) -> str:
        try:
            return super().read(size)
        except (UnicodeDecodeError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise self._fail(exc) from None

    def readlines(self, hint: int = -1) -> list[str]:
        try:
            return super().readlines(hint)
        except (UnicodeDecodeError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise self._fail(exc) from None


def _is_gzip_file(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def read_error(path: str | os.PathLike, exc: BaseException) -> NucleoforgeError:
    """A :class:`NucleoforgeError` naming ``path`` for a read failure: a non-UTF-8 byte (located by
    line and column), or a truncated or corrupt gzip stream."""
    path = Path(path)
    if isinstance(exc, UnicodeDecodeError):
        where = ""
        try:  # locate the first bad byte (only on failure, so reading stays fast)
            with (gzip.open(path, "rb") if _is_gzip_file(path) else open(path, "rb")) as fh:
                for lineno, raw in enumerate(fh, 1):
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError as bad:
                        where = f":{lineno}: byte 0x{raw[bad.start]:02x} at column {bad.start + 1}"
                        break
        except (OSError, EOFError, zlib.error):
            pass
        return NucleoforgeError(f"{path}{where}: not UTF-8 text ({exc.reason}); convert the file to UTF-8, "
                          "e.g. with `iconv -f latin1 -t utf-8`")
    return NucleoforgeError(f"{path}: truncated or corrupt gzip file ({exc}); download or compress it again")


def open_text(path: str | os.PathLike) -> TextIO:
    """Open a plain or gzip-compressed UTF-8 text file (detected from the magic bytes).

    Reading it raises :class:`NucleoforgeError` naming the file (and line) for bytes that are not UTF-8
    and for a truncated or corrupt gzip stream (:func:`read_error`).
    """
    path = Path(path)
    raw: IO[bytes] = gzip.open(path, "rb") if _is_gzip_file(path) else open(path, "rb")  # type: ignore[assignment]
    fh = _CheckedText(raw, encoding="utf-8")
    fh._nf_path = path
    return fh


def read_fasta(
    source: str | os.PathLike | IO[str], *, uppercase: bool = False, unique_names: bool = True
) -> Iterator[FastaRecord]:
    """Yield records one by one, never loading the whole file.

    Raises :class:`NucleoforgeError` naming the file and line for sequence data before the first
    header, an empty header, a record without sequence, or (with ``unique_names``, the
    default) a record name already used by an earlier record; read errors (non-UTF-8 bytes,
    a truncated gzip file) name the file too (:func:`open_text`).

    >>> list(read_fasta(io.StringIO(">a\\nAC\\n>a x\\nGT\\n")))
    Traceback (most recent call last):
    ...
    nucleoforge.errors.NucleoforgeError: <stream>:3: duplicate FASTA record name 'a' (first used on line 1)
    """
    if isinstance(source, (str, os.PathLike)):
        name = str(source)
        with open_text(source) as fh:
            yield from _parse(fh, name, uppercase, unique_names)
    else:
        yield from _parse(source, getattr(source, "name", "<stream>"), uppercase, unique_names)


def has_records(path: str | os.PathLike) -> bool:
    """Whether a FASTA file (plain or gzip) holds anything besides blank lines and ``;`` comments:
    ``False`` for an empty file. Reads only up to its first such line (the first header)."""
    with open_text(path) as fh:
        return any(line.strip() and not line.startswith(";") for line in fh)


def _parse(fh: Iterable[str], filename: str, uppercase: bool, unique_names: bool = True) -> Iterator[FastaRecord]:
    header: str | None = None
    header_line = 0
    chunks: list[str] = []
    lineno = 0
    seen: dict[str, int] = {}
    for lineno, line in enumerate(fh, 1):
        line = line.rstrip("\r\n")
        if line.startswith(">"):
            if header is not None:
                yield _finish(header, header_line, chunks, filename, uppercase)
            header = line[1:].strip()
            if not header:
                raise NucleoforgeError(f"{filename}:{lineno}: empty FASTA header")
            if unique_names:
                name = header.split()[0]
                if name in seen:
                    raise NucleoforgeError(
                        f"{filename}:{lineno}: duplicate FASTA record name {name!r} (first used on line {seen[name]})"
                    )
                seen[name] = lineno
            header_line, chunks = lineno, []
        elif line.startswith(";") or not line.strip():
            continue
        else:
            if header is None:
                raise NucleoforgeError(
                    f"{filename}:{lineno}: sequence data before the first '>' header "
                    "(is this a FASTA file?)"
                )
            chunks.append(line.strip())
    if header is not None:
        yield _finish(header, header_line, chunks, filename, uppercase)


def _finish(header: str, line: int, chunks: list[str], filename: str, uppercase: bool) -> FastaRecord:
    seq = "".join(chunks)
    if not seq:
        raise NucleoforgeError(f"{filename}:{line}: FASTA record '{header}' has no sequence")
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
