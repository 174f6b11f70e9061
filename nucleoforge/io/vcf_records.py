"""The records of an open VCF (:func:`~nucleoforge.io.vcf.open_vcf`): iterated with one
``FILE:LINE: what was expected`` line for a record that cannot be parsed, and counted cheaply
for a progress bar's total.
"""

from __future__ import annotations

import os
from typing import IO, Any, Iterator

from nucleoforge.io.vcf import (
    BCF_MAGIC,
    GZIP_MAGIC,
    SPACED_COLUMNS,
    UTF8_BOM,
    VCF_COLUMNS,
    VcfFormatError,
    feed_error,
)

__all__ = ["iter_vcf_records", "count_vcf_records"]


def _describe_bad_line(path: str, n_good: int, exc: BaseException) -> str:
    """``FILE:LINE: what was expected`` for the record after the ``n_good`` parsed ones."""
    from nucleoforge.io.fasta import open_text

    reason = str(exc) or type(exc).__name__
    if not os.path.isfile(path):  # a stream: it cannot be read again to find the line
        return f"{path}: record {n_good + 1}: cannot parse the VCF record ({reason})"
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic[:3] == b"BCF" or (magic[:2] == b"\x1f\x8b" and _is_bcf(path)):
            return f"{path}: record {n_good + 1}: cannot parse the BCF record ({reason})"
        lineno, line = 0, None
        with open_text(path) as fh:
            data_seen = 0
            for lineno, text in enumerate(fh, 1):
                if text.startswith("#") or (lineno == 1 and text.startswith("\ufeff#")):
                    continue
                if data_seen == n_good:
                    line = text.rstrip("\r\n")
                    break
                data_seen += 1
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as read_exc:
        return f"{path}: after record {n_good}: cannot parse the next record ({reason}; {read_exc})"
    if line is None:
        return f"{path}:{lineno + 1}: the file ends in the middle of a record (truncated?): {reason}"
    cols = line.split("\t")
    if not line.strip():
        what = f"an empty line; expected a record with {VCF_COLUMNS}"
    elif len(cols) == 1 and len(line.split()) >= 8:
        what = SPACED_COLUMNS
    elif len(cols) < 8:
        what = f"expected at least 8 tab-separated columns ({VCF_COLUMNS}), got {len(cols)}"
    elif not cols[0]:
        what = "CHROM is empty"
    elif not cols[1].isdigit() or int(cols[1]) < 1:
        what = f"POS must be a positive integer, got {cols[1]!r}"
    elif not cols[3] or cols[3] == ".":
        what = f"REF must be one or more bases, got {cols[3]!r}"
    else:
        what = f"htslib cannot parse the record ({reason})"
    shown = line if len(line) <= 80 else line[:77] + "..."
    return f"{path}:{lineno}: {what}: {shown!r}"


def _is_bcf(path: str) -> bool:
    import gzip

    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(3) == b"BCF"
    except (OSError, EOFError):
        return False


def iter_vcf_records(vcf: Any, path: "str | os.PathLike[str]") -> Iterator[Any]:
    """The records of an open :func:`open_vcf` file; a record that cannot be parsed raises
    :class:`VcfFormatError` ``"FILE:LINE: what was expected"`` after every record before it
    was yielded (pysam's own error is ``OSError: truncated file``, without a line)."""
    records = iter(vcf)
    n = 0
    while True:
        try:
            rec = next(records)
        except StopIteration:
            fed = getattr(vcf, "_nf_error", None)
            if fed is not None:  # the stream feeding pysam broke off: its end is not the input's
                raise feed_error(str(path), fed) from fed
            return
        except (OSError, ValueError) as exc:
            if hasattr(vcf, "_nf_reported"):
                vcf._nf_reported = True  # its close may fail too: this is the message
            fed = getattr(vcf, "_nf_error", None)
            if fed is not None:
                raise feed_error(str(path), fed) from fed
            raise VcfFormatError(_describe_bad_line(str(path), n, exc)) from exc
        n += 1
        yield rec


