"""Opening VCF inputs on top of pysam, and plain variant lists (HISAT2/dbSNP ``.snp`` in, a minimal VCF out).

pysam does the VCF parsing and writing; this module adds what the tools here need:
:func:`open_vcf`, which reads every form labs keep VCFs in (plain, gzip, BGZF, BCF, stdin; CRLF
line ends, a byte order mark) and turns a malformed header into one ``FILE:LINE:`` line,
a minimal VCF writer for plain ``(chrom, pos, id, ref, alt)`` variants (contigs declared from
a reference), and :func:`read_hisat2_snps`, which turns the bundled dbSNP list (``rsid type
region offset alt``) into VCF-style variants with REF/ALT alleles taken from the reference
sequence. Reading and counting the records of an open VCF is :mod:`nucleoforge.io.vcf_records`;
writing the scored output (the SpliceAI INFO header lines, the output sink, recovery of an
interrupted output) is :mod:`nucleoforge.io.vcf_output`.

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

__all__ = ["Variant", "read_hisat2_snps", "write_vcf", "open_vcf", "VcfFormatError"]

_REGION = re.compile(r"^([^:]+):(\d+)-(\d+)$")


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


# shared with nucleoforge.io.vcf_records (its messages and its record counter)
VCF_COLUMNS = "CHROM POS ID REF ALT QUAL FILTER INFO"
SPACED_COLUMNS = (f"expected at least 8 tab-separated columns ({VCF_COLUMNS}), got 1: the columns are separated by "
                  "spaces, not tabs")

GZIP_MAGIC = b"\x1f\x8b"
BCF_MAGIC = b"BCF\x02"
UTF8_BOM = b"\xef\xbb\xbf"


def open_vcf(path: str | os.PathLike) -> Any:
    """Open a VCF or BCF for streaming with pysam, whatever form it comes in.

    Reads plain text, gzip (``gzip``, not only ``bgzip``), BGZF and BCF alike, from a file or
    from a stream (``-`` / ``/dev/stdin``, a pipe, a FIFO). Windows line ends (CRLF) are read
    as they are and a UTF-8 byte order mark is skipped. The first lines are looked at before
    pysam sees them, so a file that is not a readable VCF fails with one
    :class:`VcfFormatError` line ``FILE:LINE: what is wrong`` (an empty or binary file, no
    ``##fileformat`` or ``#CHROM`` line, columns separated by spaces). htslib's own warnings
    (``[W::...]``) are silenced: :func:`~nucleoforge.io.vcf_records.iter_vcf_records` reports bad
    records itself.

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
    stopped the thread feeding its pipe early, checked by ``iter_vcf_records`` when the
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
            raise feed_error(name, error[0]) from None
        raise
    vcf_box.append(vcf)
    if error:
        vcf._nf_error = error[0]
    return vcf


def feed_error(name: str, exc: BaseException) -> VcfFormatError:
    """What stopped the thread feeding pysam, as the one-line error about input ``name``."""
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
    if buf[:4] == BCF_MAGIC:
        return _Head(bcf=True, bom=False)
    bom = buf.startswith(UTF8_BOM)
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
            raise VcfFormatError(f"{name}:{lineno}: {SPACED_COLUMNS}: {_shown(shown)}")
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
    if first[:2] != GZIP_MAGIC:
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


