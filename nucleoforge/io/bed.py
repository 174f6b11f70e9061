"""Streaming BED reader (plain or gzip) with line-numbered errors, and ``chr:start-end`` parsing.

BED intervals are 0-based, half-open: ``start`` is the first base (0-based), ``end`` is one
past the last. ``track``/``browser`` lines, ``#`` comments and blank lines are skipped.

>>> import io
>>> text = "track name=peaks\\nchr2\\t10\\t20\\tp1\\t5\\t+\\tHepG2\\nchr1 5 9\\n"
>>> [(r.chrom, r.start, r.end, r.name, r.line) for r in read_bed(io.StringIO(text))]
[('chr2', 10, 20, 'p1', 2), ('chr1', 5, 9, None, 3)]
>>> next(read_bed(io.StringIO(text))).column(6)
'HepG2'
>>> parse_interval("chr3:110283594-110283794")
('chr3', 110283594, 110283794)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.fasta import open_text

__all__ = ["BedRecord", "read_bed", "parse_interval", "chromosome_sort_key"]


@dataclass(frozen=True)
class BedRecord:
    """One BED line: the three required columns, the optional name, and every raw field."""

    chrom: str
    start: int
    end: int
    name: str | None
    fields: tuple[str, ...]
    line: int  # 1-based line number in the file

    def column(self, index: int) -> str:
        """The raw value of 0-based column ``index``; ``IndexError`` names the line."""
        if index >= len(self.fields):
            raise IndexError(
                f"line {self.line}: BED column {index + 1} requested, but the line has {len(self.fields)} columns"
            )
        return self.fields[index]


def read_bed(source: str | os.PathLike | IO[str]) -> Iterator[BedRecord]:
    """Yield BED records one by one (tab- or whitespace-separated).

    Raises ``ValueError`` naming the file and line for fewer than three columns, non-integer
    coordinates, a negative start or ``end <= start``.
    """
    if isinstance(source, (str, os.PathLike)):
        with open_text(source) as fh:
            yield from _parse(fh, str(source))
    else:
        yield from _parse(source, getattr(source, "name", "<stream>"))


def _parse(fh: Iterable[str], filename: str) -> Iterator[BedRecord]:
    for lineno, line in enumerate(fh, 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = tuple(line.split("\t") if "\t" in line else line.split())
        if len(fields) < 3:
            raise NucleoforgeError(f"{filename}:{lineno}: a BED line needs chrom, start, end; got {len(fields)} column(s): {line!r}")
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise NucleoforgeError(
                f"{filename}:{lineno}: start/end must be integers, got {fields[1]!r} and {fields[2]!r}"
            ) from None
        if start < 0 or end <= start:
            raise NucleoforgeError(f"{filename}:{lineno}: invalid interval start={start} end={end} (need 0 <= start < end)")
        name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else None
        yield BedRecord(fields[0], start, end, name, fields, lineno)


_INTERVAL = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)")


def parse_interval(text: str) -> tuple[str, int, int]:
    """Parse ``chrom:start-end`` (commas allowed; anything after the end, e.g. ``(+)``, ignored).

    The numbers are returned as written; FASTA headers such as ``chr1:15710957-15711157``
    from ``bedtools getfasta`` are 0-based half-open like BED.
    """
    match = _INTERVAL.match(text.strip())
    if match is None:
        raise NucleoforgeError(f"cannot parse {text!r} as chrom:start-end")
    start, end = int(match["start"].replace(",", "")), int(match["end"].replace(",", ""))
    if end <= start:
        raise NucleoforgeError(f"interval {text!r} has end <= start")
    return match["chrom"], start, end


def chromosome_sort_key(chrom: str) -> tuple[int, int, str]:
    """Natural chromosome order: chr1 < chr2 < … < chr22 < chrX < chrY < chrM < others (by name).

    >>> sorted(["chr10", "chrX", "chr2", "chrUn_1", "chrM", "chr1"], key=chromosome_sort_key)
    ['chr1', 'chr2', 'chr10', 'chrX', 'chrM', 'chrUn_1']
    """
    bare = chrom[3:] if chrom.lower().startswith("chr") else chrom
    if bare.isdigit():
        return (0, int(bare), "")
    special = {"X": 1, "Y": 2, "M": 3, "MT": 3}
    if bare.upper() in special:
        return (1, special[bare.upper()], "")
    return (2, 0, chrom)
