"""Pretraining and fine-tuning: masking collators and schedules, streaming data, Trainer set-up, metrics.

Heavy pieces (transformers ``Trainer``) are imported by :mod:`nucleoforge.training.pretrain`
and :mod:`nucleoforge.training.finetune`; the collators depend on NumPy, torch and the shared
rules of :mod:`nucleoforge.tokenization` (coverage, padding, ``IGNORE_INDEX``) only.
"""

from nucleoforge.training.collators import (
    AhoCorasick,
    BaseMaskingCollator,
    MaskingCollator,
    MotifMaskingCollator,
    SpanMaskingCollator,
    WholeKmerMaskingCollator,
    build_collator,
)
from nucleoforge.training.schedules import MaskingSchedule, StepMasking, parse_schedule

__all__ = [
    "AhoCorasick", "BaseMaskingCollator", "MaskingCollator", "MaskingSchedule", "MotifMaskingCollator",
    "SpanMaskingCollator", "WholeKmerMaskingCollator", "build_collator", "StepMasking", "parse_schedule",
]  # fmt: skip
