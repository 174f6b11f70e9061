"""Shared machinery of the language-model pipelines: inputs, batching, windows, k-mer maths.

**Batching.** :class:`NucleotidePipeline` runs its own loop instead of transformers' one-item
loop: it takes up to ``buffer_size`` inputs at a time, splits each into model chunks (windows
of long sequences, or the several views a variant needs), sorts the chunks by length
(``bucketing=True``, the default) so that a batch pads only to similar lengths, runs the
model ``batch_size`` chunks at a time, then hands each input's chunk outputs to
``postprocess`` and yields the results **in input order**. With ``bucketing=False`` chunks are
batched in input order and padded to the longest in each batch (the naive way, kept for
benchmarks). Memory is bounded by the buffer, so a FASTA file of any size streams.

**Nucleotide distributions from k-mer predictions.** A k-mer MLM predicts, at token ``t``
(covering nucleotides ``t .. t+k-1``), a distribution over the ``4**k`` k-mers. The
distribution of the base at nucleotide ``i`` is derived in two steps (:func:`base_distributions`):

1. *Per covering k-mer* (``t = i-k+1 .. i``, those inside the sequence; offset ``o = i - t``):
   ``p_t(b) ∝ Σ_{m : m[o] = b, m[j] = x[j+t] for every known j ≠ o} softmax_t(m)``,
   the softmax being over the ``4**k`` nucleotide k-mers only (special tokens excluded).
   Known bases are the unmasked A/C/G/T/U of the input; masked or ambiguous positions
   (``N``) are summed over. This is the k-mer model's conditional probability of base ``b``
   given what it was shown of that k-mer, i.e. it uses only k-mers consistent with the
   unmasked neighbours.
2. *Across covering k-mers*: ``combine="mean"`` (default) averages the up-to-k normalised
   ``p_t`` (a mixture: every covering k-mer is an equally weighted opinion, robust to one
   over-confident k-mer); ``combine="product"`` takes their geometric mean, renormalised
   (a product of experts; sharper).

For single-nucleotide models (k = 1) both steps reduce to the softmax over the four
nucleotide logits at ``i``. The result always sums to 1 over A, C, G, T/U.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import numpy as np
import torch
from transformers import Pipeline

from nucleoforge import registry
from nucleoforge.alphabet import check_nucleotides, encode_bytes
from nucleoforge.errors import NucleoforgeError
from nucleoforge.tokenization import coverage_matrix, covered_length, kmer_count, pad_batch, parse_masks

__all__ = [
    "NucleotidePipeline",
    "base_alphabet",
    "kmer_token_ids",
    "parse_masks",
    "base_codes",
    "base_distributions",
    "coverage_matrix",
    "normalise_input",
    "load_masked_lm",
]


def base_alphabet(tokenizer: Any) -> str:
    """``"ACGT"`` or ``"ACGU"``: the model's four bases in the order used by every output."""
    return "ACG" + tokenizer.fourth_base


def kmer_token_ids(tokenizer: Any) -> np.ndarray:
    """Token id of every nucleotide k-mer, in base-4 order over A, C, G, T/U (first base most
    significant), so a ``(..., 4**k)`` array reshapes to ``(..., 4, ..., 4)`` with axis ``j``
    = base at offset ``j``."""
    vocab = tokenizer.get_vocab()
    return np.array(
        [vocab["".join(p)] for p in itertools.product(base_alphabet(tokenizer), repeat=tokenizer.k)], dtype=np.int64
    )


def base_codes(sequence: str, masked: np.ndarray | None = None) -> np.ndarray:
    """0/1/2/3 for A/C/G/T-or-U (any case), -1 for anything else (``N``, IUPAC) and for the
    positions where the boolean array ``masked`` is true.

    >>> base_codes("acgUN").tolist(), base_codes("ACGT", np.array([0, 1, 0, 0], bool)).tolist()
    ([0, 1, 2, 3, -1], [0, -1, 2, 3])
    """
    codes = encode_bytes(sequence)  # the one letter -> channel table; 4 = not A/C/G/T/U
    codes = np.where(codes == 4, -1, codes)
    if masked is not None:
        codes[np.asarray(masked, dtype=bool)] = -1
    return codes


def check_combine(combine: str) -> str:
    """``combine`` if it names a way to combine covering k-mers (``"mean"``/``"product"``), else ``ValueError``."""
    if combine not in ("mean", "product"):
        raise NucleoforgeError(f"combine must be 'mean' or 'product', got {combine!r}")
    return combine


