"""Labelled files for fine-tuning: one sequence per row, with its label, read and validated before training.

:func:`read_labelled` reads CSV, TSV, Parquet or FASTA files with one sequence per row.

=================  =====================================================================
column             contents
=================  =====================================================================
``sequence``       nucleotides (A/C/G/T/U, IUPAC codes; case-insensitive)
``label``          the target — see below (absent in files used only for prediction)
``id`` / ``name``  optional identifier (kept for error messages and predictions)
=================  =====================================================================

Labels by task and problem type:

* ``sequence``: binary ``0``/``1`` (or ``true``/``false``); multiclass an integer class index or
  a class name (names are sorted and numbered from the training file); regression a number;
  multilabel / multi-target regression a list ``0,1,1`` or ``[0, 1, 1]``.
* ``token`` (one label per nucleotide): a string with one character per nucleotide
  (``"0011100"``; multiclass labels may be any characters, e.g. ``"((..))"``, numbered in sorted
  order), or a list of numbers (``"0.5 1.2 -100"``; ``-100`` = ignored) of the same length.
* ``contact``: a dot-bracket string of the sequence's length (``"((..))"``; pseudoknots with
  ``[] {} <> Aa``) or a list of 1-based pairs ``"1-6 2-5"`` / ``"[[1, 6], [2, 5]]"``.

FASTA files carry the label in the header description as ``label=VALUE`` (``>seq1 label=1``).
Unknown columns, empty sequences, labels that do not fit the problem type and token labels of
the wrong length raise :class:`~nucleoforge.errors.NucleoforgeError` naming the file and the row (1-based data row; for CSV/TSV
the line is row + 1).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.fasta import open_text, read_fasta
from nucleoforge.io.stockholm import dot_bracket_to_pairs
from nucleoforge.tokenization import IGNORE_INDEX

TASKS = ("sequence", "token", "contact")


@dataclass
class LabelledData:
    """Sequences and parsed labels of one file.

    ``labels``: per row a float / int (sequence), a 1-D array (token; multilabel sequence) or
    an ``(n_pairs, 2)`` int array of 0-based pairs (contact); ``None`` when the file has no labels.
    """

    path: str
    task: str
    problem_type: str
    ids: list[str]
    sequences: list[str]
    labels: list[Any] | None
    num_labels: int
    label_names: list[str] | None = None
    rows: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sequences)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.rsplit(".", 1)[-1] if "." in name else ""


def read_rows(path: str | os.PathLike) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Columns and ``(row_number, {column: value})`` of a CSV/TSV/Parquet/FASTA file (rows 1-based)."""
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path} does not exist")
    kind = _suffix(path)
    if kind in ("csv", "tsv", "txt"):
        fh = open_text(path)
        reader = csv.DictReader(fh, delimiter="," if kind == "csv" else "\t")
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if not columns:
            raise NucleoforgeError(f"{path}: empty file (expected a header line with a 'sequence' column)")

        def rows() -> Iterator[tuple[int, dict[str, Any]]]:
            with fh:
                for i, row in enumerate(reader, 1):
                    if None in row:
                        raise NucleoforgeError(f"{path}: row {i} (line {i + 1}): more fields than the header's {len(columns)}")
                    yield i, {k.strip(): v for k, v in row.items()}

        return columns, rows()
    if kind in ("parquet", "pq"):
        import pyarrow.parquet as pq

        import pyarrow

        try:
            table = pq.read_table(path)
        except pyarrow.ArrowException as exc:  # truncated or not Parquet: pyarrow's message names no option
            raise NucleoforgeError(f"{path}: not a readable Parquet file ({exc})") from None
        columns = list(table.column_names)

        def prows() -> Iterator[tuple[int, dict[str, Any]]]:
            for i, row in enumerate(table.to_pylist(), 1):
                yield i, row

        return columns, prows()
    if kind in ("fa", "fasta", "fna", "fas"):

        def frows() -> Iterator[tuple[int, dict[str, Any]]]:
            for i, rec in enumerate(read_fasta(path), 1):
                row: dict[str, Any] = {"id": rec.name, "sequence": rec.sequence}
                match = re.search(r"(?:^|\s)label=(\S+)", rec.description)
                if match:
                    row["label"] = match.group(1)
                yield i, row

        return ["id", "sequence", "label"], frows()
    raise NucleoforgeError(f"{path}: unknown file type {kind!r} (expected .csv, .tsv, .parquet or .fa/.fasta, optionally .gz)")


