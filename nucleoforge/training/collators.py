"""Masked-language-model collators: base (BERT 80/10/10), whole-k-mer, ERNIE span and motif masking.

Every collator works from token ids alone (plus the special-token ids and ``k``), so it serves
any vocabulary: SpliceBERT/RNAErnie single nucleotides, 3UTRBERT/DNABERT/GeneBERT k-mers.

How masking works, for every strategy:

1. A strategy *selects nucleotide positions* (base: each nucleotide with probability ``q``;
   span: contiguous runs of 4–8 nt; motif: whole motif occurrences).
2. Every token that covers a selected nucleotide is masked — for ``k = 1`` that is the
   nucleotide's own token; for k-mers it is all ``k`` overlapping k-mers, so a masked
   nucleotide never leaks through a neighbouring k-mer (DNABERT's ``MASK_LIST``).
3. Of the masked tokens, 80 % become ``[MASK]``, 10 % a random *different* nucleotide token,
   10 % stay unchanged; labels hold the original id on masked tokens and -100 elsewhere.

Only *maskable* tokens (nucleotide tokens: ``A C G T/U`` or pure k-mers) are ever masked or
used as random replacements; ``[PAD] [CLS] [SEP] [UNK] [MASK] N`` and RNAErnie's type tokens
never are. For base masking the per-nucleotide rate is ``q = 1 − (1 − p)^(1/k)``, so each token
is masked with probability exactly ``p`` (``mlm_probability``, 0.15 by default).

Randomness: examples may carry an integer ``"seed"``; when all do, the masks of a batch depend
only on those seeds (exact resumption, any number of workers). Otherwise a seed is drawn from
torch's global generator (which ``transformers.Trainer`` seeds and checkpoints).

>>> from nucleoforge.tokenization import NucleotideTokenizer
>>> tok = NucleotideTokenizer.for_model("splicebert")
>>> collate = BaseMaskingCollator.from_tokenizer(tok, mlm_probability=0.5)
>>> batch = collate([{"input_ids": tok("ACGTACGT")["input_ids"], "seed": 1}, {"input_ids": tok("ACG")["input_ids"], "seed": 2}])
>>> batch["input_ids"].shape, batch["labels"].shape, batch["attention_mask"][1].tolist()
(torch.Size([2, 10]), torch.Size([2, 10]), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
>>> bool((batch["labels"][:, 0] == -100).all())  # [CLS] is never masked
True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from nucleoforge.errors import NucleoforgeError
from nucleoforge.tokenization import IGNORE_INDEX, nucleotides_to_tokens, pad_batch, tokens_to_nucleotides

_NO_BASE = 4  # base code of anything that is not A/C/G/T(U): breaks motif matches


def _maskable_ids_of(tokenizer: Any) -> tuple[list[int], dict[int, str]]:
    """Ids of the pure-nucleotide tokens of ``tokenizer`` (length-k tokens over A/C/G/T/U) and their letters."""
    k = int(tokenizer.k)
    table = {}
    for token, i in tokenizer.get_vocab().items():
        if len(token) == k and set(token) <= set("ACGTU"):
            table[int(i)] = token
    return sorted(table), table


class MaskingCollator:
    """Base class: pads ``input_ids`` and masks tokens covering the nucleotides a strategy selects.

    Args:
        maskable_ids: ids of nucleotide tokens (the only ones masked or used as replacements).
        pad_token_id, mask_token_id: special ids (0 and 4 in every nucleoforge vocabulary).
        k: k-mer size of the vocabulary (1 = single nucleotides).
        mlm_probability: expected fraction of maskable tokens masked (settable between steps,
            e.g. GeneBERT's 15 % then 20 %).
        mask_fraction, random_fraction: of masked tokens, the share set to ``[MASK]`` and to a
            random different nucleotide token (the rest stay unchanged). Defaults 0.8 / 0.1.
        token_letters: id → token string for the maskable ids (needed by motif masking only).
        pad_to_multiple_of: round the padded width up to a multiple of this.
        padding_side: ``right`` (default) or ``left``.
    """

    def __init__(
        self,
        maskable_ids: Iterable[int],
        pad_token_id: int = 0,
        mask_token_id: int = 4,
        k: int = 1,
        mlm_probability: float = 0.15,
        mask_fraction: float = 0.8,
        random_fraction: float = 0.1,
        token_letters: Mapping[int, str] | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str = "right",
    ) -> None:
        self.maskable_ids = np.array(sorted(set(int(i) for i in maskable_ids)), dtype=np.int64)
        if len(self.maskable_ids) < 2:
            raise NucleoforgeError("masking needs at least two maskable (nucleotide) token ids")
        if k < 1:
            raise NucleoforgeError(f"k must be >= 1, got {k}")
        if not 0.0 <= mask_fraction <= 1.0 or not 0.0 <= random_fraction <= 1.0 or mask_fraction + random_fraction > 1.0:
            raise NucleoforgeError(
                f"mask_fraction ({mask_fraction}) and random_fraction ({random_fraction}) must be in [0, 1] and sum to at most 1"
            )
        if padding_side not in ("right", "left"):
            raise NucleoforgeError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        self.pad_token_id = int(pad_token_id)
        self.mask_token_id = int(mask_token_id)
        self.k = int(k)
        self.mlm_probability = mlm_probability
        self.mask_fraction = float(mask_fraction)
        self.random_fraction = float(random_fraction)
        self.token_letters = dict(token_letters or {})
        self.pad_to_multiple_of = pad_to_multiple_of
        self.padding_side = padding_side
        self._is_maskable = np.zeros(int(self.maskable_ids.max()) + 1, dtype=bool)
        self._is_maskable[self.maskable_ids] = True

    @property
    def mlm_probability(self) -> float:
        return self._p

    @mlm_probability.setter
    def mlm_probability(self, value: float) -> None:
        if not 0.0 < value < 1.0:
            raise NucleoforgeError(f"mlm_probability must be in (0, 1), got {value!r}")
        self._p = float(value)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, **kwargs: Any) -> MaskingCollator:
        """Build the collator for a :class:`~nucleoforge.tokenization.NucleotideTokenizer` (ids, k, letters)."""
        ids, letters = _maskable_ids_of(tokenizer)
        kwargs.setdefault("pad_token_id", tokenizer.pad_token_id)
        kwargs.setdefault("mask_token_id", tokenizer.mask_token_id)
        kwargs.setdefault("k", tokenizer.k)
        kwargs.setdefault("token_letters", letters)
        return cls(ids, **kwargs)

    # ------------------------------------------------------------------ public entry point
    def __call__(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        ids, attention = pad_ids(examples, self.pad_token_id, self.pad_to_multiple_of, self.padding_side)
        rng = batch_rng(examples)
        input_ids, labels = self.mask(ids, rng)
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention),
            "labels": torch.from_numpy(labels),
        }

    def mask(self, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Mask a padded ``(B, T)`` id array; returns ``(masked_ids, labels)``."""
        ids = np.asarray(ids, dtype=np.int64)
        maskable = self._maskable(ids)
        content = self._content(ids)
        grid = self._nucleotide_grid(content)
        selected = self.select(ids, maskable, grid, rng) & grid
        masked = self._tokens_covering(selected) & maskable
        return self._replace(ids, masked, rng)

    # ------------------------------------------------------------------ strategy hook
    def select(self, ids: np.ndarray, maskable: np.ndarray, grid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Selected nucleotides on the ``(B, T + k − 1)`` nucleotide grid (see :meth:`_nucleotide_grid`)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def _maskable(self, ids: np.ndarray) -> np.ndarray:
        inside = ids < len(self._is_maskable)
        out = np.zeros(ids.shape, dtype=bool)
        out[inside] = self._is_maskable[ids[inside]]
        return out

    def _content(self, ids: np.ndarray) -> np.ndarray:
        """Tokens that stand for nucleotides (maskable, [UNK]/N k-mers, [MASK]); not [PAD]/[CLS]/[SEP]/type tokens.

        A token is content if it is maskable, or if it lies strictly between maskable tokens of
        the same row (an ``N``/``[UNK]`` inside the sequence keeps the nucleotide coordinates).
        """
        maskable = self._maskable(ids)
        any_row = maskable.any(axis=1)
        t = ids.shape[1]
        first = np.where(any_row, maskable.argmax(axis=1), t)
        last = np.where(any_row, t - 1 - maskable[:, ::-1].argmax(axis=1), -1)
        cols = np.arange(t)[None, :]
        return (cols >= first[:, None]) & (cols <= last[:, None])

    def _nucleotide_grid(self, content: np.ndarray) -> np.ndarray:
        """``(B, T + k − 1)``: nucleotide column ``c`` is covered by tokens ``c − k + 1 … c``.

        Token column ``j`` covers nucleotide columns ``j … j + k − 1``; a column is a real
        nucleotide when some content token covers it.
        """
        return tokens_to_nucleotides(content, self.k)

    def _tokens_covering(self, selected: np.ndarray) -> np.ndarray:
        """Token ``j`` is masked when any nucleotide ``j … j + k − 1`` is selected."""
        return nucleotides_to_tokens(selected, self.k)

    def _replace(self, ids: np.ndarray, masked: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        labels = np.where(masked, ids, IGNORE_INDEX)
        out = ids.copy()
        draw = rng.random(ids.shape)
        to_mask = masked & (draw < self.mask_fraction)
        to_random = masked & (draw >= self.mask_fraction) & (draw < self.mask_fraction + self.random_fraction)
        out[to_mask] = self.mask_token_id
        if to_random.any():
            original = ids[to_random]
            # a uniformly random maskable id different from the original one
            index = np.searchsorted(self.maskable_ids, original)
            r = rng.integers(0, len(self.maskable_ids) - 1, size=len(original))
            r = r + (r >= index)
            out[to_random] = self.maskable_ids[r]
        return out, labels

    def _base_codes(self, ids: np.ndarray, content: np.ndarray) -> np.ndarray:
        """Nucleotide letters on the grid as codes 0–3 (A, C, G, T/U) or 4 (anything else)."""
        if not self.token_letters:
            raise NucleoforgeError("motif masking needs token_letters (build the collator with from_tokenizer)")
        size = max(self.token_letters) + 1
        kmer_codes = np.full((size, self.k), _NO_BASE, dtype=np.int64)
        is_letter = np.zeros(size, dtype=bool)
        for i, token in self.token_letters.items():
            kmer_codes[i] = ["ACGT".index("T" if c == "U" else c) for c in token]
            is_letter[i] = True
        b, t = ids.shape
        grid = np.full((b, t + self.k - 1), _NO_BASE, dtype=np.int64)
        known = content & (ids < size)
        known[known] = is_letter[ids[known]]
        rows, cols = np.nonzero(known)
        for j in range(self.k):  # every covering k-mer agrees, so overlapping writes are equal
            grid[rows, cols + j] = kmer_codes[ids[rows, cols], j]
        return grid


def pad_ids(
    examples: Sequence[Mapping[str, Any]], pad_token_id: int, pad_to_multiple_of: int | None = None, side: str = "right"
) -> tuple[np.ndarray, np.ndarray]:
    """Pad the ``input_ids`` of ``examples`` to one ``(B, T)`` int64 array and its attention mask
    (:func:`~nucleoforge.tokenization.pad_batch`)."""
    return pad_batch([e["input_ids"] for e in examples], pad_token_id, pad_to_multiple_of=pad_to_multiple_of, side=side)


def batch_rng(examples: Sequence[Mapping[str, Any]]) -> np.random.Generator:
    """The generator a batch is masked with: from the examples' ``seed`` when all carry one, else from torch's."""
    seeds = [e.get("seed") for e in examples]
    if all(s is not None for s in seeds):
        return np.random.default_rng([int(s) for s in seeds])
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


# ---------------------------------------------------------------------------- strategies
class BaseMaskingCollator(MaskingCollator):
    """BERT masking (SpliceBERT, RNAErnie base level): each token masked with probability ``p``.

    With a k-mer vocabulary this *is* whole-k-mer masking (see :class:`WholeKmerMaskingCollator`).
    """

    def select(self, ids, maskable, grid, rng):
        return rng.random(grid.shape) < expected_masked_fraction(self.mlm_probability, self.k)


class WholeKmerMaskingCollator(BaseMaskingCollator):
    """Whole-k-mer masking (3UTRBERT/DNABERT, GeneBERT): nucleotides are selected with
    ``q = 1 − (1 − p)^(1/k)`` and every k-mer covering a selected nucleotide is masked, so each
    token is masked with probability ``p`` and no masked nucleotide is visible in an unmasked
    k-mer. For ``k = 3`` a selected nucleotide ``i`` masks tokens ``i−2, i−1, i`` (DNABERT's
    ``MASK_LIST[3] = [-1, 1]`` around the centre ``i−1``)."""


class SpanMaskingCollator(MaskingCollator):
    """ERNIE subsequence-level masking: contiguous spans of ``min_span … max_span`` nucleotides,
    span length ``n`` drawn with probability ∝ 1/n, placed uniformly until about
    ``mlm_probability`` of the row's nucleotides are selected (spans may overlap).
    """

    def __init__(self, *args: Any, min_span: int = 4, max_span: int = 8, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not 1 <= min_span <= max_span:
            raise NucleoforgeError(f"need 1 <= min_span <= max_span, got {min_span}, {max_span}")
        self.min_span, self.max_span = min_span, max_span
        lengths = np.arange(min_span, max_span + 1)
        self.span_lengths = lengths
        self.span_probs = (1.0 / lengths) / (1.0 / lengths).sum()

    def select(self, ids, maskable, grid, rng):
        out = np.zeros(grid.shape, dtype=bool)
        for row in range(grid.shape[0]):
            cols = np.flatnonzero(grid[row])
            if len(cols) == 0:
                continue
            start, n = int(cols[0]), len(cols)
            budget = max(1, int(round(self.mlm_probability * n)))
            chosen = np.zeros(n, dtype=bool)
            count = 0
            while count < budget:
                span = int(min(rng.choice(self.span_lengths, p=self.span_probs), n))
                s = int(rng.integers(0, n - span + 1))
                count += int((~chosen[s : s + span]).sum())
                chosen[s : s + span] = True
            out[row, start : start + n] = chosen
        return out


class AhoCorasick:
    """Linear-time multi-pattern matcher over integer sequences (Aho–Corasick automaton).

    >>> ac = AhoCorasick([[0, 1], [1, 2, 3], [2]])
    >>> sorted(ac.find([0, 1, 2, 3, 2]))
    [(0, 2), (1, 4), (2, 3), (4, 5)]
    """

    def __init__(self, patterns: Iterable[Sequence[int]]) -> None:
        self.goto: list[dict[int, int]] = [{}]
        self.fail: list[int] = [0]
        self.out: list[list[int]] = [[]]  # lengths of the patterns ending at each state
        for pattern in patterns:
            pattern = [int(c) for c in pattern]
            if not pattern:
                raise NucleoforgeError("empty motif")
            state = 0
            for c in pattern:
                nxt = self.goto[state].get(c)
                if nxt is None:
                    nxt = len(self.goto)
                    self.goto[state][c] = nxt
                    self.goto.append({})
                    self.fail.append(0)
                    self.out.append([])
                state = nxt
            if len(pattern) not in self.out[state]:
                self.out[state].append(len(pattern))
        queue = deque(self.goto[0].values())
        while queue:  # breadth-first failure links
            state = queue.popleft()
            for c, nxt in self.goto[state].items():
                queue.append(nxt)
                f = self.fail[state]
                while f and c not in self.goto[f]:
                    f = self.fail[f]
                self.fail[nxt] = self.goto[f].get(c, 0) if self.goto[f].get(c, 0) != nxt else 0
                self.out[nxt] = self.out[nxt] + [m for m in self.out[self.fail[nxt]] if m not in self.out[nxt]]

    def find(self, text: Sequence[int]) -> list[tuple[int, int]]:
        """Every occurrence ``(start, end)`` (end exclusive) of every pattern in ``text``."""
        hits = []
        state = 0
        for i, c in enumerate(text):
            c = int(c)
            while state and c not in self.goto[state]:
                state = self.fail[state]
            state = self.goto[state].get(c, 0)
            for m in self.out[state]:
                hits.append((i + 1 - m, i + 1))
        return hits


class MotifMaskingCollator(MaskingCollator):
    """ERNIE motif-level masking: whole occurrences of user motifs (found with Aho–Corasick),
    taken in random order until about ``mlm_probability`` of the row's nucleotides are
    selected; rows without any motif fall back to base-level masking.

    Args:
        motifs: motif strings over A/C/G/T/U (case-insensitive; T and U are the same base).
    """

    def __init__(self, *args: Any, motifs: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = []
        for i, motif in enumerate(motifs):
            m = motif.strip().upper()
            if not m or set(m) - set("ACGTU"):
                raise NucleoforgeError(f"motif {i} ({motif!r}) must be a non-empty string over A, C, G, T/U")
            codes.append([3 if c == "U" else "ACGT".index(c) for c in m])
        if not codes:
            raise NucleoforgeError("motif masking needs at least one motif")
        self.motifs = codes
        self.matcher = AhoCorasick(codes)

    def select(self, ids, maskable, grid, rng):
        letters = self._base_codes(ids, self._content(ids))
        base = BaseMaskingCollator.select(self, ids, maskable, grid, rng)
        out = np.zeros(grid.shape, dtype=bool)
        for row in range(grid.shape[0]):
            n = int(grid[row].sum())
            hits = self.matcher.find(letters[row]) if n else []
            if not hits:
                out[row] = base[row]
                continue
            budget = max(1, int(round(self.mlm_probability * n)))
            count = 0
            for h in rng.permutation(len(hits)):
                if count >= budget:
                    break
                s, e = hits[h]
                count += int((~out[row, s:e]).sum())
                out[row, s:e] = True
        return out


def build_collator(strategy: str, tokenizer: Any, motifs: Iterable[str] | None = None, **kwargs: Any) -> MaskingCollator:
    """A collator by name: ``base`` / ``kmer`` (the same rule), ``span`` or ``motif``."""
    if strategy in ("base", "kmer", "bert"):
        cls = WholeKmerMaskingCollator if tokenizer.k > 1 else BaseMaskingCollator
        return cls.from_tokenizer(tokenizer, **kwargs)
    if strategy == "span":
        return SpanMaskingCollator.from_tokenizer(tokenizer, **kwargs)
    if strategy == "motif":
        return MotifMaskingCollator.from_tokenizer(tokenizer, motifs=list(motifs or []), **kwargs)
    raise NucleoforgeError(f"unknown masking strategy {strategy!r}; expected base, kmer, span or motif")


def expected_masked_fraction(p: float, k: int) -> float:
    """Per-nucleotide selection rate ``q`` for which a k-mer token is masked with probability ``p``.

    >>> round(expected_masked_fraction(0.15, 3), 6)
    0.052732
    """
    return 1.0 - (1.0 - p) ** (1.0 / k)


__all__ = [
    "IGNORE_INDEX", "MaskingCollator", "BaseMaskingCollator", "WholeKmerMaskingCollator", "SpanMaskingCollator",
    "MotifMaskingCollator", "AhoCorasick", "build_collator", "pad_ids", "batch_rng", "expected_masked_fraction",
]  # fmt: skip

