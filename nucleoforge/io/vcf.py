"""VCF helpers on top of pysam, and a reader for HISAT2/dbSNP ``.snp`` variant lists.

pysam does the VCF parsing and writing; this module adds what the tools here need:
:func:`open_vcf`, which reads every form labs keep VCFs in (plain, gzip, BGZF, BCF, stdin; CRLF
line ends, a byte order mark) and turns a malformed header into one ``FILE:LINE:`` line,
:func:`count_vcf_records` (a cheap total for progress bars), the SpliceAI INFO header line,
a minimal VCF writer for plain ``(chrom, pos, id, ref, alt)`` variants (contigs declared from
a reference), and :func:`read_hisat2_snps`, which turns the bundled dbSNP list (``rsid type
region offset alt``) into VCF-style variants with REF/ALT alleles taken from the reference
sequence.

>>> import io
>>> block = "ACGTACGTAC"  # a region 22:101-110
>>> text = "rs1\\tsingle\\t22:101-110\\t2\\tT\\nrs2\\tdeletion\\t22:101-110\\t4\\t2\\nrs3\\tinsertion\\t22:101-110\\t8\\tGG\\n"
>>> [tuple(v) for v in read_hisat2_snps(io.StringIO(text), {"22:101-110": block})]
[('22', 103, 'rs1', 'G', 'T'), ('22', 104, 'rs2', 'TAC', 'T'), ('22', 108, 'rs3', 'T', 'TGG')]
"""

from __future__ import annotations


import os
import re
from typing import IO, Any, Iterable, Iterator, Mapping, NamedTuple

from nucleoforge.errors import NucleoforgeError

__all__ = [
    "Variant", "SPLICEAI_INFO_LINE", "SPLICEAI_TX_INFO_LINE", "read_hisat2_snps", "write_vcf", "open_vcf", "count_vcf_records", "iter_vcf_records", "VcfFormatError",
    "VcfSink", "OutputWriteError", "salvage_vcf_output",
]  # fmt: skip

#: The INFO header written by ``nucleoforge variants``; the field layout is the one the
#: Illumina ``spliceai`` tool writes, so downstream parsers of its output work unchanged.
SPLICEAI_INFO_LINE = (
    '##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAI variant annotation '
    "(nucleoforge, SpliceAI-10k ensemble): delta scores (DS) and delta positions (DP) for "
    "acceptor gain (AG), acceptor loss (AL), donor gain (DG) and donor loss (DL). "
    'Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">'
)

_REGION = re.compile(r"^([^:]+):(\d+)-(\d+)$")


SPLICEAI_TX_INFO_LINE = (
    '##INFO=<ID=SpliceAI_TX,Number=.,Type=String,Description="SpliceAI variant annotation per transcript (nucleoforge). '
    'Format: ALLELE|SYMBOL|TRANSCRIPT_ID|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">'
)


class Variant(NamedTuple):
    """A VCF-style variant: 1-based ``pos``; indels carry the preceding (anchor) base."""

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str


class VcfFormatError(NucleoforgeError):
    """A VCF input or record that cannot be read; the message is one line starting with
    ``FILE:LINE:`` (``FILE:`` where no line applies: a truncated compressed file)."""


_VCF_COLUMNS = "CHROM POS ID REF ALT QUAL FILTER INFO"
_SPACED = (f"expected at least 8 tab-separated columns ({_VCF_COLUMNS}), got 1: the columns are separated by "
           "spaces, not tabs")


_GZIP_MAGIC = b"\x1f\x8b"
_BCF_MAGIC = b"BCF\x02"
_UTF8_BOM = b"\xef\xbb\xbf"