_LIST_SPLIT = re.compile(r"[\s,;]+")


def _parse_number_list(value: Any, where: str) -> list[float]:
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
    else:
        text = str(value).strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise NucleoforgeError(f"{where}: label {text[:40]!r} is not a valid list ({exc.msg})") from None
        else:
            items = [t for t in _LIST_SPLIT.split(text) if t]
    try:
        return [float(x) for x in items]
    except (TypeError, ValueError):
        raise NucleoforgeError(f"{where}: label list {str(value)[:40]!r} holds a non-number") from None


def _is_list_text(value: Any) -> bool:
    if isinstance(value, (list, tuple, np.ndarray)):
        return True
    text = str(value).strip()
    return text.startswith("[") or bool(re.search(r"[\s,;]", text))


def read_labelled(
    path: str | os.PathLike,
    tokenizer: Any,
    task: str,
    problem_type: str,
    sequence_column: str = "sequence",
    label_column: str = "label",
    id_column: str | None = None,
    label_names: list[str] | None = None,
    require_labels: bool = True,
    max_nucleotides: int | None = None,
) -> LabelledData:
    """Read and validate a labelled file (see the module docstring for the conventions).

    ``label_names`` (from the training file) fixes the class numbering of multiclass names.
    Every problem is reported with the file and row before any training starts.
    """
    if task not in TASKS:
        raise NucleoforgeError(f"unknown task {task!r}; expected one of {TASKS}")
    if problem_type not in ("binary", "multiclass", "multilabel", "regression"):
        raise NucleoforgeError(f"unknown problem type {problem_type!r}")
    if task == "contact" and problem_type != "binary":
        raise NucleoforgeError(f"contact prediction supports problem type 'binary' (pair / no pair), got {problem_type!r}")
    if task == "token" and problem_type == "multilabel":
        raise NucleoforgeError("token prediction supports binary, multiclass and regression labels (not multilabel)")
    path = Path(path)
    columns, rows = read_rows(path)
    allowed = {sequence_column, label_column, "id", "name"} | ({id_column} if id_column else set())
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise NucleoforgeError(
            f"{path}: unknown column(s) {unknown}; expected {sequence_column!r}, {label_column!r} and optionally "
            "'id'/'name' (choose other names with --sequence-column / --label-column)"
        )
    if sequence_column not in columns:
        raise NucleoforgeError(f"{path}: no {sequence_column!r} column (columns: {columns})")
    has_labels = label_column in columns
    if require_labels and not has_labels:
        raise NucleoforgeError(f"{path}: no {label_column!r} column (columns: {columns})")
    id_key = id_column or ("id" if "id" in columns else "name" if "name" in columns else None)
    ids, seqs, raw_labels, row_numbers = [], [], [], []
    for i, row in rows:
        where = f"{path}: row {i}"
        seq = row.get(sequence_column)
        seq = "" if seq is None else str(seq).strip()
        if not seq:
            raise NucleoforgeError(f"{where}: empty sequence")
        try:
            tokenizer.encode_sequences([seq])
        except ValueError as exc:
            raise NucleoforgeError(f"{where}: {str(exc).replace('sequence 0, ', '')}") from None
        if max_nucleotides is not None and len(seq) > max_nucleotides:
            raise NucleoforgeError(f"{where}: sequence has {len(seq)} nucleotides, more than the model's {max_nucleotides}")
        if has_labels:
            value = row.get(label_column)
            if value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and math.isnan(value)):
                if require_labels:
                    raise NucleoforgeError(f"{where}: empty label")
                value = None
            raw_labels.append(value)
        ids.append(str(row.get(id_key)) if id_key and row.get(id_key) is not None else f"row{i}")
        seqs.append(seq)
        row_numbers.append(i)
    if not seqs:
        raise NucleoforgeError(f"{path}: no rows")
    labels: list[Any] | None = None
    num_labels, names = 1, label_names
    if has_labels and all(v is not None for v in raw_labels):
        parse = {"sequence": _sequence_labels, "token": _token_labels, "contact": _contact_labels}[task]
        labels, num_labels, names = parse(path, row_numbers, seqs, raw_labels, problem_type, label_names)
    return LabelledData(str(path), task, problem_type, ids, seqs, labels, num_labels, names, row_numbers)


