"""The one BERT-family encoder behind SpliceBERT, 3UTRBERT and RNAErnie.

Post-LN transformer: word + learned absolute position + token-type embeddings → LayerNorm →
N × [self-attention → add & LayerNorm → feed-forward → add & LayerNorm]; pooler (dense+tanh
over [CLS]); MLM head (dense → activation → LayerNorm → decoder tied to the word embeddings
+ bias). Attention goes through transformers' ``ALL_ATTENTION_FUNCTIONS`` (SDPA by default,
the in-file eager function otherwise).

Position ids follow the attention mask (the first real token is position 0), so a sequence
gives the same outputs alone and inside a left- or right-padded batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput

from nucleoforge.errors import NucleoforgeError
from nucleoforge.heads import (
    ContactPredictionHead,
    PredictionHead,
    nucleotide_states,
    prediction_loss,
)
from nucleoforge.models.bert.configuration_bert import NucleotideBertConfig
from nucleoforge.tokenization import IGNORE_INDEX


# ---------------------------------------------------------------------------- outputs
@dataclass
class EncoderOutput(ModelOutput):
    """Encoder output.

    last_hidden_state: ``(B, T, H)`` token states. pooler_output: ``(B, H)`` pooled [CLS]
    (``None`` without a pooler). hidden_states: embeddings + every layer, each ``(B, T, H)``.
    attentions: every layer's ``(B, heads, T, T)`` weights (computed eagerly when asked).
    """

    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class MaskedLMOutput(ModelOutput):
    """loss: MLM cross-entropy over labels != -100. logits: ``(B, T, vocab)``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class PredictionOutput(ModelOutput):
    """Head output.

    logits: sequence ``(B, num_labels)``; token ``(B, N, num_labels)``; contact
    ``(B, N, N, num_labels)`` with N nucleotides. nucleotide_mask: ``(B, N)`` real positions
    (token and contact heads).
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    nucleotide_mask: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


# ---------------------------------------------------------------------------- building blocks
def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain softmax attention; ``attention_mask`` is additive ``(B, 1, 1, T)``."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


class Embeddings(nn.Module):
    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.max_positions = config.max_position_embeddings

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if int(position_ids.max()) >= self.max_positions:
            raise NucleoforgeError(
                f"input of {int(position_ids.max()) + 1} tokens exceeds the model's {self.max_positions} positions; "
                "truncate it or use a windowed pipeline for long sequences"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(position_ids)
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        x = x + self.position_embeddings(position_ids) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.layer_norm(x))


class SelfAttention(nn.Module):
    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = False
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = config.attention_probs_dropout_prob

    def forward(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor | None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        shape = (*hidden.shape[:-1], self.num_heads, self.head_dim)
        q = self.query(hidden).view(shape).transpose(1, 2)
        k = self.key(hidden).view(shape).transpose(1, 2)
        v = self.value(hidden).view(shape).transpose(1, 2)
        implementation = self.config._attn_implementation or "sdpa"
        attention: Callable = eager_attention_forward
        if implementation != "eager" and not output_attentions:
            attention = ALL_ATTENTION_FUNCTIONS[implementation]
        out, weights = attention(
            self, q, k, v, attention_mask, dropout=self.dropout if self.training else 0.0, scaling=self.scaling
        )
        return out.reshape(*hidden.shape[:-1], -1), (weights if output_attentions else None)


class Layer(GradientCheckpointingLayer):
    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(config)
        self.attention_output = nn.Linear(config.hidden_size, config.hidden_size)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = ACT2FN[config.hidden_act]
        self.output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden, attention_mask, output_attentions)
        hidden = self.attention_norm(hidden + self.dropout(self.attention_output(attended)))
        ffn = self.output(self.activation(self.intermediate(hidden)))
        return self.output_norm(hidden + self.dropout(ffn)), weights


class Pooler(nn.Module):
    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor, first_index: torch.Tensor) -> torch.Tensor:
        first = hidden[torch.arange(hidden.shape[0], device=hidden.device), first_index]
        return torch.tanh(self.dense(first))


class MaskedLMHead(nn.Module):
    """dense → activation → LayerNorm → decoder (weight tied to the word embeddings) + bias."""

    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = ACT2FN[config.hidden_act]
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(self.activation(self.dense(hidden)))) + self.bias


# ---------------------------------------------------------------------------- models
class NucleotideBertPreTrainedModel(PreTrainedModel):
    """Weight initialisation and attention declarations shared by every BERT-family model."""

    config_class = NucleotideBertConfig
    config: NucleotideBertConfig
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _no_split_modules = ["Layer"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, MaskedLMHead):
            module.bias.zero_() if not getattr(module.bias, "_is_hf_initialized", False) else None
        elif isinstance(module, ContactPredictionHead):
            module.bias.zero_() if not getattr(module.bias, "_is_hf_initialized", False) else None

    def _special_ids(self) -> tuple[int, ...]:
        c = self.config
        return (c.pad_token_id, c.cls_token_id, c.sep_token_id)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):  # type: ignore[override]
        """Load strictly, through the Auto classes too: every encoder weight must come from the
        checkpoint and every weight of the checkpoint must be used
        (:func:`~nucleoforge.io.checkpoints.load_model_folder`); only a prediction head (or pooler)
        the checkpoint never had starts new — training a new head on a loaded encoder. A folder
        written by MultiMolecule (``multimolecule/splicebert`` and the like) is read as it is
        (:mod:`nucleoforge.models.bert.multimolecule`). A name that is no local folder resolves by
        :func:`nucleoforge.registry.locate` (``splicebert`` → ``multimolecule/splicebert`` in the
        Hugging Face cache, ``revision=`` pinned). ``output_loading_info=True`` returns
        transformers' unchecked ``(model, info)``.
        """
        from pathlib import Path

        from nucleoforge import registry
        from nucleoforge.models.bert import multimolecule

        name = str(pretrained_model_name_or_path)
        if not Path(name).is_dir():
            # a short name (splicebert) or hub id: the one resolution rule, through huggingface_hub's cache
            pretrained_model_name_or_path = name = registry.locate(name, kwargs.get("revision"),
                                                                   bool(kwargs.get("local_files_only")))
        from nucleoforge.io.checkpoints import read_folder_config

        config = read_folder_config(name) if Path(name).is_dir() else None
        if config is not None and multimolecule.is_multimolecule_config(config):
            if args:
                raise NucleoforgeError(f"{cls.__name__}.from_pretrained: positional model arguments are not "
                                       "supported for MultiMolecule folders")
            info = kwargs.pop("output_loading_info", False)
            model = multimolecule.load_into(cls, name, **kwargs)
            from nucleoforge.io.checkpoints import no_loading_problems

            return (model, no_loading_problems()) if info else model
        if kwargs.get("output_loading_info"):
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        from nucleoforge.io.checkpoints import load_model_folder

        load = super().from_pretrained
        model_type = getattr(cls.config_class, "model_type", "")
        types = [model_type] if model_type != NucleotideBertConfig.model_type else ["splicebert", "utrbert", "rnaernie"]
        return load_model_folder(lambda p, **kw: load(p, *args, **kw), pretrained_model_name_or_path, model_types=types,
                                 what=f"a {cls.__name__} checkpoint", allow_missing=cls._new_modules(), **kwargs)

    @classmethod
    def _new_modules(cls) -> tuple[str, ...]:
        """Name prefixes a checkpoint may lack (new, initialised): the task head and the pooler."""
        return ("lm_head.", "head.", "bert.pooler.", "pooler.")


class NucleotideBertModel(NucleotideBertPreTrainedModel):
    """The bare encoder. ``forward`` returns :class:`EncoderOutput`."""

    def __init__(self, config: NucleotideBertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList([Layer(config) for _ in range(config.num_hidden_layers)])
        self.pooler = Pooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: object,
    ) -> EncoderOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise NucleoforgeError("pass exactly one of input_ids or inputs_embeds")
        shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:-1]
        device = input_ids.device if input_ids is not None else inputs_embeds.device
        if attention_mask is None:
            attention_mask = (
                (input_ids != self.config.pad_token_id).long() if input_ids is not None else torch.ones(shape, dtype=torch.long, device=device)
            )
        if position_ids is None:
            position_ids = (torch.cumsum(attention_mask.long(), dim=1) - 1).clamp(min=0)
        hidden = self.embeddings(input_ids, position_ids, token_type_ids, inputs_embeds)
        additive = None
        if not bool(attention_mask.all()):
            additive = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        all_hidden: list[torch.Tensor] = [hidden] if output_hidden_states else []
        all_attn: list[torch.Tensor] = []
        for layer in self.layers:
            hidden, weights = layer(hidden, additive, bool(output_attentions))
            if output_hidden_states:
                all_hidden.append(hidden)
            if output_attentions:
                all_attn.append(weights)
        pooled = None
        if self.pooler is not None:
            first = attention_mask.long().argmax(dim=1)  # first real token ([CLS]) under left padding
            pooled = self.pooler(hidden, first)
        return EncoderOutput(
            last_hidden_state=hidden,
            pooler_output=pooled,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(all_attn) if output_attentions else None,
        )


class NucleotideBertForMaskedLM(NucleotideBertPreTrainedModel):
    """Encoder + MLM head. ``labels``: ``(B, T)`` token ids, -100 where no loss."""

    _tied_weights_keys = {"lm_head.decoder.weight": "bert.embeddings.word_embeddings.weight"}

    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__(config)
        self.bert = NucleotideBertModel(config, add_pooling_layer=False)
        self.lm_head = MaskedLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head.decoder = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: object,
    ) -> MaskedLMOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_attentions, output_hidden_states)
        logits = self.lm_head(out.last_hidden_state)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]).float(), labels.view(-1), ignore_index=IGNORE_INDEX)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


class _PredictionModel(NucleotideBertPreTrainedModel):
    """Shared plumbing of the three prediction-head models."""

    def _head_dropout(self) -> float:
        c = self.config
        return c.hidden_dropout_prob if c.head_dropout is None else c.head_dropout

    def _encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_attentions, output_hidden_states):
        if input_ids is None:
            raise NucleoforgeError(f"{type(self).__name__} needs input_ids (to locate nucleotides)")
        if attention_mask is None:
            attention_mask = (input_ids != self.config.pad_token_id).long()
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_attentions, output_hidden_states)
        return out, attention_mask


class _NucleotidePredictionModel(_PredictionModel):
    """Token and contact models: the head runs on nucleotide-resolution states.

    ``label_axes`` is how many nucleotide axes the labels have (1 token, 2 contact).
    """

    label_axes: int = 1

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, output_attentions=None, output_hidden_states=None, return_dict=None, **kwargs) -> PredictionOutput:  # fmt: skip
        out, attention_mask = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_attentions, output_hidden_states)
        states, mask = nucleotide_states(out.last_hidden_state, input_ids, attention_mask, self.config.k, self._special_ids())
        logits = self.head(states)
        loss = None
        if labels is not None:
            if labels.dim() == self.label_axes and logits.shape[0] == 1:  # one sequence's labels without a batch axis
                labels = labels.unsqueeze(0)
            labels = _fit_labels(labels, mask.shape[1], dims=self.label_axes)
            valid = mask if self.label_axes == 1 else mask[:, :, None] & mask[:, None, :]
            loss = prediction_loss(logits, labels, self.config.problem_type, valid=valid)
        return PredictionOutput(loss=loss, logits=logits, nucleotide_mask=mask, hidden_states=out.hidden_states, attentions=out.attentions)


class NucleotideBertForSequencePrediction(_PredictionModel):
    """Sequence-level classification/regression (pooled [CLS] or mean over nucleotides)."""

    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__(config)
        self.bert = NucleotideBertModel(config, add_pooling_layer=config.pooling == "cls")
        self.head = PredictionHead(config.hidden_size, config.num_labels, self._head_dropout(), config.hidden_act)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, output_attentions=None, output_hidden_states=None, return_dict=None, **kwargs) -> PredictionOutput:  # fmt: skip
        out, attention_mask = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_attentions, output_hidden_states)
        if self.config.pooling == "cls":
            pooled = out.pooler_output
        else:
            states, mask = nucleotide_states(out.last_hidden_state, input_ids, attention_mask, self.config.k, self._special_ids())
            weight = mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * weight).sum(1) / weight.sum(1).clamp(min=1)
        logits = self.head(pooled)
        loss = prediction_loss(logits, labels, self.config.problem_type) if labels is not None else None
        return PredictionOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


class NucleotideBertForTokenPrediction(_NucleotidePredictionModel):
    """Per-nucleotide classification/regression; labels ``(B, N)`` or ``(B, N, num_labels)``."""

    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__(config)
        self.bert = NucleotideBertModel(config, add_pooling_layer=False)
        self.head = PredictionHead(config.hidden_size, config.num_labels, self._head_dropout(), config.hidden_act)
        self.post_init()


class NucleotideBertForContactPrediction(_NucleotidePredictionModel):
    """Nucleotide-pair prediction (e.g. base pairs); labels ``(B, N, N)`` or ``(B, N, N, num_labels)``."""

    label_axes = 2

    def __init__(self, config: NucleotideBertConfig) -> None:
        super().__init__(config)
        self.bert = NucleotideBertModel(config, add_pooling_layer=False)
        self.head = ContactPredictionHead(config.hidden_size, config.num_labels, config.contact_rank, self._head_dropout())
        self.post_init()


def _fit_labels(labels: torch.Tensor, n: int, dims: int) -> torch.Tensor:
    """Crop or pad (with -100) the ``dims`` nucleotide axes of ``labels`` to ``n``."""
    for axis in range(1, 1 + dims):
        size = labels.shape[axis]
        if size > n:
            extra = labels.narrow(axis, n, size - n)
            if bool((extra != IGNORE_INDEX).any()):
                raise NucleoforgeError(
                    f"labels have {size} nucleotide positions but the longest input has {n}; "
                    "labels must be aligned to nucleotides (pad with -100)"
                )
            labels = labels.narrow(axis, 0, n)
        elif size < n:
            pad_shape = list(labels.shape)
            pad_shape[axis] = n - size
            labels = torch.cat([labels, labels.new_full(pad_shape, IGNORE_INDEX)], dim=axis)
    return labels