def base_distributions(
    kmer_probs: np.ndarray,
    known: np.ndarray,
    k: int,
    positions: Sequence[int] | np.ndarray | None = None,
    combine: str = "mean",
) -> np.ndarray:
    """Per-nucleotide A/C/G/T(U) probabilities from per-token k-mer probabilities.

    Args:
        kmer_probs: ``(T, 4**k)`` softmax over the nucleotide k-mers at each of the ``T``
            tokens of one sequence (specials excluded), columns ordered as :func:`kmer_token_ids`.
        known: ``(N,)`` base codes of the input (:func:`base_codes`), ``N = T + k - 1``;
            ``-1`` (masked/unknown) positions are marginalised.
        k: k-mer size.
        positions: nucleotide positions wanted (default: all).
        combine: ``"mean"`` or ``"product"`` — how covering k-mers are combined (module docs).

    Returns ``(len(positions), 4)`` rows summing to 1.

    Token 0 of a 2-mer model puts extra weight on "CG"; nucleotide 0 is masked. Knowing that
    nucleotide 1 is G, only the k-mers "?G" count; not knowing it, all 16 do:

    >>> p = np.full((2, 16), 1 / 16); p[0, 0b0110] += 0.5; p[0] /= p[0].sum()
    >>> base_distributions(p, np.array([-1, 2, 0]), k=2, positions=[0]).round(3).tolist()
    [[0.083, 0.75, 0.083, 0.083]]
    >>> base_distributions(p, np.array([-1, -1, 0]), k=2, positions=[0]).round(3).tolist()
    [[0.167, 0.5, 0.167, 0.167]]
    """
    kmer_probs = np.asarray(kmer_probs, dtype=np.float64)
    n_tokens = kmer_probs.shape[0]
    if kmer_probs.shape[1] != 4**k:
        raise NucleoforgeError(f"expected {4**k} k-mer columns for k={k}, got {kmer_probs.shape[1]}")
    n = covered_length(n_tokens, k)
    if len(known) != n:
        raise NucleoforgeError(f"{n_tokens} tokens of {k}-mers cover {n} nucleotides, but {len(known)} base codes were given")
    check_combine(combine)
    pos = np.arange(n) if positions is None else np.asarray(positions, dtype=np.int64)
    if pos.size and (pos.min() < 0 or pos.max() >= n):
        raise NucleoforgeError(f"positions must lie in 0..{n - 1}")
    if k == 1:
        return kmer_probs[pos] / kmer_probs[pos].sum(axis=1, keepdims=True)
    # allowed[i, b]: base b possible at nucleotide i (one-hot if known, all ones otherwise)
    allowed = np.ones((n, 4))
    is_known = known >= 0
    allowed[is_known] = np.eye(4)[known[is_known]]
    total = np.zeros((len(pos), 4))
    log_total = np.zeros((len(pos), 4))
    count = np.zeros(len(pos))
    for o in range(k):  # offset of the wanted nucleotide inside the covering k-mer
        tokens = pos - o
        ok = (tokens >= 0) & (tokens < n_tokens)
        if not ok.any():
            continue
        t = tokens[ok]
        x = kmer_probs[t].reshape((len(t),) + (4,) * k)
        for j in range(k):
            if j != o:
                shape = [len(t)] + [1] * k
                shape[1 + j] = 4
                x = x * allowed[t + j].reshape(shape)
        p = x.sum(axis=tuple(1 + j for j in range(k) if j != o))
        p = p / p.sum(axis=1, keepdims=True)
        total[ok] += p
        log_total[ok] += np.log(np.clip(p, 1e-300, None))
        count[ok] += 1
    if combine == "mean":
        return total / count[:, None]
    logp = log_total / count[:, None]
    out = np.exp(logp - logp.max(axis=1, keepdims=True))
    return out / out.sum(axis=1, keepdims=True)


def normalise_input(item: Any, index: int) -> dict[str, Any]:
    """A pipeline input as a dict with ``name`` and ``sequence`` (other keys kept).

    Accepts a string, a dict with ``sequence``, a ``(name, sequence)`` pair, or any object
    with ``name`` and ``sequence`` attributes (e.g. :class:`~nucleoforge.io.fasta.FastaRecord`).
    """
    if isinstance(item, str):
        return {"name": f"seq{index}", "sequence": item}
    if isinstance(item, dict):
        if "sequence" not in item:
            raise NucleoforgeError(f"input {index}: a dict input needs a 'sequence' key, got keys {sorted(item)}")
        return {"name": f"seq{index}", **item}
    if isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
        return {"name": item[0], "sequence": item[1]}
    if hasattr(item, "sequence") and hasattr(item, "name"):
        return {"name": item.name, "sequence": item.sequence}
    raise TypeError(f"input {index}: expected a sequence string, a dict with 'sequence', or a (name, sequence) pair, got {type(item).__name__}")


