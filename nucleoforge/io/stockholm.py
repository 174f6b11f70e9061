"""Stockholm alignments (Rfam/Infernal) with per-sequence secondary structure, and dot-bracket ↔ pairs.

A Stockholm file may hold several alignments (each ends with ``//``) and each alignment may be
interleaved in blocks. Per-sequence structures come from ``#=GR <name> SS`` lines; the consensus
from ``#=GC SS_cons``. :func:`read_stockholm` yields one :class:`StockholmRecord` per sequence,
with the gaps removed and the base pairs re-indexed to the ungapped sequence.

>>> import io
>>> text = "# STOCKHOLM 1.0\\ns1  GG.AAcC\\n#=GR s1 SS  <<...>>\\n//\\n"
>>> rec = next(read_stockholm(io.StringIO(text)))
>>> rec.sequence, rec.pairs, rec.dot_bracket()
('GGAACC', [(0, 5), (1, 4)], '((..))')
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.fasta import open_text

GAP_CHARS = frozenset(".-_~")
#: opening → closing bracket pairs accepted in dot-bracket strings (WUSS and extended dot-bracket)
BRACKETS = {"(": ")", "<": ">", "[": "]", "{": "}", **{chr(c): chr(c).lower() for c in range(ord("A"), ord("Z") + 1)}}
_CLOSING = {v: k for k, v in BRACKETS.items()}


@dataclass
class StockholmRecord:
    """One sequence of an alignment: ungapped ``sequence`` (upper case) and its 0-based ``pairs`` (i < j)."""

    name: str
    sequence: str
    pairs: list[tuple[int, int]]
    aligned: str = ""
    aligned_structure: str = ""
    line: int = 0  # 1-based line of the sequence's first row in the file
    annotations: dict[str, str] = field(default_factory=dict)

    def dot_bracket(self) -> str:
        """The structure as plain dot-bracket (pseudoknotted pairs use ``[]``, ``{}``, ``<>`` in turn)."""
        return pairs_to_dot_bracket(self.pairs, len(self.sequence))


def dot_bracket_to_pairs(structure: str, source: str = "structure") -> list[tuple[int, int]]:
    """0-based base pairs ``(i, j)``, ``i < j``, of a dot-bracket / WUSS string.

    Brackets ``() <> [] {}`` and letter pairs ``Aa`` nest independently (pseudoknots); every
    other character is unpaired. Unbalanced brackets raise ``ValueError`` naming the position.

    >>> dot_bracket_to_pairs("((.[.)).]")
    [(0, 6), (1, 5), (3, 8)]
    >>> dot_bracket_to_pairs("(()")
    Traceback (most recent call last):
    ...
    nucleoforge.errors.NucleoforgeError: structure: unmatched '(' at position 0
    """
    stacks: dict[str, list[int]] = {}
    pairs = []
    for i, c in enumerate(structure):
        if c in BRACKETS:
            stacks.setdefault(c, []).append(i)
        elif c in _CLOSING:
            stack = stacks.get(_CLOSING[c])
            if not stack:
                raise NucleoforgeError(f"{source}: unmatched {c!r} at position {i}")
            pairs.append((stack.pop(), i))
    for opening, stack in stacks.items():
        if stack:
            raise NucleoforgeError(f"{source}: unmatched {opening!r} at position {stack[0]}")
    return sorted(pairs)


def pairs_to_dot_bracket(pairs: Iterable[tuple[int, int]], length: int) -> str:
    """Dot-bracket string of ``pairs``; crossing pairs get ``[]``, then ``{}``, then ``<>``.

    >>> pairs_to_dot_bracket([(0, 6), (1, 5), (3, 8)], 9)
    '((.[.)).]'
    """
    out = ["."] * length
    levels: list[list[tuple[int, int]]] = []
    for i, j in sorted((min(p), max(p)) for p in pairs):
        if not (0 <= i < j < length):
            raise NucleoforgeError(f"pair ({i}, {j}) outside a sequence of length {length}")
        for level in levels:
            if all(not (a < i < b < j or i < a < j < b) for a, b in level):
                level.append((i, j))
                break
        else:
            levels.append([(i, j)])
    symbols = ["()", "[]", "{}", "<>"]
    for depth, level in enumerate(levels):
        if depth >= len(symbols):
            raise NucleoforgeError("more than four crossing pair levels cannot be written as dot-bracket")
        for i, j in level:
            out[i], out[j] = symbols[depth]
    return "".join(out)


def read_stockholm(source: str | os.PathLike | IO[str]) -> Iterator[StockholmRecord]:
    """Yield every sequence of every alignment in a (plain or gzipped) Stockholm file.

    Errors name the file and line: a missing ``# STOCKHOLM`` header, a structure line whose
    length differs from its sequence, an alignment without ``//``, unbalanced brackets.
    """
    if isinstance(source, (str, os.PathLike)):
        with open_text(source) as fh:
            yield from _parse(fh, str(source))
    else:
        yield from _parse(source, getattr(source, "name", "<stream>"))


def _parse(lines: Iterable[str], filename: str) -> Iterator[StockholmRecord]:
    seqs: dict[str, list[str]] = {}
    ss: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    gs: dict[str, dict[str, str]] = {}
    in_alignment = False
    lineno = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith("# STOCKHOLM"):
            if in_alignment:
                raise NucleoforgeError(f"{filename}:{lineno}: new alignment starts before the previous one ended with '//'")
            in_alignment, seqs, ss, first_line, gs = True, {}, {}, {}, {}
            continue
        if not in_alignment:
            raise NucleoforgeError(f"{filename}:{lineno}: expected '# STOCKHOLM 1.0' header, got {line[:40]!r}")
        if line.startswith("//"):
            yield from _finish(seqs, ss, first_line, gs, filename)
            in_alignment = False
            continue
        if line.startswith("#=GR"):
            parts = line.split()
            if len(parts) != 4:
                raise NucleoforgeError(f"{filename}:{lineno}: malformed #=GR line (expected '#=GR name feature annotation')")
            if parts[2] == "SS":
                ss.setdefault(parts[1], []).append(parts[3])
            continue
        if line.startswith("#=GS"):
            parts = line.split(None, 3)
            if len(parts) == 4:
                gs.setdefault(parts[1], {})[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise NucleoforgeError(f"{filename}:{lineno}: expected 'name aligned_sequence', got {len(parts)} fields")
        name, chunk = parts
        if name not in seqs:
            seqs[name], first_line[name] = [], lineno
        seqs[name].append(chunk)
    if in_alignment:
        raise NucleoforgeError(f"{filename}:{lineno}: alignment does not end with '//'")


def _finish(seqs, ss, first_line, gs, filename) -> Iterator[StockholmRecord]:
    for name, chunks in seqs.items():
        aligned = "".join(chunks)
        structure = "".join(ss.get(name, []))
        where = f"{filename}:{first_line[name]}: sequence {name!r}"
        if structure and len(structure) != len(aligned):
            raise NucleoforgeError(f"{where}: SS line has {len(structure)} columns, the sequence {len(aligned)}")
        keep = [i for i, c in enumerate(aligned) if c not in GAP_CHARS]
        new_index = {col: i for i, col in enumerate(keep)}
        pairs = []
        if structure:
            for i, j in dot_bracket_to_pairs(structure, where):
                if i in new_index and j in new_index:  # a pair with a gapped partner is dropped
                    pairs.append((new_index[i], new_index[j]))
        sequence = "".join(aligned[c] for c in keep).upper()
        yield StockholmRecord(name, sequence, pairs, aligned, structure, first_line[name], gs.get(name, {}))
