"""The table output of ``nucleoforge variants``: one row per record x ALT x gene.

``variants -O out.tsv`` (``.tsv.gz`` = BGZF, or ``--format tsv`` for any name and stdout) writes,
instead of a VCF, a tab-separated table with a header row::

    CHROM POS ID REF ALT SYMBOL [TRANSCRIPT] DS_AG DS_AL DS_DG DS_DL DP_AG DP_AL DP_DG DP_DL DS_MAX NOTE

* one row per ALT allele x overlapping gene (x transcript with ``--transcripts``, which adds the
  ``TRANSCRIPT`` column), with the numbers of the ``SpliceAI`` INFO entry as written there;
  ``DS_MAX`` is the largest of the four delta scores;
* one row per ALT allele left without scores, its reason in ``NOTE`` (``SKIPPED: REF does not
  match the reference``, ``SKIPPED: outside annotated genes``, ``SKIPPED: unsupported ALT`` …)
  and the score columns empty; an ALT whose REF and ALT are both longer than one base gets one
  row per gene (the ``ALT|GENE|.|.|…`` entry of the VCF) with empty scores and its reason.

**Several models** (``variants --model A --model B``, or one model under an INFO key other than
``SpliceAI``): one row per record x ALT x model x gene, rows of one ALT together and its models in
the order given, with two more columns::

    CHROM POS ID REF ALT MODEL SYMBOL [TRANSCRIPT] DS_AG … DP_DL SCORES DS_MAX NOTE

``MODEL`` is the model's INFO key. One row per model keeps each model's numbers in columns of
their own meaning (a column per key and score would leave most cells empty, as the models'
genes and skip reasons differ). SpliceAI-format entries (SpliceAI, OpenSpliceAI, CI-SpliceAI) fill
``DS_*``/``DP_*`` and leave ``SCORES`` empty; an entry of another format (Pangolin's
``GENE|POS:GAIN|POS:LOSS|Warnings:…``, also its ``-s`` / ``--score-exons`` forms) leaves them empty and
puts everything after the gene into ``SCORES`` as written, its ``DS_MAX`` being the largest
absolute ``POS:SCORE`` value.

>>> rows = table_rows("22", 20784102, "rs1", "C", [("G", ["SCARF2|-31:0.25|18:-0.4|Warnings:"], None)],
...                   model="Pangolin", spliceai_entries=False)
>>> cells = rows[0].rstrip(chr(10)).split(chr(9))
>>> cells[5:7], cells[-3:]
(['Pangolin', 'SCARF2'], ['-31:0.25|18:-0.4|Warnings:', '0.40', ''])

A record's rows cannot be told apart from the next record's by their columns alone (a split
multi-allelic site gives the same rows as one multi-allelic record), so a file output also gets
``OUT.checkpoints``: one line ``RECORDS<TAB>BYTES`` after every chunk written, the number of
input records whose rows fill the first ``BYTES`` bytes (uncompressed). ``--resume`` keeps the
rows up to the last checkpoint that lies inside the complete part of the file
(:func:`salvage_table`) and continues after those records.

>>> rows = table_rows("22", 20784102, "rs1", "C", [("G", ["G|SCARF2|0.08|0.00|0.00|0.00|-31|18|12|18"], None),
...                                               ("*", [], "unsupported ALT")])
>>> [r.rstrip("\\n").split("\\t")[5:] for r in rows]
[['SCARF2', '0.08', '0.00', '0.00', '0.00', '-31', '18', '12', '18', '0.08', ''], ['', '', '', '', '', '', '', '', '', '', 'SKIPPED: unsupported ALT']]
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional, Sequence

from nucleoforge.errors import NucleoforgeError


__all__ = ["TABLE_COLUMNS", "table_columns", "table_header", "table_rows", "is_table_path", "checkpoints_path",
           "TableSink", "salvage_table"]

#: the columns of the table (``TRANSCRIPT`` follows ``SYMBOL`` with ``--transcripts``)
TABLE_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT", "SYMBOL", "DS_AG", "DS_AL", "DS_DG", "DS_DL",
                 "DP_AG", "DP_AL", "DP_DG", "DP_DL", "DS_MAX", "NOTE")

_TABLE_SUFFIXES = (".tsv", ".tsv.gz", ".tsv.bgz")


def table_columns(transcripts: bool = False, model_column: bool = False) -> list[str]:
    """The column names, with ``TRANSCRIPT`` after ``SYMBOL`` when ``transcripts``, and ``MODEL``
    (after ``ALT``) and ``SCORES`` (before ``DS_MAX``) when ``model_column``."""
    cols = list(TABLE_COLUMNS)
    if transcripts:
        cols.insert(cols.index("SYMBOL") + 1, "TRANSCRIPT")
    if model_column:
        cols.insert(cols.index("ALT") + 1, "MODEL")
        cols.insert(cols.index("DS_MAX"), "SCORES")
    return cols


def table_header(transcripts: bool = False, model_column: bool = False) -> str:
    """The header row (tab-separated, newline-terminated)."""
    return "\t".join(table_columns(transcripts, model_column)) + "\n"


def _largest_score(fields: Sequence[str]) -> str:
    """``DS_MAX`` of an entry of ``POS:SCORE`` fields: the largest absolute score (``NA`` skipped), or empty."""
    values = []
    for f in fields:
        pos, sep, score = f.partition(":")
        if sep and pos.lstrip("-").isdigit():
            try:
                values.append(abs(float(score)))
            except ValueError:
                continue
    return f"{max(values) + 0.0:.2f}" if values else ""


def _other_row(head: list[str], alt: str, model: str, entry: str, n_label: int) -> str:
    """The row of an entry that is not SpliceAI's format: ``SYMBOL`` its first field, the rest in ``SCORES``."""
    fields = entry.split("|")
    symbol = fields[0].removesuffix("_sites1") if any(f.endswith("_sites2") for f in fields) else fields[0]
    rest = fields[1:]
    return "\t".join(head + [alt, model, symbol] + [""] * (n_label - 1 + 8) + ["|".join(rest), _largest_score(rest), ""]) + "\n"


