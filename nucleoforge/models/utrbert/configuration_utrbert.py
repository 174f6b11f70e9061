"""3UTRBERT (Yang et al. 2023): 3'UTR MLM on overlapping k-mers (k = 3..6), BERT-base 12 × 768."""

from __future__ import annotations

from typing import Any

from nucleoforge.errors import NucleoforgeError
from nucleoforge.models.bert.configuration_bert import NucleotideBertConfig
from nucleoforge.registry import family

#: the k-mer sizes of the released vocabularies (from the registry)
UTRBERT_KS = family("utrbert").ks


class UtrBertConfig(NucleotideBertConfig):
    """3UTRBERT defaults; the vocabulary size follows k (``4**k + 5``: 69 / 261 / 1029 / 4101), or
    ``5**k + 6`` for MultiMolecule's re-indexed vocabulary (k-mers over ACGUN, its 6 special
    tokens; its config names k ``nmers``).

    >>> UtrBertConfig(k=6).vocab_size
    4101
    >>> UtrBertConfig(nmers=3, vocab_size=131).k
    3
    """

    model_type = "utrbert"

    def __init__(self, k: int | None = None, **kwargs: Any) -> None:
        nmers = kwargs.pop("nmers", None)
        k = k if k is not None else (nmers or 3)
        if k not in UTRBERT_KS:
            raise NucleoforgeError(f"3UTRBERT k must be one of {UTRBERT_KS}, got {k!r}")
        defaults = dict(
            vocab_size=4**k + 5, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, hidden_act="gelu", max_position_embeddings=family("utrbert").positions(), layer_norm_eps=1e-12,
            type_vocab_size=2,
        )  # fmt: skip
        merged = {**defaults, **kwargs}
        if merged["vocab_size"] not in (4**k + 5, 5**k + 6):
            raise NucleoforgeError(f"a {k}-mer 3UTRBERT has vocab_size {4**k + 5} (or {5**k + 6} in MultiMolecule's "
                                   f"vocabulary), got {merged['vocab_size']}")
        super().__init__(k=k, **merged)