def open_vcf(path: str | os.PathLike) -> Any:
    """Open a VCF or BCF for streaming with pysam, whatever form it comes in.

    Reads plain text, gzip (``gzip``, not only ``bgzip``), BGZF and BCF alike, from a file or
    from a stream (``-`` / ``/dev/stdin``, a pipe, a FIFO). Windows line ends (CRLF) are read
    as they are and a UTF-8 byte order mark is skipped. The first lines are looked at before
    pysam sees them, so a file that is not a readable VCF fails with one
    :class:`VcfFormatError` line ``FILE:LINE: what is wrong`` (an empty or binary file, no
    ``##fileformat`` or ``#CHROM`` line, columns separated by spaces). htslib's own warnings
    (``[W::...]``) are silenced: :func:`iter_vcf_records` reports bad records itself.

    >>> import os, tempfile
    >>> bad = os.path.join(tempfile.mkdtemp(), "x.vcf")
    >>> _ = open(bad, "w").write("#CHROM POS ID REF ALT QUAL FILTER INFO\\n")
    >>> open_vcf(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nucleoforge.io.vcf.VcfFormatError: ...x.vcf:1: no ##fileformat line: a VCF starts with a line like ##fileformat=VCFv4.2 (add it as the first line)
    """
    import pysam

    pysam.set_verbosity(0)  # htslib writes [W::]/[E::] lines to fd 2 itself; our messages replace them
    name = str(path)

    def file_chunks() -> Iterator[bytes]:  # the file from its start, in a handle of its own
        return _raw_chunks(open(name, "rb").read, close=True)

    if name != "-" and os.path.isfile(name):
        with open(name, "rb") as fh:
            head = _sniff_vcf(name, _raw_chunks(fh.read))
        if not head.bom:  # pysam reads the file itself (through a handle: a path to gzip fails on seek)
            with open(name, "rb") as fh:
                return _pysam_open(name, fh, check=lambda: _drain(_inflate(name, file_chunks())))
        source: Iterator[bytes] = _skip_bytes(_inflate(name, file_chunks()), 3)
    else:  # a stream: what the look reads is kept and handed on before the rest
        try:
            raw = os.fdopen(os.dup(0), "rb", buffering=0) if name == "-" else open(name, "rb", buffering=0)
        except FileNotFoundError:
            raise VcfFormatError(f"{name}: no such file") from None
        except OSError as exc:  # a directory, no permission, stdin closed
            raise VcfFormatError(f"{name}: cannot open: {exc.strerror or exc}") from None
        kept: list[bytes] = []
        try:
            head = _sniff_vcf(name, _raw_chunks(raw.read, keep=kept))
        except BaseException:
            raw.close()
            raise
        # what the look consumed, then the rest of the stream (decompressed when a BOM must go)
        source = _chain(kept, _raw_chunks(raw.read, close=True))
        if head.bom:
            source = _skip_bytes(_inflate(name, source), 3)
    return _open_fed(name, source)


_VCF_CLASS: list[type] = []


def _vcf_class() -> type:
    """``pysam.VariantFile`` as :func:`open_vcf` returns it (made on first use, so importing
    this module does not import pysam): ``_nf_name`` (the input's name), ``_nf_error`` (what
    stopped the thread feeding its pipe early, checked by :func:`iter_vcf_records` when the
    records end) and a ``close`` that turns htslib's failure on a damaged stream into one line."""
    if not _VCF_CLASS:
        import sys

        import pysam

        def close(self: Any) -> None:
            handling = sys.exc_info()[0] is not None  # called while another error propagates
            try:
                pysam.VariantFile.close(self)
            except (OSError, TypeError):  # pysam cannot even name the handle in its error (TypeError)
                if not handling and not self._nf_reported:
                    raise VcfFormatError(f"{self._nf_name}: the input ends early (truncated or corrupt data)") from None

        _VCF_CLASS.append(type("VariantFile", (pysam.VariantFile,),
                               {"_nf_name": "", "_nf_error": None, "_nf_reported": False, "close": close,
                                "__module__": __name__}))  # fmt: skip
    return _VCF_CLASS[0]