def is_table_path(path: "str | os.PathLike[str]") -> bool:
    """Whether an output name asks for the table: ``.tsv``, ``.tsv.gz`` or ``.tsv.bgz``."""
    return str(path).lower().endswith(_TABLE_SUFFIXES)


def table_rows(chrom: str, pos: int, vid: str, ref: str, alleles: Iterable[tuple[str, Sequence[str], Optional[str]]],
               transcripts: bool = False, model: str | None = None, spliceai_entries: bool = True) -> list[str]:
    """The rows (newline-terminated) of one record: ``alleles`` = per ALT ``(alt, entries, note)``
    with its INFO entries (``ALT|SYMBOL[|TRANSCRIPT]|DS_AG|…|DP_DL``) and, when it has no
    delta scores, the reason (else ``None``). ``model``: the INFO key for the ``MODEL`` column of
    a run of several models (None: the single-model layout); ``spliceai_entries`` False: entries
    of another format (see the module docstring)."""
    n_label = 2 if transcripts else 1
    head = [chrom, str(pos), vid or ".", ref]
    rows = []
    for alt, entries, note in alleles:
        if not entries:
            skipped = f"SKIPPED: {note}" if note else "SKIPPED"
            cells = head + [alt] + ([model] if model is not None else []) + [""] * (n_label + 9 + (model is not None))
            rows.append("\t".join(cells + [skipped]) + "\n")
            continue
        for entry in entries:
            if not spliceai_entries:
                rows.append(_other_row(head, alt, model or "", entry, n_label))
                continue
            fields = entry.split("|")
            label, ds, dp = fields[1:-8], fields[-8:-4], fields[-4:]
            if len(label) != n_label:
                raise NucleoforgeError(f"{chrom}:{pos}: INFO entry {entry!r} has {len(fields)} fields, expected {9 + n_label}")
            if "." in ds:  # REF and ALT both longer than one base: an entry without scores
                values, ds_max, text = [""] * 8, "", f"SKIPPED: {note}" if note else "SKIPPED"
            else:
                values, ds_max, text = ds + dp, f"{max(float(x) for x in ds) + 0.0:.2f}", ""  # + 0.0: no "-0.00"
            extra = ([model], [""]) if model is not None else ([], [])
            rows.append("\t".join(head + [alt] + extra[0] + label + values + extra[1] + [ds_max, text]) + "\n")
    return rows


def checkpoints_path(output: "str | os.PathLike[str]") -> str:
    """``OUTPUT.checkpoints``: the records-per-bytes lines of a table output (see the module docstring)."""
    return f"{output}.checkpoints"


