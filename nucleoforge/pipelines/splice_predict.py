"""Per-position SpliceAI predictions for sequences of any length.

The original SpliceAI cuts a sequence into 5,000-nt blocks and runs each block with its own
10,000-nt context, so every position of the context is processed three times. Here a
sequence is cut into long chunks (``chunk_size`` predicted positions each) that carry only the
model's ``flank`` of context on either side, so the overhead is ``context / chunk_size``
instead of 200 %. The numbers are the same: each output depends only on the ``flank``
positions either side of it, and positions beyond the ends of the sequence are N (all-zero
one-hot), exactly as SpliceAI pads them. Chunks are one-hot encoded and predicted one batch at
a time, so memory stays bounded whatever the sequence length.

Minus strand: the chunk's input is reverse-complemented and the output flipped back, so row
``i`` of the result always belongs to position ``i`` of the given (plus-strand) sequence.

>>> import torch
>>> from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
>>> _ = torch.manual_seed(0)
>>> model = SpliceAIModel(SpliceAIConfig(stages=[(1, 3, 2)], channels=4)).eval()
>>> probs = predict_sequence(model, "ACGTNACGGTAAGT", chunk_size=5)
>>> probs.shape, probs.dtype
((14, 3), dtype('float32'))
>>> bool(np.allclose(probs.sum(axis=1), 1.0, atol=1e-6))
True
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from nucleoforge.alphabet import check_nucleotides, one_hot, reverse_complement_one_hot
from nucleoforge.errors import NucleoforgeError

#: Predicted positions per chunk; with the 10k model the context adds 20 % work per chunk.
DEFAULT_CHUNK_SIZE = 50_000


def _model_device_dtype(model: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    param = next(model.parameters())
    return param.device, param.dtype


def predict_flanked(model, onehot: np.ndarray | torch.Tensor, *, calibrated: bool = False) -> np.ndarray:
    """Probabilities ``(B, L, 3)`` float32 for one-hot windows ``(B, L + context, 4)`` that already hold their flanks.

    A thin batched call without gradients; the model runs in eval mode (its previous mode is
    restored afterwards). ``calibrated=True`` applies the model's fitted per-class temperatures
    (``SpliceAIModel.forward(..., calibrated=True)``); every prediction path (``splice``,
    ``variants``, ``evaluate-splice``) passes its ``--calibrated`` through here.
    """
    device, dtype = _model_device_dtype(model)
    x = torch.as_tensor(np.ascontiguousarray(onehot) if isinstance(onehot, np.ndarray) else onehot)
    if x.dim() == 2:
        raise NucleoforgeError(f"predict_flanked expects a batch (B, L + context, 4), got shape {tuple(x.shape)}")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            x = x.to(device=device, dtype=dtype)
            probs = (model(x, calibrated=True) if calibrated else model(x)).probabilities
    finally:
        model.train(was_training)
    return probs.float().cpu().numpy()


def _chunk_input(sequence: str, start: int, end: int, flank: int, strand: str) -> np.ndarray:
    """One-hot ``(end - start + 2 * flank, 4)`` input for predicted positions ``[start, end)``."""
    lo, hi = start - flank, end + flank
    piece = sequence[max(lo, 0) : min(hi, len(sequence))]
    check_nucleotides(piece, offset=max(lo, 0))
    x = np.zeros((hi - lo, 4), dtype=np.float32)  # N (all zeros) beyond the sequence ends
    x[max(lo, 0) - lo : max(lo, 0) - lo + len(piece)] = one_hot(piece)
    return reverse_complement_one_hot(x) if strand == "-" else x


def _batches(starts: list[int], length: int, chunk_size: int, batch_size: int) -> Iterator[list[int]]:
    """Group chunk starts into batches of equal-length chunks (only the last chunk can be shorter)."""
    full = [s for s in starts if s + chunk_size <= length]
    for i in range(0, len(full), batch_size):
        yield full[i : i + batch_size]
    if starts and starts[-1] + chunk_size > length:
        yield [starts[-1]]


def iter_predict(
    model,
    sequence: str,
    *,
    strand: str = "+",
    batch_size: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
    device: str | torch.device | None = None,
    calibrated: bool = False,
) -> Iterator[tuple[int, np.ndarray]]:
    """Stream predictions for ``sequence`` as ``(start, probs)`` with ``probs`` ``(n, 3)`` float32.

    Chunks come in increasing ``start`` order and tile ``[0, len(sequence))``; row ``i`` of a
    chunk is sequence position ``start + i`` (for both strands). At most ``batch_size`` chunks
    of ``chunk_size`` predicted positions (plus the model's context) are held at a time.
    ``device`` moves the model there first; ``calibrated`` see :func:`predict_flanked`.
    """
    if strand not in ("+", "-"):
        raise NucleoforgeError(f"strand must be '+' or '-', got {strand!r}")
    if chunk_size < 1 or batch_size < 1:
        raise NucleoforgeError(f"chunk_size and batch_size must be positive, got {chunk_size} and {batch_size}")
    if device is not None:
        model.to(device)
    flank = model.config.flank
    length = len(sequence)
    starts = list(range(0, length, chunk_size))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=length, unit="nt", unit_scale=True, desc=f"SpliceAI ({strand})")
    try:
        for batch in _batches(starts, length, chunk_size, batch_size):
            ends = [min(s + chunk_size, length) for s in batch]
            x = np.stack([_chunk_input(sequence, s, e, flank, strand) for s, e in zip(batch, ends)])
            probs = predict_flanked(model, x, calibrated=calibrated)
            if strand == "-":
                probs = probs[:, ::-1]
            for s, e, p in zip(batch, ends, probs):
                yield s, np.ascontiguousarray(p[: e - s])
            if bar is not None:
                bar.update(ends[-1] - batch[0])
    finally:
        if bar is not None:
            bar.close()


def predict_sequence(
    model,
    sequence: str,
    *,
    strand: str = "+",
    batch_size: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
    device: str | torch.device | None = None,
    calibrated: bool = False,
) -> np.ndarray:
    """Probabilities ``(len(sequence), 3)`` float32 (neither, acceptor, donor) for every position.

    The ends are padded with N like SpliceAI does; ``strand="-"`` predicts the reverse
    complement and flips the output back (row ``i`` = sequence position ``i``). Letters other
    than A, C, G, T/U (N and IUPAC ambiguity codes) are encoded as unknown (all zeros);
    anything else raises :class:`ValueError` naming its position. ``calibrated=True`` applies
    the model's fitted temperatures (see :func:`predict_flanked`).
    """
    out = np.empty((len(sequence), model.config.num_labels), dtype=np.float32)
    for start, probs in iter_predict(
        model, sequence, strand=strand, batch_size=batch_size, chunk_size=chunk_size, progress=progress, device=device,
        calibrated=calibrated,
    ):
        out[start : start + len(probs)] = probs
    return out


__all__ = ["DEFAULT_CHUNK_SIZE", "iter_predict", "predict_flanked", "predict_sequence"]
