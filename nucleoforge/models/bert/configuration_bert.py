"""Configuration shared by the BERT-family nucleotide models (SpliceBERT, 3UTRBERT, RNAErnie)."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from nucleoforge.errors import NucleoforgeError

PROBLEM_TYPES = ("binary", "multiclass", "multilabel", "regression")
_ACTIVATIONS = ("gelu", "relu", "gelu_new", "silu", "tanh")


class NucleotideBertConfig(PretrainedConfig):
    r"""Configuration of the one BERT-family encoder; each model subclasses it with its defaults.

    Args:
        vocab_size: tokens in the vocabulary (the tokenizer's ``len``).
        k: k-mer size of the vocabulary (1 = single nucleotides). Token and contact heads map
            k-mer states back to nucleotide resolution with it.
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: encoder shape.
        hidden_act: activation of the feed-forward blocks and of the MLM transform
            (``gelu`` for SpliceBERT/3UTRBERT, ``relu`` for RNAErnie).
        hidden_dropout_prob, attention_probs_dropout_prob: dropout rates.
        max_position_embeddings: learned absolute positions (tokens, specials included).
        type_vocab_size: token-type (segment) embeddings.
        layer_norm_eps: epsilon of every LayerNorm.
        initializer_range: std of the normal initialisation.
        pad_token_id, cls_token_id, sep_token_id, mask_token_id: special-token ids (the same in
            every original vocabulary: 0, 2, 3, 4).
        problem_type: ``binary``, ``multiclass``, ``multilabel`` or ``regression`` for the
            prediction heads; ``None`` infers it from ``num_labels`` and the label dtype.
        head_dropout: dropout in the prediction heads (``None`` = ``hidden_dropout_prob``).
        pooling: sequence-head pooling, ``cls`` (the pooler over [CLS]) or ``mean`` (nucleotides).
        contact_rank: rank of the low-rank bilinear contact head (never L×L×hidden).

    >>> NucleotideBertConfig(hidden_size=30, num_attention_heads=4)
    Traceback (most recent call last):
    ...
    nucleoforge.errors.NucleoforgeError: hidden_size (30) must be a multiple of num_attention_heads (4)
    """

    model_type = "nucleotide-bert"

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> Any:
        """A ``config.json`` as a config; one written by MultiMolecule (its field names: ``hidden_dropout``,
        ``nmers``, ``bos_token_id`` = ``<cls>`` …) is translated first
        (:func:`nucleoforge.models.bert.multimolecule.config_kwargs`), so ``AutoConfig`` reads it right."""
        from nucleoforge.models.bert import multimolecule

        if multimolecule.is_multimolecule_config(config_dict):
            config_dict = multimolecule.config_kwargs(config_dict)
        return super().from_dict(config_dict, **kwargs)

    def __init__(
        self,
        vocab_size: int = 10,
        k: int = 1,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        layer_norm_eps: float = 1e-12,
        initializer_range: float = 0.02,
        pad_token_id: int = 0,
        cls_token_id: int = 2,
        sep_token_id: int = 3,
        mask_token_id: int = 4,
        problem_type: str | None = None,
        head_dropout: float | None = None,
        pooling: str = "cls",
        contact_rank: int = 64,
        tie_word_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        checks = {
            "vocab_size": vocab_size, "k": k, "hidden_size": hidden_size, "num_hidden_layers": num_hidden_layers,
            "num_attention_heads": num_attention_heads, "intermediate_size": intermediate_size,
            "max_position_embeddings": max_position_embeddings, "type_vocab_size": type_vocab_size,
            "contact_rank": contact_rank,
        }  # fmt: skip
        for name, value in checks.items():
            if not isinstance(value, int) or value < 1:
                raise NucleoforgeError(f"{name} must be a positive integer, got {value!r}")
        if hidden_size % num_attention_heads:
            raise NucleoforgeError(f"hidden_size ({hidden_size}) must be a multiple of num_attention_heads ({num_attention_heads})")
        for name, value in (("hidden_dropout_prob", hidden_dropout_prob), ("attention_probs_dropout_prob", attention_probs_dropout_prob)):
            if not 0.0 <= value < 1.0:
                raise NucleoforgeError(f"{name} must be in [0, 1), got {value!r}")
        if hidden_act not in _ACTIVATIONS:
            raise NucleoforgeError(f"hidden_act must be one of {_ACTIVATIONS}, got {hidden_act!r}")
        if not layer_norm_eps > 0:
            raise NucleoforgeError(f"layer_norm_eps must be positive, got {layer_norm_eps!r}")
        if problem_type is not None and problem_type not in PROBLEM_TYPES:
            raise NucleoforgeError(f"problem_type must be one of {PROBLEM_TYPES} or None, got {problem_type!r}")
        if pooling not in ("cls", "mean"):
            raise NucleoforgeError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        for name, value in (("pad_token_id", pad_token_id), ("cls_token_id", cls_token_id), ("sep_token_id", sep_token_id), ("mask_token_id", mask_token_id)):
            if not 0 <= value < vocab_size:
                raise NucleoforgeError(f"{name} ({value}) must be a token id below vocab_size ({vocab_size})")
        self.vocab_size = vocab_size
        self.k = k
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.cls_token_id = cls_token_id
        self.sep_token_id = sep_token_id
        self.mask_token_id = mask_token_id
        self.head_dropout = head_dropout
        self.pooling = pooling
        self.contact_rank = contact_rank
        self.tie_word_embeddings = tie_word_embeddings  # MLM decoder shares the word embeddings
        super().__init__(pad_token_id=pad_token_id, problem_type=problem_type, **kwargs)
        # transformers' base config only knows its own problem types; keep ours verbatim
        self.problem_type = problem_type

    @property
    def max_nucleotides(self) -> int:
        """Longest sequence (in nucleotides) that fits in the positions with [CLS] and [SEP]."""
        return self.max_position_embeddings - 2 + self.k - 1