def _open_fed(name: str, chunks: Iterator[bytes]) -> Any:
    """pysam reading ``chunks`` through an OS pipe that a daemon thread fills (streams, and
    inputs changed on the way: a BOM dropped). pysam releases the GIL while it reads."""
    import threading

    read_end, write_end = os.pipe()
    vcf_box: list[Any] = []
    error: list[BaseException] = []

    def feed() -> None:
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(write_end, view):]
        except BrokenPipeError:  # the reader closed early (an error, or not every record wanted)
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by iter_vcf_records
            error.append(exc)
            if vcf_box:
                vcf_box[0]._nf_error = exc
        finally:
            os.close(write_end)  # after the error is recorded: pysam sees the end only then
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=feed, name=f"vcf-feed {name}", daemon=True)
    thread.start()
    try:
        with os.fdopen(read_end, "rb") as fh:
            vcf = _pysam_open(name, fh)
    except VcfFormatError:
        thread.join(timeout=10)  # a feeder that failed first has the real cause
        if error:
            raise _feed_error(name, error[0]) from None
        raise
    vcf_box.append(vcf)
    if error:
        vcf._nf_error = error[0]
    return vcf


def _feed_error(name: str, exc: BaseException) -> VcfFormatError:
    return exc if isinstance(exc, VcfFormatError) else VcfFormatError(f"{name}: cannot read the input: {exc}")


def _pysam_open(name: str, fh: IO[bytes], check: Any = None) -> Any:
    """:func:`_vcf_class` on the open handle ``fh`` (pysam duplicates its descriptor, so ``fh``
    may be closed after). A header htslib refuses after the sniff passed becomes one line;
    ``check()``, if given, may raise the better reason first (a damaged gzip stream)."""
    try:
        vcf = _vcf_class()(fh)
    except (OSError, ValueError, TypeError) as exc:
        if "EOF marker" in str(exc):
            raise VcfFormatError(f"{name}: the BGZF file has no end-of-file marker: it is truncated "
                                 f"(an interrupted download or bgzip run?)") from None
        if check is not None:
            check()
        raise VcfFormatError(f"{name}: htslib cannot read the VCF/BCF header (check the ## lines and the "
                             f"#CHROM line against the VCF specification)") from exc
    vcf._nf_name = name
    return vcf


class _Head(NamedTuple):
    """What :func:`_sniff_vcf` found: ``bcf`` (binary BCF), ``bom`` (text behind a UTF-8 BOM)."""

    bcf: bool
    bom: bool


_SNIFF_LIMIT = 64 << 20  # header bytes looked at, at most (a header is rarely over a few MiB)
_CHROM_LINE = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"


def _sniff_vcf(name: str, raw: Iterator[bytes]) -> _Head:
    """Look at the first lines of an input (raw chunks) and raise :class:`VcfFormatError`
    ``FILE:LINE: what is wrong`` for what pysam would refuse with no useful message."""
    text = _inflate(name, raw)
    buf = b""
    for chunk in text:
        buf += chunk
        if len(buf) >= 1024:
            break
    if not buf:
        raise VcfFormatError(f"{name}:1: the file is empty; expected a VCF (starting with ##fileformat=VCFv4.2) "
                             f"or a BCF file")
    if buf[:4] == _BCF_MAGIC:
        return _Head(bcf=True, bom=False)
    bom = buf.startswith(_UTF8_BOM)
    if bom:
        buf = buf[3:]
    _check_first_line(name, buf[:1024].split(b"\n", 1)[0])  # before looking for line ends: binary data has none
    lineno, seen, seen_chrom = 0, 0, False
    for line in _lines(buf, text, _SNIFF_LIMIT):
        lineno, seen = lineno + 1, seen + len(line) + 1
        if seen > _SNIFF_LIMIT:  # a huge header: leave the rest to htslib
            break
        if line.startswith(b"##"):
            continue
        shown = line.decode("utf-8", "replace").rstrip("\r")
        if line.startswith(b"#"):
            if seen_chrom:
                continue
            seen_chrom = True
            if shown.startswith("#CHROM") and "\t" not in shown and " " in shown:
                raise VcfFormatError(f"{name}:{lineno}: the #CHROM header line is separated by spaces; VCF columns "
                                     f"must be separated by tabs: {_CHROM_LINE.replace(chr(9), '<TAB>')}")
            continue
        if not seen_chrom:
            raise VcfFormatError(f"{name}:{lineno}: no #CHROM header line before the first record; expected "
                                 f"{_CHROM_LINE.replace(chr(9), '<TAB>')} after the ## lines")
        if shown.strip() and "\t" not in shown and len(shown.split()) >= 8:
            raise VcfFormatError(f"{name}:{lineno}: {_SPACED}: {_shown(shown)}")
        break
    else:
        if not seen_chrom:
            raise VcfFormatError(f"{name}:{lineno + 1}: no #CHROM header line; expected "
                                 f"{_CHROM_LINE.replace(chr(9), '<TAB>')} after the ## lines")
    return _Head(bcf=False, bom=bom)


