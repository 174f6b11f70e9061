"""Shuffles that preserve a sequence's dinucleotide counts exactly (negative controls).

:func:`dinucleotide_shuffle` is the Altschul–Erickson shuffle in the Euler-path form of
Kandel et al. (1996): the sequence is a walk through a multigraph whose vertices are letters
and whose edges are the ``L − 1`` overlapping dinucleotides. A random spanning arborescence
of "last exits" is drawn with Wilson's algorithm (walk steps weighted by edge multiplicity),
every other out-edge list is permuted uniformly, and the Euler path is read off. Each sequence
with the same first letter and the same dinucleotide counts is equally likely.

Letters are taken as they are (case and ``N`` included), so counts of every ordered pair of
characters are preserved, and so are the first and the last letter.

>>> s = "ACGTTGCAACGGTACCA"
>>> t = dinucleotide_shuffle(s, seed=1)
>>> sorted(dinucleotide_counts(t).items()) == sorted(dinucleotide_counts(s).items())
True
>>> (t[0], t[-1]) == (s[0], s[-1])
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

from nucleoforge.errors import NucleoforgeError

__all__ = ["dinucleotide_counts", "dinucleotide_shuffle", "dinucleotide_shuffles"]


def dinucleotide_counts(seq: str) -> Counter[str]:
    """Counts of the overlapping ordered letter pairs of ``seq``.

    >>> dinucleotide_counts("AAAC")
    Counter({'AA': 2, 'AC': 1})
    """
    return Counter(seq[i : i + 2] for i in range(len(seq) - 1))


def dinucleotide_shuffle(seq: str, seed: int | None = None, rng: np.random.Generator | None = None) -> str:
    """A uniformly random sequence with exactly the dinucleotide counts of ``seq``.

    Args:
        seq: any string (length ≤ 2 is returned unchanged).
        seed: seed for a fresh ``numpy`` generator (ignored when ``rng`` is given).
        rng: generator to draw from (use one generator for many sequences).
    """
    if rng is None:
        rng = np.random.default_rng(seed)
    n = len(seq)
    if n <= 2:
        return seq
    # Out-edge lists: successors of each letter, in sequence order.
    edges: dict[str, list[str]] = {}
    for a, b in zip(seq, seq[1:]):
        edges.setdefault(a, []).append(b)
    last = seq[-1]
    # Wilson's algorithm: random arborescence of last exits, oriented towards `last`.
    in_tree = {last: True}
    nxt: dict[str, str] = {}
    for start in edges:
        u = start
        while not in_tree.get(u, False):
            succ = edges[u]
            nxt[u] = succ[int(rng.integers(len(succ)))]  # weighted by multiplicity
            u = nxt[u]
        u = start
        while not in_tree.get(u, False):
            in_tree[u] = True
            u = nxt[u]
    # Permute the remaining edges of each vertex; its tree edge is used last.
    order: dict[str, list[str]] = {}
    for u, succ in edges.items():
        rest = list(succ)
        if u != last:
            rest.remove(nxt[u])
        perm = [rest[i] for i in rng.permutation(len(rest))]
        if u != last:
            perm.append(nxt[u])
        order[u] = perm[::-1]  # pop() from the end = take in order
    out = [seq[0]]
    u = seq[0]
    for _ in range(n - 1):
        u = order[u].pop()
        out.append(u)
    return "".join(out)


def dinucleotide_shuffles(
    sequences: Iterable[str], seed: int | None = None, copies: int = 1
) -> Iterator[str]:
    """Shuffle many sequences from one seeded generator (``copies`` shuffles of each, in order)."""
    if copies < 1:
        raise NucleoforgeError(f"copies must be >= 1, got {copies}")
    rng = np.random.default_rng(seed)
    for seq in sequences:
        for _ in range(copies):
            yield dinucleotide_shuffle(seq, rng=rng)
