"""Masking that changes with the training step: strategy or rate stages, masked at the step that trains a batch.

:class:`MaskingSchedule` holds the stages (RNAErnie's base → span → motif, SpliceBERT's second
stage, GeneBERT's 15 % → 20 % for the last steps); :func:`parse_schedule` reads them from the
``--schedule`` text. Under a ``transformers.Trainer`` the collator only pads a batch and gives it
a seed (:meth:`MaskingSchedule.defer`), and the :class:`StepMasking` trainer mixin masks it with
the stage of the step that trains it, so a stage starts at exactly its step, also after a resume.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from nucleoforge.errors import NucleoforgeError
from nucleoforge.training.collators import MaskingCollator, batch_rng, build_collator, pad_ids

#: key of the seed a deferred batch is masked with (:meth:`MaskingSchedule.defer`)
MASK_SEED = "mask_seed"


def mask_seed(rng: np.random.Generator) -> torch.Tensor:
    """Four 32-bit words from ``rng``: the seed a deferred batch is masked with."""
    return torch.from_numpy(rng.integers(0, 2**32, size=4, dtype=np.int64))


class MaskingSchedule:
    """Switch masking strategy (or rate) by training step, e.g. RNAErnie's base → span → motif
    stages, or GeneBERT's 15 % then 20 % for the last steps (:meth:`rates`).

    ``stages`` is a list of ``(first_step, collator)``, the first at step 0 and the steps
    increasing. A negative first step counts back from the end of the run: ``(-N, c)`` is used
    for the last ``N`` of ``max_steps`` steps (stages of this kind come last). Under a Trainer
    the collator only pads (:meth:`defer`) and the trainer masks each batch at its step
    (:class:`StepMasking`); on its own the schedule masks like the collator of :attr:`step`
    (``__call__``, :meth:`mask`, ``mlm_probability``; set ``schedule.step = n`` by hand).

    >>> from nucleoforge.tokenization import NucleotideTokenizer
    >>> from nucleoforge.training.collators import BaseMaskingCollator, SpanMaskingCollator
    >>> tok = NucleotideTokenizer.for_model("rnaernie")
    >>> s = MaskingSchedule([(0, BaseMaskingCollator.from_tokenizer(tok)), (100, SpanMaskingCollator.from_tokenizer(tok))])
    >>> type(s.current).__name__; s.step = 150; type(s.current).__name__
    'BaseMaskingCollator'
    'SpanMaskingCollator'
    >>> g = MaskingSchedule.rates(BaseMaskingCollator.from_tokenizer(tok), 0.15, 0.2, final_steps=10)
    >>> [g.rate_at(step, max_steps=60) for step in (0, 49, 50, 59)]
    [0.15, 0.15, 0.2, 0.2]
    """

    def __init__(self, stages: Sequence[tuple[int, MaskingCollator]]) -> None:
        if not stages or stages[0][0] != 0:
            raise NucleoforgeError("a masking schedule needs a first stage starting at step 0")
        steps = [s for s, _ in stages]
        ahead, from_end = [s for s in steps if s >= 0], [s for s in steps if s < 0]
        if ahead + from_end != steps or ahead != sorted(set(ahead)) or from_end != sorted(set(from_end)):
            raise NucleoforgeError(
                f"stage steps must be strictly increasing (negative ones, counted from the end, last), got {steps}"
            )
        self.stages = list(stages)
        self.step = 0
        self.max_steps: int | None = None

    @classmethod
    def rates(cls, collator: MaskingCollator, rate: float, final_rate: float, final_steps: int) -> MaskingSchedule:
        """``collator``'s masking at ``rate``, then at ``final_rate`` for the last ``final_steps``
        steps of the run (GeneBERT: 15 %, then 20 % for the last 20k of 120k steps)."""
        stages = [(0, _at_rate(collator, rate))]
        if final_steps > 0:
            stages.append((-int(final_steps), _at_rate(collator, final_rate)))
        return cls(stages)

    def at(self, step: int, max_steps: int | None = None) -> MaskingCollator:
        """The collator of ``step`` (stages counted from the end need ``max_steps``)."""
        chosen = self.stages[0][1]
        for first, collator in self.stages:
            if first < 0:
                if max_steps is None:
                    continue
                first += max_steps
            if step >= first:
                chosen = collator
        return chosen

    def rate_at(self, step: int, max_steps: int | None = None) -> float:
        """``mlm_probability`` of the collator of ``step``."""
        return self.at(step, max_steps).mlm_probability

    @property
    def current(self) -> MaskingCollator:
        return self.at(self.step, self.max_steps)

    @property
    def mlm_probability(self) -> float:
        return self.current.mlm_probability

    def mask(self, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.current.mask(ids, rng)

    def __call__(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        """A batch masked by the collator of :attr:`step` (for use outside a Trainer; under a
        Trainer use :meth:`defer` with :class:`StepMasking`)."""
        return self.current(examples)

    def defer(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        """The padded batch, not yet masked, with the ``mask_seed`` it will be masked with.

        A Trainer collates batches ahead of the step that trains them (and, after a resume,
        before it restores its state), so a step-dependent masking cannot happen in the collator:
        :class:`StepMasking` masks the batch when its step runs (:meth:`mask_batch`).
        """
        first = self.stages[0][1]
        ids, attention = pad_ids(examples, first.pad_token_id, first.pad_to_multiple_of, first.padding_side)
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(attention),
                MASK_SEED: mask_seed(batch_rng(examples))}  # fmt: skip

    def mask_batch(self, batch: dict[str, torch.Tensor], step: int, max_steps: int | None = None) -> dict[str, torch.Tensor]:
        """Mask a :meth:`defer` batch with the collator of ``step``; ``labels`` added, ``mask_seed`` removed."""
        batch = dict(batch)
        rng = np.random.default_rng(batch.pop(MASK_SEED).cpu().tolist())
        ids = batch["input_ids"]
        masked, labels = self.at(step, max_steps).mask(ids.cpu().numpy(), rng)
        batch["input_ids"] = torch.from_numpy(masked).to(ids.device)
        batch["labels"] = torch.from_numpy(labels).to(ids.device)
        return batch


def _at_rate(collator: MaskingCollator, rate: float) -> MaskingCollator:
    """A copy of ``collator`` masking at ``rate``."""
    out = copy.copy(collator)
    out.mlm_probability = rate
    return out


class StepMasking:
    """Mixin for a ``transformers.Trainer`` whose collator defers masking (:meth:`MaskingSchedule.defer`):
    each batch is masked in ``compute_loss`` by the stage of the step that trains it
    (``state.global_step``, stages from the end need ``state.max_steps``), so the schedule switches
    at exactly its step, and a resumed run masks exactly as the uninterrupted one.

    Set :attr:`masking` to the schedule and call :meth:`mask_scheduled` first in ``compute_loss``.
    """

    masking: MaskingSchedule | None = None

    def mask_scheduled(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.masking is None or MASK_SEED not in inputs:
            return inputs
        state = self.state  # type: ignore[attr-defined]
        return self.masking.mask_batch(inputs, state.global_step, state.max_steps or None)

    def scheduled_rate(self) -> float | None:
        """The masking rate of the step being trained (``None`` without a schedule)."""
        if self.masking is None:
            return None
        state = self.state  # type: ignore[attr-defined]
        return self.masking.rate_at(state.global_step, state.max_steps or None)


def parse_schedule(text: str, tokenizer: Any, motifs: Iterable[str] | None = None, **kwargs: Any) -> MaskingSchedule:
    """``"0:base,1000:span,2000:motif"`` (or ``"0:base@0.15,5000:base@0.2"`` for a rate; a negative
    step counts from the end, ``"0:kmer@0.15,-20000:kmer@0.2"``) → schedule.

    >>> from nucleoforge.tokenization import NucleotideTokenizer
    >>> s = parse_schedule("0:base@0.15,10:base@0.2", NucleotideTokenizer.for_model("dnabert", k=6))
    >>> [(step, type(c).__name__, c.mlm_probability) for step, c in s.stages]
    [(0, 'WholeKmerMaskingCollator', 0.15), (10, 'WholeKmerMaskingCollator', 0.2)]
    """
    motifs = list(motifs or [])
    stages = []
    for part in text.split(","):
        try:
            step_text, spec = part.strip().split(":")
            name, _, rate = spec.partition("@")
            options = dict(kwargs)
            if rate:
                options["mlm_probability"] = float(rate)
            stages.append((int(step_text), build_collator(name.strip(), tokenizer, motifs, **options)))
        except ValueError as exc:
            raise NucleoforgeError(f"bad masking schedule entry {part!r} (expected STEP:STRATEGY[@RATE]): {exc}") from None
    return MaskingSchedule(stages)


__all__ = ["MASK_SEED", "MaskingSchedule", "StepMasking", "mask_seed", "parse_schedule"]