def load_masked_lm(model_dir: str, device: str | None = None, dtype: torch.dtype | None = None) -> tuple[Any, Any]:
    """``AutoModelForMaskedLM`` + ``AutoTokenizer`` from a nucleoforge folder, in eval mode.

    The folder must hold a masked language model of a BERT-family type with all its weights:
    another model type (a SpliceAI folder) or a missing or unexpected weight is a
    :class:`~nucleoforge.io.checkpoints.CheckpointError` naming the folder and its model type
    (:func:`~nucleoforge.io.checkpoints.load_model_folder`), never a model with random weights.
    """
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from nucleoforge.io.checkpoints import CheckpointError, load_model_folder

    registry.register_auto_classes()
    model_dir = registry.locate(model_dir)  # a short name or hub id: the hub cache's folder

    types = [f.model_type for f in registry.families(kind="bert")]
    model = load_model_folder(AutoModelForMaskedLM.from_pretrained, model_dir, model_types=types, what="a masked language model",
                               **({"dtype": dtype} if dtype else {})).eval()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, UnicodeDecodeError) as exc:  # no or unreadable vocab.txt / tokenizer files
        raise CheckpointError(f"{model_dir}: cannot load its tokenizer: {exc}") from None
    if device:
        model.to(device)
    return model, tokenizer


