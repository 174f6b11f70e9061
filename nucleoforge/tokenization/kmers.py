"""The k-mer ↔ nucleotide coverage rule every layer shares.

Token ``t`` of a stride-1 k-mer tokenisation (special tokens left out) covers nucleotides
``t .. t+k-1``, so nucleotide ``i`` is covered by tokens ``max(0, i-k+1) .. min(i, T-1)``.
For k = 1 every mapping below is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def kmer_count(nucleotides: Any, k: int) -> Any:
    """Tokens (without specials) of ``nucleotides`` nucleotides: ``max(n - k + 1, 0)``.

    Takes an int or an integer array/tensor.

    >>> kmer_count(10, 3), kmer_count(2, 3)
    (8, 0)
    """
    return (nucleotides - k + 1) * (nucleotides >= k)


def covered_length(tokens: Any, k: int) -> Any:
    """Nucleotides covered by ``tokens`` consecutive k-mers: ``tokens + k - 1``, and 0 for no token.

    >>> covered_length(8, 3), covered_length(0, 3)
    (10, 0)
    """
    return (tokens + k - 1) * (tokens > 0)


def _is_bool(values: Any) -> bool:
    return str(values.dtype) in ("bool", "torch.bool")


def tokens_to_nucleotides(values: Any, k: int, axis: int = -1) -> Any:
    """Spread per-token ``values`` onto the nucleotides the tokens cover: ``T`` → ``T + k - 1`` along ``axis``.

    Nucleotide ``i`` gets the sum of its covering tokens, added in token order (booleans: any).
    NumPy arrays and torch tensors (any dtype, autograd included).

    >>> tokens_to_nucleotides(np.array([1.0, 2.0, 4.0]), k=2).tolist()
    [1.0, 3.0, 6.0, 4.0]
    """
    axis = axis % values.ndim
    t = values.shape[axis]
    shape = tuple(values.shape[:axis]) + (t + k - 1,) + tuple(values.shape[axis + 1 :])
    out = values.new_zeros(shape) if hasattr(values, "new_zeros") else np.zeros(shape, dtype=values.dtype)
    index = [slice(None)] * values.ndim
    for j in reversed(range(k)):  # j = k-1 first: nucleotide i adds tokens i-k+1 .. i in that order
        index[axis] = slice(j, j + t)
        if _is_bool(values):
            out[tuple(index)] |= values
        else:
            out[tuple(index)] += values
    return out


def nucleotides_to_tokens(values: Any, k: int, axis: int = -1) -> Any:
    """Gather per-nucleotide ``values`` onto the tokens covering them: ``N`` → ``max(N - k + 1, 0)`` along ``axis``.

    Token ``t`` gets the sum of nucleotides ``t .. t+k-1`` (booleans: any), e.g. whether it
    covers a masked nucleotide.

    >>> nucleotides_to_tokens(np.array([False, False, True, False]), k=2).tolist()
    [False, True, True]
    """
    axis = axis % values.ndim
    t = max(values.shape[axis] - k + 1, 0)
    shape = tuple(values.shape[:axis]) + (t,) + tuple(values.shape[axis + 1 :])
    out = values.new_zeros(shape) if hasattr(values, "new_zeros") else np.zeros(shape, dtype=values.dtype)
    index = [slice(None)] * values.ndim
    for j in range(k):
        index[axis] = slice(j, j + t)
        if _is_bool(values):
            out |= values[tuple(index)]
        else:
            out += values[tuple(index)]
    return out


def coverage_matrix(n_tokens: int, k: int) -> np.ndarray:
    """``(N, T)`` matrix averaging token values onto nucleotides (row i: 1/c over the c
    k-mers covering nucleotide i); the identity for k = 1.

    >>> coverage_matrix(2, 2).tolist()
    [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    """
    m = tokens_to_nucleotides(np.eye(n_tokens), k, axis=0)
    return m / m.sum(axis=1, keepdims=True)
