"""Writing the output VCF of a scoring run: the SpliceAI INFO header lines, the output sink
(stdout, a plain file or BGZF, with one-line errors for a full disk), and the recovery of an
interrupted output for ``--resume``.
"""

from __future__ import annotations

import os
from typing import Any

from nucleoforge.errors import NucleoforgeError

__all__ = ["SPLICEAI_INFO_LINE", "SPLICEAI_TX_INFO_LINE", "VcfSink", "OutputWriteError", "salvage_vcf_output"]

#: The INFO header written by ``nucleoforge variants``; the field layout is the one the
#: Illumina ``spliceai`` tool writes, so downstream parsers of its output work unchanged.
SPLICEAI_INFO_LINE = (
    '##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAI variant annotation '
    "(nucleoforge, SpliceAI-10k ensemble): delta scores (DS) and delta positions (DP) for "
    "acceptor gain (AG), acceptor loss (AL), donor gain (DG) and donor loss (DL). "
    'Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">'
)

SPLICEAI_TX_INFO_LINE = (
    '##INFO=<ID=SpliceAI_TX,Number=.,Type=String,Description="SpliceAI variant annotation per transcript (nucleoforge). '
    'Format: ALLELE|SYMBOL|TRANSCRIPT_ID|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">'
)


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
