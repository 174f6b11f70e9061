"""Indexed reference genomes (pyfaidx) with ``chr``-prefix handling and region strings.

A :class:`Genome` opens a FASTA file through a ``.fai`` index so that a window of a
chromosome is read without loading the file. Plain gzip files cannot be indexed; they are
decompressed once into the cache folder (:func:`nucleoforge.io.cache.cache_dir`).
BGZF files (``bgzip``) are read in place when Biopython is installed.

>>> parse_region("chr22:20,000,001-20,000,010:-")
Region(chrom='chr22', start=20000000, end=20000010, strand='-')
>>> str(parse_region("22:5-9"))
'22:5-9:+'
>>> normalise_chrom("chr7", ["1", "7"]), normalise_chrom("7", ["chr1", "chr7"])
('7', 'chr7')
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.cache import cache_dir
from nucleoforge.io.fasta import read_error

__all__ = [
    "ChromosomeNotFoundError",
    "Genome",
    "Region",
    "parse_region",
    "normalise_chrom",
    "place_subsequence_records",
]

_REGION_RE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)(?::(?P<strand>[+-]))?$")


class ChromosomeNotFoundError(KeyError, NucleoforgeError):
    """A chromosome the reference does not have: a ``KeyError`` (a missing key) that is also a
    :class:`NucleoforgeError` (bad input, so the command line reports it as a user error)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Region:
    """A genomic interval, 0-based half-open (``start`` < ``end``), with a strand."""

    chrom: str
    start: int
    end: int
    strand: str = "+"

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise NucleoforgeError(f"empty or negative region {self.chrom}:{self.start + 1}-{self.end}")
        if self.strand not in ("+", "-"):
            raise NucleoforgeError(f"strand must be '+' or '-', got {self.strand!r}")

    def __len__(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:  # 1-based inclusive, like samtools
        return f"{self.chrom}:{self.start + 1}-{self.end}:{self.strand}"


def parse_region(text: str) -> Region:
    """Parse ``chrom:start-end[:strand]`` (1-based inclusive, commas allowed) into a :class:`Region`."""
    m = _REGION_RE.match(text.strip())
    if not m:
        raise NucleoforgeError(f"cannot parse region {text!r}: expected chrom:start-end[:+|-], e.g. chr22:20000001-20010000:+")
    start, end = int(m["start"].replace(",", "")), int(m["end"].replace(",", ""))
    if start < 1 or end < start:
        raise NucleoforgeError(f"region {text!r}: need 1 <= start <= end (1-based, inclusive)")
    return Region(m["chrom"], start - 1, end, m["strand"] or "+")


def is_region_name(name: str) -> bool:
    """Whether a record name reads ``chrom:start-end[:strand]``, the name of an excerpt
    (``samtools faidx`` output) rather than of a whole chromosome.

    >>> is_region_name("22:20000001-21000000"), is_region_name("chr22")
    (True, False)
    """
    return _REGION_RE.match(name) is not None


def _strip_chr(name: str) -> str:
    return name[3:] if name.lower().startswith("chr") else name


def normalise_chrom(name: str, known: Iterable[str]) -> str:
    """Return the spelling of ``name`` used in ``known``: exact match first, then with the
    ``chr`` prefix added or removed (``MT``/``M`` are treated as the same chromosome).
    Returns ``name`` unchanged when nothing matches."""
    known = list(known)
    if name in known:
        return name
    bare = _strip_chr(name)
    candidates = [bare, "chr" + bare]
    if bare in ("M", "MT"):
        candidates += ["M", "MT", "chrM", "chrMT"]
    for cand in candidates:
        if cand in known:
            return cand
    return name


def _is_bgzf(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(16)
    # BGZF = gzip with the FEXTRA flag and a 'BC' subfield.
    return len(head) >= 14 and head[:2] == b"\x1f\x8b" and head[3] & 4 and head[12:14] == b"BC"


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _decompressed_copy(path: Path) -> Path:
    """Decompress a gzip FASTA once into the cache; the name carries size and mtime."""
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    dest = cache_dir() / "genomes" / f"{key}-{stem}"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + f".tmp{os.getpid()}")
        try:
            with gzip.open(path, "rb") as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 22)
            os.replace(tmp, dest)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise read_error(path, exc) from None
        finally:
            tmp.unlink(missing_ok=True)  # a failed or interrupted copy leaves nothing in the cache
    return dest


