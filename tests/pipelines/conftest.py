"""Tiny random models (saved to a temporary folder) and real sequences for the pipeline tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import DATA


def build_model(kind: str, k: int | None = None, max_positions: int = 130):
    """A tiny randomly initialised MLM and its tokenizer: ``splicebert``, ``utrbert`` (k) or ``rnaernie``."""
    import nucleoforge as nf

    torch.manual_seed(1234)
    shape = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                 max_position_embeddings=max_positions)
    if kind == "splicebert":
        model = nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(**shape))
    elif kind == "utrbert":
        model = nf.UtrBertForMaskedLM(nf.UtrBertConfig(k=k, **shape))
    elif kind == "rnaernie":
        model = nf.RnaErnieForMaskedLM(nf.RnaErnieConfig(**shape))
    else:
        raise ValueError(kind)
    tokenizer = nf.NucleotideTokenizer.for_model(kind, k=k)
    return model.eval(), tokenizer


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory):
    """``model_dir(kind, k=None, max_positions=130) -> Path`` of a saved tiny model (cached)."""
    cache: dict[tuple, Path] = {}

    def make(kind: str, k: int | None = None, max_positions: int = 130) -> Path:
        key = (kind, k, max_positions)
        if key not in cache:
            model, tokenizer = build_model(kind, k, max_positions)
            path = tmp_path_factory.mktemp(f"{kind}{k or ''}_{max_positions}")
            model.save_pretrained(path)
            tokenizer.save_pretrained(path)
            cache[key] = path
        return cache[key]

    return make


@pytest.fixture(scope="session")
def peaks() -> list[tuple[str, str]]:
    """The 100 real 200-bp Oct4 ChIP-seq peaks (test split) as (name, sequence)."""
    from nucleoforge.io.fasta import read_fasta

    return [(r.name, r.sequence) for r in read_fasta(DATA / "oct4_peaks_test.fa")]


@pytest.fixture(scope="session")
def trnas() -> list[tuple[str, str]]:
    """Real tRNAs from the bundled Stockholm file (ungapped)."""
    from nucleoforge.io.stockholm import read_stockholm

    return [(r.name, r.sequence) for r in read_stockholm(DATA / "tRNA1415G.sto.gz")]