_TRUE = {"1", "1.0", "true", "yes", "pos", "positive"}
_FALSE = {"0", "0.0", "false", "no", "neg", "negative"}


def _sequence_labels(path, rows, seqs, values, problem_type, names):
    out: list[Any] = []
    if problem_type == "binary":
        for i, v in zip(rows, values):
            text = str(v).strip().lower()
            if text in _TRUE:
                out.append(1.0)
            elif text in _FALSE:
                out.append(0.0)
            else:
                raise NucleoforgeError(f"{path}: row {i}: label {v!r} is not valid for problem type 'binary' (expected 0 or 1)")
        return out, 1, None
    if problem_type == "regression":
        if any(_is_list_text(v) for v in values):
            lists = [_parse_number_list(v, f"{path}: row {i}") for i, v in zip(rows, values)]
            return _check_widths(path, rows, lists, "regression targets"), len(lists[0]), None
        for i, v in zip(rows, values):
            try:
                out.append(float(v))
            except (TypeError, ValueError):
                raise NucleoforgeError(f"{path}: row {i}: label {v!r} is not a number (problem type 'regression')") from None
        return out, 1, None
    if problem_type == "multilabel":
        lists = [_parse_number_list(v, f"{path}: row {i}") for i, v in zip(rows, values)]
        for i, lst in zip(rows, lists):
            if any(x not in (0.0, 1.0) for x in lst):
                raise NucleoforgeError(f"{path}: row {i}: multilabel labels must be 0/1 lists, got {lst[:8]}")
        return _check_widths(path, rows, lists, "multilabel labels"), len(lists[0]), None
    # multiclass: integer indices, or names numbered in sorted order
    texts = [str(v).strip() for v in values]
    if names is None:
        if all(re.fullmatch(r"\d+", t) for t in texts):
            n = max(int(t) for t in texts) + 1
            if n < 2:
                raise NucleoforgeError(f"{path}: multiclass labels need at least two classes, found only class 0")
            return [int(t) for t in texts], n, None
        names = sorted(set(texts))
        if len(names) < 2:
            raise NucleoforgeError(f"{path}: multiclass labels need at least two classes, found only {names}")
    index = {n: j for j, n in enumerate(names)}
    for i, t in zip(rows, texts):
        if t in index:
            out.append(index[t])
        elif re.fullmatch(r"\d+", t) and int(t) < len(names) and all(re.fullmatch(r"\d+", n) for n in names):
            out.append(int(t))
        else:
            raise NucleoforgeError(f"{path}: row {i}: label {t!r} is not one of the training classes {names[:10]}")
    return out, len(names), names


def _check_widths(path, rows, lists, what):
    width = len(lists[0])
    for i, lst in zip(rows, lists):
        if len(lst) != width or not lst:
            raise NucleoforgeError(f"{path}: row {i}: {len(lst)} {what}, expected {width} (as in row {rows[0]})")
    return [np.asarray(lst, dtype=np.float32) for lst in lists]