class NucleotidePipeline(Pipeline):
    """Base class: length-bucketed batching of model chunks and windowing of long sequences.

    Subclasses implement ``_sanitize_parameters``, ``preprocess(item, **params) -> job``
    (a dict with ``chunks``: a list of dicts whose ``input_ids``, with [CLS]/[SEP], are what the
    model sees — see :meth:`encode` and :meth:`window_chunks`; masks travel as ids, never as text),
    ``_forward(batch, **params) -> dict`` of batch-first tensors, and
    ``postprocess(job, **params)``, where ``job["outputs"]`` holds one dict per chunk. Keys
    listed in ``_token_outputs`` are cut to the chunk's token count and keys in
    ``_nucleotide_outputs`` to its nucleotide count.

    Call parameters common to every pipeline: ``batch_size`` (chunks per model call, default
    8), ``bucketing`` (sort chunks by length, default ``True``), ``buffer_size`` (inputs
    read ahead, default 256), ``progress`` (tqdm bar, default ``False``).
    """

    _load_tokenizer = True
    _token_outputs: tuple[str, ...] = ()
    _nucleotide_outputs: tuple[str, ...] = ()

    # -------------------------------------------------------------- properties
    @property
    def k(self) -> int:
        return int(getattr(self.model.config, "k", 1))

    @property
    def max_nucleotides(self) -> int:
        """Longest sequence one model call takes (positions minus [CLS]/[SEP], plus k-1)."""
        return int(covered_length(int(self.model.config.max_position_embeddings) - 2, self.k))

    def window_plan(self, length: int, window: int | None, stride: int | None) -> list:
        from nucleoforge.pipelines.windows import plan_windows

        size = window or self.max_nucleotides
        if size > self.max_nucleotides:
            raise NucleoforgeError(f"window={size} exceeds the model's {self.max_nucleotides} nucleotides")
        if size < self.k:
            raise NucleoforgeError(f"window={size} is shorter than k={self.k}")
        return plan_windows(length, size, stride)

    def encode(self, name: str, plain: str, masked: np.ndarray | None = None) -> np.ndarray:
        """Token ids (no special tokens) of a whole input, after checking its letters.

        ``plain`` and the boolean array ``masked`` are as :func:`parse_masks` returns them; the
        tokens covering a masked nucleotide are ``[MASK]``.
        """
        check_nucleotides(plain, name, ignore=masked)
        return self.tokenizer.encode_sequences([plain], errors="replace", masks=[masked])[0]

    def window_chunks(self, name: str, plain: str, masked: np.ndarray | None, window: int | None,
                      stride: int | None) -> list[dict[str, Any]]:
        """One chunk per window of ``plain``: its ``input_ids`` are the whole input's token ids
        (:meth:`encode`) that lie inside the window, between [CLS] and [SEP]."""
        if len(plain) < self.k:
            raise NucleoforgeError(f"sequence {name!r} has {len(plain)} nucleotides, fewer than the model's k={self.k}")
        ids = self.encode(name, plain, masked)
        return [{"input_ids": self.tokenizer.with_special_tokens(ids[w.start : w.start + kmer_count(w.end - w.start, self.k)]),
                 "window": w} for w in self.window_plan(len(plain), window, stride)]

    # -------------------------------------------------------------- calling
    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Run on one input (returns one result) or a list/iterable (returns a list)."""
        single = isinstance(inputs, (str, dict)) or (
            isinstance(inputs, tuple) and len(inputs) == 2 and all(isinstance(x, str) for x in inputs)
        ) or (hasattr(inputs, "sequence") and hasattr(inputs, "name"))
        results = list(self.iter_results([inputs] if single else inputs, **kwargs))
        return results[0] if single else results

    def iter_results(
        self,
        inputs: Iterable[Any],
        *,
        batch_size: int | None = None,
        bucketing: bool = True,
        buffer_size: int = 256,
        progress: bool = False,
        total: int | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Stream results for ``inputs`` (any iterable), in input order."""
        from tqdm.auto import tqdm

        batch_size = batch_size or self._batch_size or 8
        if batch_size < 1 or buffer_size < 1:
            raise NucleoforgeError(f"batch_size and buffer_size must be >= 1, got {batch_size} and {buffer_size}")
        pre, fwd, post = self._sanitize_parameters(**kwargs)
        pre, fwd, post = {**self._preprocess_params, **pre}, {**self._forward_params, **fwd}, {**self._postprocess_params, **post}
        if total is None and hasattr(inputs, "__len__"):
            total = len(inputs)  # type: ignore[arg-type]
        bar = tqdm(total=total, disable=not progress, unit="seq", desc=type(self).__name__.replace("Pipeline", ""))
        source = iter(inputs)
        index = 0
        try:
            while True:
                items = list(islice(source, buffer_size))
                if not items:
                    break
                jobs = [self.preprocess(normalise_input(x, index + i), **pre) for i, x in enumerate(items)]
                index += len(items)
                self._run_chunks(jobs, batch_size, bucketing, fwd, bar)
                for job in jobs:
                    yield self.postprocess(job, **post)
        finally:
            bar.close()

    def _run_chunks(self, jobs: list[dict[str, Any]], batch_size: int, bucketing: bool, fwd: dict[str, Any],
                    bar: Any = None) -> None:
        refs = [(j, c) for j, job in enumerate(jobs) for c in range(len(job["chunks"]))]
        ids = [jobs[j]["chunks"][c]["input_ids"] for j, c in refs]
        order = sorted(range(len(refs)), key=lambda r: -len(ids[r])) if bucketing else list(range(len(refs)))
        left = [len(job["chunks"]) for job in jobs]  # chunks still to run, per input (for the progress bar)
        for job in jobs:
            job["outputs"] = [None] * len(job["chunks"])
        if bar is not None:
            bar.update(sum(1 for n in left if n == 0))
        for b in range(0, len(order), batch_size):
            group = order[b : b + batch_size]
            rows = [ids[r] for r in group]
            out = self.forward(self._collate(rows), **fwd)
            for i, r in enumerate(group):
                n_tok = len(rows[i])
                n_nt = covered_length(n_tok - 2, self.k)
                row: dict[str, Any] = {}
                for key, value in out.items():
                    v = value[i]
                    if key in self._token_outputs:
                        v = v[:n_tok]
                    elif key in self._nucleotide_outputs:
                        v = v[:n_nt]
                    row[key] = v.float().numpy() if v.is_floating_point() else v.numpy()
                j, c = refs[r]
                jobs[j]["outputs"][c] = row
                left[j] -= 1
                if bar is not None and left[j] == 0:
                    bar.update(1)

    def _collate(self, rows: list[np.ndarray]) -> dict[str, torch.Tensor]:
        input_ids, mask = pad_batch(rows, int(self.tokenizer.pad_token_id))
        return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}

    def _special_ids(self) -> tuple[int, ...]:
        t = self.tokenizer
        return (int(t.pad_token_id), int(t.cls_token_id), int(t.sep_token_id))

    def _kmer_probs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Softmax over the nucleotide k-mers (single nucleotides for k = 1) at every token."""
        if not hasattr(self, "_kmer_ids"):
            self._kmer_ids = torch.as_tensor(kmer_token_ids(self.tokenizer))
        logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return torch.softmax(logits[..., self._kmer_ids.to(logits.device)].float(), dim=-1)