def _check_first_line(name: str, line: bytes) -> None:
    """The first line of a text VCF (its first KiB at most) is ``##fileformat=VCFv4.x``."""
    if line.startswith(b"##fileformat=VCF"):
        return
    if b"\x00" in line or _not_utf8(line):
        kind = {b"BAM\x01": "a BAM file", b"CRAM": "a CRAM file"}.get(line[:4], "binary data")
        raise VcfFormatError(f"{name}:1: not a VCF or BCF file ({kind}); expected a VCF text file (plain, gzip or "
                             f"bgzip) or a BCF file")
    shown = line.decode("utf-8", "replace").rstrip("\r")
    if shown.startswith("#"):
        raise VcfFormatError(f"{name}:1: no ##fileformat line: a VCF starts with a line like ##fileformat=VCFv4.2 "
                             f"(add it as the first line)")
    raise VcfFormatError(f"{name}:1: not a VCF file: expected ##fileformat=VCFv4.2 as the first line, "
                         f"got {_shown(shown)}")


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(data) - 3  # a character cut at the end of the sample is fine
    return False


def _shown(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")


def _lines(buf: bytes, rest: Iterator[bytes], limit: int) -> Iterator[bytes]:
    """Lines (without ``\\n``) of ``buf`` followed by ``rest``; ends at a line over ``limit`` bytes."""
    while True:
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            yield buf[start:end]
            start = end + 1
        buf = buf[start:]
        if len(buf) > limit:
            return
        chunk = next(rest, None)
        if chunk is None:
            if buf:
                yield buf
            return
        buf += chunk


def _raw_chunks(read: Any, keep: list[bytes] | None = None, close: bool = False,
                size: int = 1 << 16) -> Iterator[bytes]:
    """Chunks from ``read(size)`` until it returns nothing; each kept in ``keep`` if given.
    With ``close``, the handle whose bound ``read`` this is gets closed at the end."""
    try:
        while True:
            data = read(size)
            if not data:
                return
            if keep is not None:
                keep.append(data)
            yield data
    finally:
        if close:
            read.__self__.close()


def _inflate(name: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` decompressed when they start with the gzip magic (any number of members,
    so BGZF too), else as they are. Corrupt or truncated gzip data raises VcfFormatError."""
    import zlib

    first = b""
    for chunk in chunks:
        first += chunk
        if len(first) >= 2:
            break
    if first[:2] != _GZIP_MAGIC:
        if first:
            yield first
        yield from chunks
        return
    data: bytes | None = first
    inflater = zlib.decompressobj(31)
    in_member = False
    while data is not None:
        while data:
            in_member = True
            try:
                out = inflater.decompress(data)
            except zlib.error as exc:
                raise VcfFormatError(f"{name}: the gzip data is corrupt ({exc})") from None
            if out:
                yield out
            if not inflater.eof:
                break
            data, inflater, in_member = inflater.unused_data, zlib.decompressobj(31), False
        data = next(chunks, None)
    if in_member:
        raise VcfFormatError(f"{name}: the gzip data ends in the middle of a block (truncated file?)")


def _drain(chunks: Iterator[bytes]) -> None:
    for _ in chunks:
        pass


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """``first`` then ``rest`` (a generator, so closing it closes ``rest``)."""
    yield from first
    yield from rest


def _skip_bytes(chunks: Iterator[bytes], n: int) -> Iterator[bytes]:
    """``chunks`` without their first ``n`` bytes."""
    for chunk in chunks:
        if n:
            cut = min(n, len(chunk))
            chunk, n = chunk[cut:], n - cut
        if chunk:
            yield chunk


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
            compressed = raw.read(2) == _GZIP_MAGIC
        with (gzip.open(text, "rb") if compressed else open(text, "rb")) as fh:
            head = fh.read(5)
            if head[:4] == _BCF_MAGIC:
                return _count_bcf_records(fh, head)
            return _count_text_records(fh, head[3:] if head.startswith(_UTF8_BOM) else head)
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
        what = f"an empty line; expected a record with {_VCF_COLUMNS}"
    elif len(cols) == 1 and len(line.split()) >= 8:
        what = _SPACED
    elif len(cols) < 8:
        what = f"expected at least 8 tab-separated columns ({_VCF_COLUMNS}), got {len(cols)}"
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
                raise _feed_error(str(path), fed) from fed
            return
        except (OSError, ValueError) as exc:
            if hasattr(vcf, "_nf_reported"):
                vcf._nf_reported = True  # its close may fail too: this is the message
            fed = getattr(vcf, "_nf_error", None)
            if fed is not None:
                raise _feed_error(str(path), fed) from fed
            raise VcfFormatError(_describe_bad_line(str(path), n, exc)) from exc
        n += 1
        yield rec


def read_hisat2_snps(source: str | os.PathLike | IO[str], sequences: Mapping[str, str]) -> Iterator[Variant]:
    """Yield :class:`Variant` objects from a HISAT2 ``.snp`` list.

    Columns: ``id type region offset alt`` with ``type`` one of ``single`` (``alt`` = the
    new base), ``deletion`` (``alt`` = number of deleted bases) or ``insertion`` (``alt`` =
    inserted bases, placed before ``offset``). ``offset`` is 0-based inside ``region``
    (``chrom:start-end``, 1-based), whose sequence ``sequences[region]`` supplies REF and the
    anchor base of indels.
    """
    from nucleoforge.io.fasta import open_text

    if isinstance(source, (str, os.PathLike)):
        fh, name, close = open_text(source), str(source), True
    else:
        fh, name, close = source, getattr(source, "name", "<snps>"), False
    try:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split()
            if len(cols) != 5:
                raise NucleoforgeError(f"{name}:{lineno}: expected 5 columns (id type region offset alt), got {len(cols)}")
            rsid, kind, region, offset_s, alt = cols
            m = _REGION.match(region)
            if not m or region not in sequences:
                raise NucleoforgeError(f"{name}:{lineno}: unknown region {region!r}")
            seq, chrom, base = sequences[region], m.group(1), int(m.group(2))
            off = int(offset_s)
            if kind == "single":
                yield Variant(chrom, base + off, rsid, seq[off].upper(), alt.upper())
            elif kind == "deletion":
                n = int(alt)
                if off < 1:
                    raise NucleoforgeError(f"{name}:{lineno}: deletion at the region start has no anchor base")
                yield Variant(chrom, base + off - 1, rsid, seq[off - 1 : off + n].upper(), seq[off - 1].upper())
            elif kind == "insertion":
                anchor = seq[off - 1].upper()
                yield Variant(chrom, base + off - 1, rsid, anchor, anchor + alt.upper())
            else:
                raise NucleoforgeError(f"{name}:{lineno}: unknown variant type {kind!r}")
    finally:
        if close:
            fh.close()


def write_vcf(variants: Iterable[Variant], handle: IO[str], contigs: Mapping[str, int] | None = None,
              extra_header: Iterable[str] = ()) -> int:
    """Write sites-only VCF 4.2 lines for ``variants`` (in the given order); returns the count."""
    handle.write("##fileformat=VCFv4.2\n")
    for name, length in (contigs or {}).items():
        handle.write(f"##contig=<ID={name},length={length}>\n")
    for line in extra_header:
        handle.write(line.rstrip("\n") + "\n")
    handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    n = 0
    for v in variants:
        handle.write(f"{v.chrom}\t{v.pos}\t{v.id}\t{v.ref}\t{v.alt}\t.\t.\t.\n")
        n += 1
    return n


def salvage_vcf_output(path: "os.PathLike[str] | str") -> tuple[list[str], list[str], int]:
    """Read an interrupted output: header lines, complete data lines, byte length of the
    complete part (for plain files). A truncated gzip tail is dropped."""
    import zlib

    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        # Decompress member by member (BGZF = many gzip members); a truncated tail yields
        # whatever it holds instead of an error.
        parts = []
        while data:
            d = zlib.decompressobj(31)
            try:
                parts.append(d.decompress(data))
            except zlib.error:
                break
            if not d.eof:
                break
            data = d.unused_data
        raw = b"".join(parts)
    else:
        raw = data
    end = raw.rfind(b"\n") + 1
    text = raw[:end].decode()
    header: list[str] = []
    body: list[str] = []
    for line in text.splitlines(keepends=True):
        (header if line.startswith("#") else body).append(line)
    return header, body, end


class OutputWriteError(NucleoforgeError):
    """The output could not be written (a full disk, ``/dev/full``, a file-size limit): one line
    naming the output and the system's reason (``No space left on device [ENOSPC]``, ``File too
    large [EFBIG]`` …), and with :meth:`with_note` what became of the partial output."""

    def __init__(self, path: str, exc: OSError | None = None, note: str = "", reason: str = "") -> None:
        import errno as _errno

        if exc is not None:
            code = _errno.errorcode.get(exc.errno or 0, "")
            reason = f"{exc.strerror or exc} [{code}]" if code else str(exc.strerror or exc)
        self.path, self.reason, self.note = path, reason, note
        where = "stdout" if path == "-" else path
        super().__init__(f"{where}: cannot write the output: {reason}" + (f"; {note}" if note else ""))

    def with_note(self, note: str) -> "OutputWriteError":
        """The same error with ``note`` after the reason."""
        return OutputWriteError(self.path, note=note, reason=self.reason)


class VcfSink:
    """Text sink for the output VCF: stdout, a plain file, or BGZF (``.gz``/``.bgz``).

    ``flush`` makes everything written so far durable; for BGZF that means closing the
    file and reopening it for appending (pysam's BGZF flush does not reach the disk), which
    leaves a valid multi-member file.

    A failed write, flush or close (``ENOSPC``, ``EFBIG`` …) raises :class:`OutputWriteError`;
    after one, :meth:`close` releases the file without raising again. :attr:`created`: the
    output did not exist before and is a regular file (so :meth:`remove_created` may delete it;
    a device such as ``/dev/full`` or a file that was there before is never removed)."""

    def __init__(self, path: str, append: bool) -> None:
        import sys

        import pysam

        self.path = path
        self.gz = path.endswith((".gz", ".bgz"))
        self.failed = False
        existed = path == "-" or os.path.lexists(path)
        try:
            if path == "-":
                self._fh: Any = sys.stdout
            elif self.gz:
                self._fh = pysam.BGZFile(path, "ab" if append else "wb")
            else:
                self._fh = open(path, "a" if append else "w")
        except OSError as exc:
            if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
                raise  # the boundary names these with their file
            raise OutputWriteError(path, exc) from None
        self.created = not existed and os.path.isfile(path) and not os.path.islink(path)

    def _fail(self, exc: OSError) -> BaseException:
        self.failed = True
        if isinstance(exc, BrokenPipeError):  # a reader that stopped early (``| head``): left to the caller
            return exc
        return OutputWriteError(self.path, exc)

    def write(self, text: str) -> None:
        try:
            self._fh.write(text.encode() if self.gz else text)
        except OSError as exc:
            raise self._fail(exc) from None

    def flush(self) -> None:
        try:
            if self.gz:
                import pysam

                self._fh.close()
                self._fh = pysam.BGZFile(self.path, "ab")
            else:
                self._fh.flush()
        except OSError as exc:
            raise self._fail(exc) from None

    def close(self) -> None:
        try:
            if self.path != "-":
                self._fh.close()
            else:
                self._fh.flush()
        except OSError as exc:
            if not self.failed:  # after a failed write the buffered rest cannot be written either
                raise self._fail(exc) from None
            if self.path != "-":
                import contextlib

                with contextlib.suppress(OSError):
                    self._fh.close()

    def remove_created(self) -> bool:
        """Delete the output when this sink created it as a regular file (never a device, a link
        or a file that was there before); True when removed."""
        if self.created and os.path.isfile(self.path) and not os.path.islink(self.path):
            os.unlink(self.path)
            return True
        return False