def _in_place(path: str) -> bool:
    """stdout, or an output that exists and is not a regular file (a FIFO, ``/dev/stdout``): no checkpoints."""
    return path == "-" or path.startswith("/dev/") or (os.path.exists(path) and not os.path.isfile(path))


class TableSink:
    """Text sink for the table: stdout, a plain file, or BGZF (``.gz``/``.bgz``), through
    :class:`nucleoforge.io.vcf_output.VcfSink`. It counts the (uncompressed) bytes written; for a file,
    :meth:`checkpoint` flushes and appends ``RECORDS<TAB>BYTES`` to ``OUT.checkpoints``.

    ``append``: continue a resumed output whose kept part is ``kept_bytes`` long and whose
    checkpoints up to it are ``kept_checkpoints`` (the file is rewritten with them)."""

    def __init__(self, path: str, append: bool, kept_bytes: int = 0, kept_checkpoints: str = "") -> None:
        from nucleoforge.io.vcf_output import OutputWriteError, VcfSink

        self.path = path
        self.bytes = kept_bytes if append else 0
        self._ck: Any = None
        self._ck_created = False
        if not _in_place(path):
            ck = checkpoints_path(path)
            existed = os.path.lexists(ck)
            try:
                with open(ck, "w", encoding="utf-8") as fh:  # fresh, or cut to the kept part
                    self._ck_created = not existed
                    fh.write(kept_checkpoints if append else "")
                self._ck = open(ck, "a", encoding="utf-8")
            except OSError as exc:
                if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
                    raise
                raise OutputWriteError(ck, exc) from None
        self._sink = VcfSink(path, append=append)

    def write(self, text: str) -> None:
        self._sink.write(text)
        self.bytes += len(text.encode())

    def flush(self) -> None:
        self._sink.flush()

    def checkpoint(self, records: int) -> None:
        """Flush, then note that the first ``records`` input records fill the bytes written so far."""
        from nucleoforge.io.vcf_output import OutputWriteError

        self.flush()
        if self._ck is not None:
            try:
                self._ck.write(f"{records}\t{self.bytes}\n")
                self._ck.flush()
            except OSError as exc:
                self._sink.failed = True
                raise OutputWriteError(checkpoints_path(self.path), exc) from None

    def close(self) -> None:
        import contextlib

        try:
            self._sink.close()
        finally:
            if self._ck is not None:
                if self._sink.failed:  # its unwritten rest would fail the same way
                    with contextlib.suppress(OSError):
                        self._ck.close()
                else:
                    self._ck.close()

    def remove_created(self) -> bool:
        """Delete the table and its checkpoints when this sink created them as regular files."""
        removed = self._sink.remove_created()
        ck = checkpoints_path(self.path)
        if self._ck_created and os.path.isfile(ck) and not os.path.islink(ck):
            os.unlink(ck)
        return removed


def salvage_table(path: str, header: str) -> tuple[int, int, str, str]:
    """What ``--resume`` keeps of an interrupted table output: ``(records, bytes, text,
    checkpoints)`` — the records whose rows fill its first ``bytes`` (uncompressed) bytes, that
    text, and the checkpoint lines up to there. ``NucleoforgeError`` when the file does not start
    with ``header`` or has no checkpoint inside its complete part."""
    from nucleoforge.io.vcf_output import salvage_vcf_output

    head, body, _ = salvage_vcf_output(path)  # complete lines; a cut gzip tail dropped
    data = "".join(head + body).encode()  # a table has no '#' lines: all of it is in body, in order
    if not data.startswith(header.encode()):
        raise NucleoforgeError(f"cannot resume {path}: it does not start with the header row of this table "
                               f"({header.split(chr(9))[0]} … {header.rstrip().split(chr(9))[-1]}); rerun without --resume")
    ck_path = checkpoints_path(path)
    kept: list[tuple[int, int, str]] = []
    if os.path.isfile(ck_path):
        with open(ck_path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if not line.endswith("\n") or len(parts) != 2 or not all(p.isdigit() for p in parts):
                    break  # an unfinished last line
                records, size = int(parts[0]), int(parts[1])
                if size > len(data):
                    break
                kept.append((records, size, line))
    if not kept:
        raise NucleoforgeError(f"cannot resume {path}: {ck_path} is missing or names no complete part of it, so nothing "
                               "says which records its rows belong to; rerun without --resume to start over")
    records, size, _ = kept[-1]
    return records, size, data[:size].decode(), "".join(line for _, _, line in kept)