class Genome:
    """A reference FASTA opened through its ``.fai`` index.

    ``fetch`` uses 0-based half-open coordinates and accepts any spelling of a chromosome
    (``chr22`` or ``22``). The index is written next to the FASTA when that folder is
    writable, otherwise into the cache folder.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import pyfaidx

        self.path = Path(path)
        if not self.path.exists():
            raise MissingPathError(f"reference FASTA not found: {self.path}")
        fasta = self.path
        if _is_gzip(fasta) and not _is_bgzf(fasta):
            fasta = _decompressed_copy(fasta)
        index = Path(str(fasta) + ".fai")
        if not index.exists() and not os.access(fasta.parent, os.W_OK):
            index = cache_dir() / "genomes" / (hashlib.sha1(str(fasta.resolve()).encode()).hexdigest()[:12] + ".fai")
            index.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fasta = pyfaidx.Fasta(str(fasta), indexname=str(index), as_raw=True, sequence_always_upper=False)
        except pyfaidx.FastaIndexingError as exc:
            raise NucleoforgeError(f"{self.path}: cannot index FASTA: {exc}") from exc
        self.lengths: dict[str, int] = {name: len(rec) for name, rec in self._fasta.items()}
        if not self.lengths:
            raise NucleoforgeError(f"{self.path}: no FASTA record (expected '>name' lines followed by sequence)")
        empty = [name for name, n in self.lengths.items() if n == 0]
        if empty:
            raise NucleoforgeError(f"{self.path}: FASTA record {empty[0]!r} has no sequence"
                             + (f" (nor {len(empty) - 1} other record(s))" if len(empty) > 1 else ""))

    @property
    def chroms(self) -> list[str]:
        """Record names in file order."""
        return list(self.lengths)

    def resolve(self, chrom: str) -> str:
        """The record name for ``chrom`` (``chr`` prefix added/removed as needed); :class:`ChromosomeNotFoundError`
        (a ``KeyError`` and a ``ValueError``) if absent."""
        name = normalise_chrom(chrom, self.lengths)
        if name not in self.lengths:
            shown = ", ".join(self.chroms[:5]) + (" ..." if len(self.lengths) > 5 else "")
            raise ChromosomeNotFoundError(f"chromosome {chrom!r} is not in {self.path} (records: {shown})")
        return name

    def __contains__(self, chrom: str) -> bool:
        return normalise_chrom(chrom, self.lengths) in self.lengths

    def length(self, chrom: str) -> int:
        return self.lengths[self.resolve(chrom)]

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``[start, end)`` of ``chrom`` as stored (case kept); ``IndexError`` outside the record."""
        name = self.resolve(chrom)
        n = self.lengths[name]
        if start < 0 or end > n or start > end:
            raise IndexError(f"{chrom}:{start + 1}-{end} is outside {name} (length {n:,})")
        if start == end:
            return ""
        return str(self._fasta[name][start:end])

    def fetch_padded(self, chrom: str, start: int, end: int, pad: str = "N") -> str:
        """Like :meth:`fetch` but positions beyond the chromosome ends read as ``pad``."""
        n = self.length(chrom)
        if end < start:
            raise NucleoforgeError(f"{chrom}:{start + 1}-{end}: end before start")
        lo, hi = min(max(start, 0), n), max(min(end, n), 0)
        inner = self.fetch(chrom, lo, hi) if hi > lo else ""
        left = min(max(0, -start), end - start)  # the whole window is padding when it lies beyond an end
        return pad * left + inner + pad * (end - start - left - len(inner))

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> "Genome":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def place_subsequence_records(source: str | os.PathLike, dest: str | os.PathLike, *, chrom_prefix: str = "", width: int = 60) -> dict[str, int]:
    """Write a FASTA whose records sit at their real chromosome coordinates.

    Each input record must be named ``chrom:start-end`` (1-based inclusive, like
    ``samtools faidx`` output); the output holds one record per chromosome, named
    ``chrom_prefix + chrom``, with ``N`` before ``start`` and between pieces. This turns an
    excerpt such as the bundled ``22:20000001-21000000`` block into a reference whose
    coordinates match dbSNP and the gene tables. Returns the written record lengths.
    """
    from nucleoforge.io.fasta import read_fasta

    pieces: dict[str, list[tuple[int, str]]] = {}
    for rec in read_fasta(source):
        m = _REGION_RE.match(rec.name)
        if not m:
            raise NucleoforgeError(f"{source}:{rec.line}: record name {rec.name!r} is not chrom:start-end")
        start = int(m["start"].replace(",", "")) - 1
        if len(rec.sequence) != int(m["end"].replace(",", "")) - start:
            raise NucleoforgeError(f"{source}:{rec.line}: {rec.name} holds {len(rec.sequence)} bases, not end - start + 1")
        pieces.setdefault(m["chrom"], []).append((start, rec.sequence))
    lengths: dict[str, int] = {}
    with open(dest, "w") as out:
        for chrom, parts in pieces.items():
            name = chrom_prefix + _strip_chr(chrom) if chrom_prefix else chrom
            out.write(f">{name}\n")
            pos, buf = 0, []
            for start, seq in sorted(parts, key=lambda p: p[0]):
                if start < pos:
                    raise NucleoforgeError(f"{source}: overlapping records on {chrom} at {start + 1}")
                buf.append("N" * (start - pos))
                buf.append(seq)
                pos = start + len(seq)
            full = "".join(buf)
            for i in range(0, len(full), width):
                out.write(full[i : i + width])
                out.write("\n")
            lengths[name] = len(full)
    return lengths
