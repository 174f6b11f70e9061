"""VCF helpers on top of pysam, and a reader for HISAT2/dbSNP ``.snp`` variant lists.

pysam does the VCF parsing and writing; this module adds what the tools here need: the
SpliceAI INFO header line, a minimal VCF writer for plain ``(chrom, pos, id, ref, alt)``
variants (contigs declared from a reference), and :func:`read_hisat2_snps`, which turns the
bundled dbSNP list (``rsid type region offset alt``) into VCF-style variants with REF/ALT
alleles taken from the reference sequence.

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

__all__ = [
    "Variant", "SPLICEAI_INFO_LINE", "SPLICEAI_TX_INFO_LINE", "replace_header_line", "read_hisat2_snps", "write_vcf", "open_vcf", "iter_vcf_records", "VcfFormatError",
    "VcfSink", "salvage_vcf_output",
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


def open_vcf(path: str | os.PathLike):
    """Open a VCF/BCF (plain, bgzip) with pysam; errors name the file."""
    import pysam

    try:
        return pysam.VariantFile(str(path))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read as VCF/BCF: {exc}") from exc


class VcfFormatError(ValueError):
    """A VCF record that cannot be parsed; the message starts with ``FILE:LINE:``."""


_VCF_COLUMNS = "CHROM POS ID REF ALT QUAL FILTER INFO"


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
                if text.startswith("#"):
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
            return
        except (OSError, ValueError) as exc:
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
                raise ValueError(f"{name}:{lineno}: expected 5 columns (id type region offset alt), got {len(cols)}")
            rsid, kind, region, offset_s, alt = cols
            m = _REGION.match(region)
            if not m or region not in sequences:
                raise ValueError(f"{name}:{lineno}: unknown region {region!r}")
            seq, chrom, base = sequences[region], m.group(1), int(m.group(2))
            off = int(offset_s)
            if kind == "single":
                yield Variant(chrom, base + off, rsid, seq[off].upper(), alt.upper())
            elif kind == "deletion":
                n = int(alt)
                if off < 1:
                    raise ValueError(f"{name}:{lineno}: deletion at the region start has no anchor base")
                yield Variant(chrom, base + off - 1, rsid, seq[off - 1 : off + n].upper(), seq[off - 1].upper())
            elif kind == "insertion":
                anchor = seq[off - 1].upper()
                yield Variant(chrom, base + off - 1, rsid, anchor, anchor + alt.upper())
            else:
                raise ValueError(f"{name}:{lineno}: unknown variant type {kind!r}")
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


class VcfSink:
    """Text sink for the output VCF: stdout, a plain file, or BGZF (``.gz``/``.bgz``).

    ``flush`` makes everything written so far durable; for BGZF that means closing the
    file and reopening it for appending (pysam's BGZF flush does not reach the disk), which
    leaves a valid multi-member file."""

    def __init__(self, path: str, append: bool) -> None:
        import sys

        import pysam

        self.path = path
        self.gz = path.endswith((".gz", ".bgz"))
        if path == "-":
            self._fh: Any = sys.stdout
        elif self.gz:
            self._fh = pysam.BGZFile(path, "ab" if append else "wb")
        else:
            self._fh = open(path, "a" if append else "w")

    def write(self, text: str) -> None:
        self._fh.write(text.encode() if self.gz else text)

    def flush(self) -> None:
        if self.gz:
            import pysam

            self._fh.close()
            self._fh = pysam.BGZFile(self.path, "ab")
        else:
            self._fh.flush()

    def close(self) -> None:
        if self.path != "-":
            self._fh.close()
        else:
            self._fh.flush()


def replace_header_line(path: str | os.PathLike, prefix: str, line: str) -> bool:
    """Rewrite ``path`` (plain or BGZF) with its first header line starting with ``prefix``
    replaced by ``line``; the copy is written beside it and renamed over it when complete, so a
    failure leaves the file as it was. Returns whether such a line was found (else nothing
    changes). Costs one sequential read and write of the file."""
    import pysam

    from nucleoforge.io.fasta import open_text
    from nucleoforge.io.outputs import atomic_path

    path = str(path)
    with open_text(path) as src:
        found = False
        for text in src:
            if not text.startswith("#"):
                break
            if text.startswith(prefix):
                found = True
                break
    if not found:
        return False
    gz = path.endswith((".gz", ".bgz"))
    with atomic_path(path) as tmp, open_text(path) as src:
        out: Any = pysam.BGZFile(str(tmp), "wb") if gz else open(tmp, "w", encoding="utf-8")
        try:
            done = False
            for text in src:
                if not done and text.startswith(prefix):
                    text, done = line.rstrip("\n") + "\n", True
                out.write(text.encode() if gz else text)
        finally:
            out.close()
    return True
