"""Tiny models and small real corpora for the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

#: a SpliceBERT-shaped model small enough for a few CPU steps per test
TINY = {"variant": "splicebert.510", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 32}  # fmt: skip
TINY_ARG = ",".join(f"{k}={v}" for k, v in TINY.items())


@pytest.fixture(scope="session")
def chr22_corpus(tmp_path_factory, chr22_block) -> tuple[Path, Path]:
    """(train, held-out) FASTA files cut from the real chr22 block."""
    folder = tmp_path_factory.mktemp("chr22_corpus")
    train, held = folder / "train.fa", folder / "eval.fa"
    train.write_text("".join(f">t{i}\n{chr22_block[i * 50_000 : i * 50_000 + 4_000]}\n" for i in range(4)))
    held.write_text(f">e0\n{chr22_block[700_000:701_000]}\n")
    return train, held