def _token_labels(path, rows, seqs, values, problem_type, names):
    out = []
    char_names: set[str] = set()
    parsed = []
    for i, seq, v in zip(rows, seqs, values):
        where = f"{path}: row {i}"
        n = len(seq)
        if _is_list_text(v):
            lst = _parse_number_list(v, where)
            if len(lst) != n:
                raise NucleoforgeError(f"{where}: {len(lst)} token labels for a sequence of {n} nucleotides")
            parsed.append(("list", lst))
        else:
            text = str(v).strip()
            if len(text) != n:
                raise NucleoforgeError(f"{where}: token label string has {len(text)} characters, the sequence {n} nucleotides")
            parsed.append(("chars", text))
            char_names.update(text)
    if problem_type == "multiclass" and names is None and char_names and not all(c.isdigit() for c in char_names):
        names = sorted(char_names)
    num_labels = 1
    for (kind, value), i in zip(parsed, rows):
        where = f"{path}: row {i}"
        if kind == "chars":
            if names is not None:
                bad = sorted(set(value) - set(names))
                if bad:
                    raise NucleoforgeError(f"{where}: token label characters {bad} are not training classes {names}")
                index = {c: j for j, c in enumerate(names)}
                arr = np.array([index[c] for c in value], dtype=np.float32)
            else:
                if not value.isdigit():
                    bad = sorted(set(c for c in value if not c.isdigit()))
                    raise NucleoforgeError(f"{where}: token labels {bad} are not digits (problem type {problem_type!r})")
                arr = np.array([int(c) for c in value], dtype=np.float32)
        else:
            arr = np.asarray(value, dtype=np.float32)
        valid = arr[arr != IGNORE_INDEX]
        if problem_type == "binary" and not np.isin(valid, [0.0, 1.0]).all():
            raise NucleoforgeError(f"{where}: binary token labels must be 0/1 (or -100), got {sorted(set(valid.tolist()))[:8]}")
        if problem_type == "multiclass":
            if not (valid == np.round(valid)).all() or (valid < 0).any():
                raise NucleoforgeError(f"{where}: multiclass token labels must be class indices, got {sorted(set(valid.tolist()))[:8]}")
            if len(valid):
                num_labels = max(num_labels, int(valid.max()) + 1)
        out.append(arr)
    if problem_type == "multiclass":
        num_labels = max(num_labels, len(names) if names else 2)
    return out, num_labels, names


_PAIR_TOKEN = re.compile(r"(\d+)\s*[-:]\s*(\d+)")


def _contact_labels(path, rows, seqs, values, problem_type, names):
    out = []
    for i, seq, v in zip(rows, seqs, values):
        where = f"{path}: row {i}"
        n = len(seq)
        text = v if isinstance(v, (list, tuple, np.ndarray)) else str(v).strip()
        if isinstance(text, str) and not re.search(r"\d", text):
            if len(text) != n:
                raise NucleoforgeError(f"{where}: dot-bracket has {len(text)} characters, the sequence {n} nucleotides")
            pairs = dot_bracket_to_pairs(text, where)
        else:
            if isinstance(text, str) and text.startswith("["):
                try:
                    items = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise NucleoforgeError(f"{where}: pair list is not valid JSON ({exc.msg})") from None
            elif isinstance(text, str):
                items = [(int(a), int(b)) for a, b in _PAIR_TOKEN.findall(text)]
                if _PAIR_TOKEN.sub("", text).strip(" ,;"):
                    raise NucleoforgeError(f"{where}: pair list {text[:40]!r} is not 'i-j i-j …' (1-based)")
            else:
                items = list(text)
            pairs = []
            for pair in items:
                if len(pair) != 2:
                    raise NucleoforgeError(f"{where}: pair {pair!r} does not have two positions")
                a, b = int(pair[0]), int(pair[1])
                if not (1 <= a <= n and 1 <= b <= n) or a == b:
                    raise NucleoforgeError(f"{where}: pair ({a}, {b}) is outside 1..{n} (pairs are 1-based) or pairs a base with itself")
                pairs.append((min(a, b) - 1, max(a, b) - 1))
        out.append(np.asarray(sorted(set(pairs)), dtype=np.int64).reshape(-1, 2))
    return out, 1, None
