"""Pretraining and fine-tuning: masking collators, streaming data, Trainer set-up, metrics.

Heavy pieces (transformers ``Trainer``) are imported by :mod:`nucleoforge.training.pretrain`
and :mod:`nucleoforge.training.finetune`; the collators depend on NumPy and torch only.
"""

from nucleoforge.training.collators import (
    AhoCorasick,
    BaseMaskingCollator,
    MaskingCollator,
    MaskingSchedule,
    MotifMaskingCollator,
    SpanMaskingCollator,
    WholeKmerMaskingCollator,
    build_collator,
    masking_schedule_callback,
    parse_schedule,
)

__all__ = [
    "AhoCorasick", "BaseMaskingCollator", "MaskingCollator", "MaskingSchedule", "MotifMaskingCollator",
    "SpanMaskingCollator", "WholeKmerMaskingCollator", "build_collator", "masking_schedule_callback", "parse_schedule",
]  # fmt: skip