def count_vcf_records(path: "str | os.PathLike[str]") -> int | None:
    """The number of data records in a VCF/BCF file, for a progress bar's total.

    Text VCFs (plain, gzip or BGZF) are streamed as bytes and the lines that are neither
    headers (``#``) nor empty are counted; a BCF is walked record by record through the
    length fields of its records (nothing is parsed). ``None`` for stdin (``-``), a pipe or
    anything else that is not a regular file (reading it would consume it), and for a file
    that cannot be read to its end (the reader itself reports that).

    >>> import tempfile, gzip, os
    >>> folder = tempfile.mkdtemp()
    >>> text = "##fileformat=VCFv4.2\\n#CHROM\\tPOS\\tID\\tREF\\tALT\\tQUAL\\tFILTER\\tINFO\\n"
    >>> text += "1\\t10\\t.\\tA\\tC\\t.\\t.\\t.\\n1\\t20\\t.\\tG\\tT\\t.\\t.\\t.\\n"
    >>> with gzip.open(os.path.join(folder, "x.vcf.gz"), "wt") as fh:
    ...     _ = fh.write(text)
    >>> count_vcf_records(os.path.join(folder, "x.vcf.gz")), count_vcf_records("-")
    (2, None)
    """
    import gzip
    import zlib

    text = str(path)
    if text in ("", "-") or not os.path.isfile(text):
        return None
    try:
        with open(text, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
        with (gzip.open(text, "rb") if compressed else open(text, "rb")) as fh:
            head = fh.read(5)
            if head[:4] == BCF_MAGIC:
                return _count_bcf_records(fh, head)
            return _count_text_records(fh, head[3:] if head.startswith(UTF8_BOM) else head)
    except (OSError, EOFError, zlib.error):
        return None


def _count_text_records(fh: IO[bytes], head: bytes, chunk: int = 1 << 20) -> int:
    """Lines of ``head + fh`` whose first byte is not ``#``, ``\\n`` or ``\\r``."""
    import numpy as np

    skip = np.zeros(256, dtype=bool)
    skip[[ord("#"), ord("\n"), ord("\r")]] = True
    n, last = 0, b"\n"  # a virtual newline before the first line
    data = head + fh.read(chunk)
    while data:
        arr = np.frombuffer(last + data, dtype=np.uint8)
        starts = arr[np.flatnonzero(arr[:-1] == 10) + 1]  # the first byte of each line begun in data
        n += int(np.count_nonzero(~skip[starts]))
        last = data[-1:]
        data = fh.read(chunk)
    return n


def _count_bcf_records(fh: IO[bytes], head: bytes, chunk: int = 1 << 20) -> int:
    """Records of a BCF 2 stream (after its 5-byte magic ``head``): each is two little-endian
    uint32 lengths (shared, per-sample) followed by that many bytes."""
    import struct

    (l_text,) = struct.unpack("<I", _read_exact(fh, 4))
    _skip_exact(fh, l_text)
    n, buf = 0, b""
    while True:
        data = fh.read(chunk)
        if not data:
            if buf:
                raise EOFError("truncated BCF record")
            return n
        buf += data
        pos = 0
        while len(buf) - pos >= 8:
            l_shared, l_indiv = struct.unpack_from("<II", buf, pos)
            end = pos + 8 + l_shared + l_indiv
            if end > len(buf):
                break
            pos, n = end, n + 1
        buf = buf[pos:]
        if len(buf) > chunk:  # one record longer than a chunk: skip its remainder directly
            l_shared, l_indiv = struct.unpack_from("<II", buf, 0)
            _skip_exact(fh, 8 + l_shared + l_indiv - len(buf))
            buf, n = b"", n + 1


def _read_exact(fh: IO[bytes], size: int) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise EOFError("truncated file")
    return data


def _skip_exact(fh: IO[bytes], size: int) -> None:
    while size > 0:
        data = fh.read(min(size, 1 << 20))
        if not data:
            raise EOFError("truncated file")
        size -= len(data)
