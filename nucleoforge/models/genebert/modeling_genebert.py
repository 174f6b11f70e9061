"""GeneBERT models: the shared k-mer BERT encoder + a transformers vision encoder over region matrices.

* :class:`GeneBertModel` — both encoders and their projections into a shared space; returns
  :class:`GeneBertOutput` (CLIP-style: similarity logits in both directions and the
  normalised embeddings; the sequence–region matching loss when ``return_loss=True``).
* :class:`GeneBertForPreTraining` — adds the masked-genome-modelling head (the shared MLM
  head, decoder tied to the k-mer embeddings) and the next-genome-segment head on the pooled
  [CLS]; ``loss = L_mgm + L_ngsp + λ·L_srm``.
* Fine-tuning the sequence encoder alone: :class:`GeneBertSequenceForSequencePrediction`,
  :class:`GeneBertSequenceForTokenPrediction` (and ``…Model``, ``…ForMaskedLM``) are the
  shared BERT-family classes for :class:`GeneBertSequenceConfig`. Their parameter names are
  those of ``GeneBertForPreTraining.bert``/``lm_head``; :meth:`GeneBertPreTrainedModel.save_sequence_model`
  writes that part as a stand-alone folder they load.

**SRM loss and the paper's Eq. 3.** With ``s_ij = e^{τ}·cos(seq_i, reg_j)`` (τ = learnable
``logit_scale``), the default ``infonce`` loss is
``½·[mean_i −log(e^{s_ii}/Σ_j e^{s_ij}) + mean_j −log(e^{s_jj}/Σ_i e^{s_ij})]`` — symmetric
InfoNCE as in CLIP. Eq. 3 of the paper, ``−log(Σ_i E_seq^i·E_reg^i / Σ_ij E_seq^i·E_reg^j)``,
pools the whole batch into one ratio of raw inner products (undefined when they are
negative); exponentiating the scaled similarities gives ``srm_loss="pooled"``,
``−log(Σ_i e^{s_ii} / Σ_ij e^{s_ij})``. Both are minimal when every sequence is most similar
to its own region matrix; InfoNCE additionally requires it row by row and column by column.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers.utils import ModelOutput

from nucleoforge.errors import NucleoforgeError
from nucleoforge.models.bert.modeling_bert import (
    MaskedLMHead,
    NucleotideBertForContactPrediction,
    NucleotideBertForMaskedLM,
    NucleotideBertForSequencePrediction,
    NucleotideBertForTokenPrediction,
    NucleotideBertModel,
    NucleotideBertPreTrainedModel,
)
from nucleoforge.models.genebert.configuration_genebert import GeneBertConfig, GeneBertSequenceConfig
from nucleoforge.tokenization import IGNORE_INDEX


# The stand-alone sequence encoder: the shared BERT-family classes with its config.
class GeneBertSequencePreTrainedModel(NucleotideBertPreTrainedModel):
    config_class = GeneBertSequenceConfig


class GeneBertSequenceModel(NucleotideBertModel):
    config_class = GeneBertSequenceConfig


class GeneBertSequenceForMaskedLM(NucleotideBertForMaskedLM):
    config_class = GeneBertSequenceConfig


class GeneBertSequenceForSequencePrediction(NucleotideBertForSequencePrediction):
    config_class = GeneBertSequenceConfig


class GeneBertSequenceForTokenPrediction(NucleotideBertForTokenPrediction):
    config_class = GeneBertSequenceConfig


class GeneBertSequenceForContactPrediction(NucleotideBertForContactPrediction):
    config_class = GeneBertSequenceConfig


# ---------------------------------------------------------------------------- losses
def contrastive_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each row of a square logit matrix against its diagonal entry."""
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))


def srm_infonce_loss(logits_per_sequence: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE: mean of the sequence→region and region→sequence cross-entropies.

    >>> round(float(srm_infonce_loss(torch.zeros(4, 4))), 4) == round(math.log(4), 4)
    True
    """
    return 0.5 * (contrastive_loss(logits_per_sequence) + contrastive_loss(logits_per_sequence.t()))


def gathered_infonce_loss(sequence_embeds: torch.Tensor, region_embeds: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE with every rank's pairs as negatives (``torch.distributed``, any backend).

    Each rank scores its own rows against the embeddings of all ranks (gathered with
    ``torch.distributed.nn.functional.all_gather``, which passes gradients back to their rank),
    so the contrastive batch is the global one: the mean of the ranks' losses, and the
    rank-averaged gradients (what DDP computes), equal one process's on the whole batch. Every
    rank must hold the same number of rows.
    """
    import torch.distributed as dist
    from torch.distributed.nn.functional import all_gather

    b = sequence_embeds.shape[0]
    sizes = [torch.zeros(1, dtype=torch.long, device=sequence_embeds.device) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([b], device=sequence_embeds.device))
    if any(int(n) != b for n in sizes):
        raise NucleoforgeError(f"the SRM all-gather needs equal per-rank batches, got {[int(n) for n in sizes]}")
    seq_all, reg_all = torch.cat(all_gather(sequence_embeds)), torch.cat(all_gather(region_embeds))
    targets = dist.get_rank() * b + torch.arange(b, device=sequence_embeds.device)
    return 0.5 * (F.cross_entropy(scale * sequence_embeds @ reg_all.t(), targets)
                  + F.cross_entropy(scale * region_embeds @ seq_all.t(), targets))


def srm_pooled_loss(logits_per_sequence: torch.Tensor) -> torch.Tensor:
    """The paper's Eq. 3 on exponentiated logits: ``−log(Σ_i e^{s_ii} / Σ_ij e^{s_ij})``."""
    return torch.logsumexp(logits_per_sequence.flatten(), 0) - torch.logsumexp(logits_per_sequence.diagonal(), 0)


# ---------------------------------------------------------------------------- outputs
@dataclass
class GeneBertOutput(ModelOutput):
    """CLIP-style output of :class:`GeneBertModel`.

    loss: sequence–region matching loss (``return_loss=True``).
    logits_per_sequence: ``(B, B)`` scaled cosine similarities, row = sequence.
    logits_per_region: ``(B, B)`` its transpose, row = region matrix.
    sequence_embeds, region_embeds: ``(B, projection_dim)`` L2-normalised projections.
    sequence_last_hidden_state: ``(B, T, H)``; sequence_pooled: ``(B, H)`` pooled [CLS];
    region_pooled: ``(B, H_region)`` the region encoder's pooled output.
    """

    loss: torch.Tensor | None = None
    logits_per_sequence: torch.Tensor | None = None
    logits_per_region: torch.Tensor | None = None
    sequence_embeds: torch.Tensor | None = None
    region_embeds: torch.Tensor | None = None
    sequence_last_hidden_state: torch.Tensor | None = None
    sequence_pooled: torch.Tensor | None = None
    region_pooled: torch.Tensor | None = None


@dataclass
class GeneBertForPreTrainingOutput(GeneBertOutput):
    """Output of :class:`GeneBertForPreTraining` (adds to :class:`GeneBertOutput`).

    loss: ``mgm_loss + ngsp_loss + srm_weight · srm_loss`` over the terms whose labels were given.
    mgm_loss, ngsp_loss, srm_loss: the three terms (``None`` when not computed).
    mgm_logits: ``(M, vocab)`` k-mer logits at the M masked positions (``labels != -100``,
        row-major), or ``(B, T, vocab)`` when no labels are given.
    ngsp_logits: ``(B, 2)``; class 0 = the second segment follows the first, 1 = random.
    """

    mgm_loss: torch.Tensor | None = None
    ngsp_loss: torch.Tensor | None = None
    srm_loss: torch.Tensor | None = None
    mgm_logits: torch.Tensor | None = None
    ngsp_logits: torch.Tensor | None = None


# ---------------------------------------------------------------------------- models
class GeneBertPreTrainedModel(PreTrainedModel):
    """Initialisation, attention declarations and the two encoders' construction."""

    config_class = GeneBertConfig
    config: GeneBertConfig
    base_model_prefix = "genebert"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["Layer"]

    def _build_encoders(self, config: GeneBertConfig, with_region: bool = True) -> None:
        self.bert = NucleotideBertModel(config.sequence_config, add_pooling_layer=True)
        self.region_model = AutoModel.from_config(config.region_config) if with_region else None
        self.sequence_projection = nn.Linear(config.sequence_config.hidden_size, config.projection_dim, bias=False)
        region_hidden = _region_hidden_size(config.region_config)
        self.region_projection = nn.Linear(region_hidden, config.projection_dim, bias=False)
        scale = torch.tensor(config.logit_scale_init_value)
        if config.learnable_temperature:
            self.logit_scale = nn.Parameter(scale)
        else:
            self.register_buffer("logit_scale", scale, persistent=True)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, MaskedLMHead) and not getattr(module.bias, "_is_hf_initialized", False):
            module.bias.zero_()
        if module is self and isinstance(getattr(self, "logit_scale", None), torch.Tensor):
            self.logit_scale.fill_(self.config.logit_scale_init_value)

    # ------------------------------------------------------------------ encoders
    def region_pixels(self, region_values: torch.Tensor) -> torch.Tensor:
        """Resize ``(B, G, n_TF)`` region matrices to the encoder's ``(B, C, H, W)`` image."""
        if region_values.dim() != 3:
            raise NucleoforgeError(f"region_values must be (batch, group_size, n_TF), got shape {tuple(region_values.shape)}")
        image = region_values[:, None].to(self.region_projection.weight.dtype)
        mode = self.config.region_interpolation
        kwargs = {"align_corners": False} if mode == "bilinear" else {}
        image = F.interpolate(image, size=self.config.region_image_size, mode=mode, **kwargs)
        return image.expand(-1, self.config.region_config.num_channels, -1, -1)

    def encode_sequence(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, **kwargs):
        """The shared encoder's output (``last_hidden_state``, ``pooler_output`` = pooled [CLS])."""
        return self.bert(input_ids, attention_mask, token_type_ids, position_ids, **kwargs)

    def encode_region(self, region_values: torch.Tensor) -> torch.Tensor:
        """Pooled region-encoder features ``(B, H_region)``."""
        if self.region_model is None:
            raise NucleoforgeError("this model was built without a region encoder")
        out = self.region_model(pixel_values=self.region_pixels(region_values))
        pooled = getattr(out, "pooler_output", None)
        return pooled if pooled is not None else out.last_hidden_state[:, 0]

    def get_sequence_features(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """Projected (not normalised) sequence embeddings ``(B, projection_dim)``."""
        return self.sequence_projection(self.encode_sequence(input_ids, attention_mask, token_type_ids).pooler_output)

    def get_region_features(self, region_values: torch.Tensor) -> torch.Tensor:
        """Projected (not normalised) region embeddings ``(B, projection_dim)``."""
        return self.region_projection(self.encode_region(region_values))

    def _match(self, pooled_sequence: torch.Tensor, region_values: torch.Tensor):
        region_pooled = self.encode_region(region_values)
        seq = F.normalize(self.sequence_projection(pooled_sequence), dim=-1)
        reg = F.normalize(self.region_projection(region_pooled), dim=-1)
        logits = self.logit_scale.exp() * seq @ reg.t()
        return logits, seq, reg, region_pooled

    def _srm_loss(self, logits: torch.Tensor, seq: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
        if self.config.srm_loss == "pooled":
            return srm_pooled_loss(logits)  # one ratio per batch: local to each rank
        if self.training and self.config.srm_gather and _distributed():
            return gathered_infonce_loss(seq, reg, self.logit_scale.exp())
        return srm_infonce_loss(logits)

    # ------------------------------------------------------------------ export
    def save_sequence_model(self, save_directory: str | os.PathLike, tokenizer=None) -> None:
        """Write the sequence encoder (and the MLM head when present) as a stand-alone
        :class:`GeneBertSequenceForMaskedLM` folder, loadable by the ``GeneBertSequence*``
        classes and the Auto classes (e.g. for fine-tuning the sequence encoder alone)."""
        target = GeneBertSequenceForMaskedLM(self.config.sequence_config)
        state = {f"bert.{k}": v for k, v in self.bert.state_dict().items() if not k.startswith("pooler.")}
        lm_head = getattr(self, "lm_head", None)
        if lm_head is not None:
            state.update({f"lm_head.{k}": v for k, v in lm_head.state_dict().items()})
        missing, unexpected = target.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("lm_head.") or lm_head is not None]
        if unexpected or [k for k in missing if k != "lm_head.decoder.weight"]:
            raise RuntimeError(f"sequence export mismatch: missing {missing}, unexpected {unexpected}")
        target.tie_weights()
        target.save_pretrained(save_directory)
        # keep the pooler for sequence heads that pool [CLS]
        pooler = {f"bert.pooler.{k}": v.detach().clone() for k, v in self.bert.pooler.state_dict().items()}
        from safetensors.torch import load_file, save_file

        path = os.path.join(save_directory, "model.safetensors")
        weights = load_file(path)
        weights.update({k: v.contiguous() for k, v in pooler.items()})
        save_file(weights, path, metadata={"format": "pt"})
        if tokenizer is not None:
            tokenizer.save_pretrained(save_directory)


def _distributed() -> bool:
    """True under an initialised ``torch.distributed`` group of more than one rank."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _region_hidden_size(region_config) -> int:
    # Swin's pooled feature is the last stage's width; ViT/DeiT pool the hidden size.
    if region_config.model_type == "swin":
        return int(region_config.embed_dim * 2 ** (len(region_config.depths) - 1))
    return int(region_config.hidden_size)


class GeneBertModel(GeneBertPreTrainedModel):
    """Sequence encoder + region encoder + projections (no pretraining heads)."""

    def __init__(self, config: GeneBertConfig) -> None:
        super().__init__(config)
        self._build_encoders(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.embeddings.word_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        region_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        return_loss: bool = False,
        **kwargs: object,
    ) -> GeneBertOutput:
        """``input_ids`` ``(B, T)`` k-mer ids; ``region_values`` ``(B, G, n_TF)`` region matrices."""
        if region_values is None:
            raise NucleoforgeError("GeneBertModel needs region_values (batch, group_size, n_TF)")
        seq_out = self.encode_sequence(input_ids, attention_mask, token_type_ids, position_ids)
        logits, seq, reg, region_pooled = self._match(seq_out.pooler_output, region_values)
        return GeneBertOutput(
            loss=self._srm_loss(logits, seq, reg) if return_loss else None,
            logits_per_sequence=logits,
            logits_per_region=logits.t(),
            sequence_embeds=seq,
            region_embeds=reg,
            sequence_last_hidden_state=seq_out.last_hidden_state,
            sequence_pooled=seq_out.pooler_output,
            region_pooled=region_pooled,
        )


class GeneBertForPreTraining(GeneBertPreTrainedModel):
    """GeneBERT with its three pretraining objectives (masked genome modelling, next genome
    segment prediction, sequence–region matching)."""

    _tied_weights_keys = {"lm_head.decoder.weight": "bert.embeddings.word_embeddings.weight"}

    def __init__(self, config: GeneBertConfig) -> None:
        super().__init__(config)
        self._build_encoders(config)
        self.lm_head = MaskedLMHead(config.sequence_config)
        self.ngsp_head = nn.Linear(config.sequence_config.hidden_size, 2)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.embeddings.word_embeddings

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head.decoder = value

    @classmethod
    def from_encoders(
        cls,
        config: GeneBertConfig | None = None,
        sequence_path: str | os.PathLike | None = None,
        region_path: str | os.PathLike | None = None,
        **config_kwargs: object,
    ) -> GeneBertForPreTraining:
        """A fresh model whose encoders start from local pretrained folders.

        ``region_path``: a transformers Swin/ViT/DeiT folder (e.g. an ImageNet checkpoint
        saved with ``save_pretrained``); its config replaces ``region_config``.
        ``sequence_path``: a BERT-family folder with a compatible shape (e.g. one written by
        :meth:`save_sequence_model`); its config replaces ``sequence_config``.
        """
        region = AutoModel.from_pretrained(region_path) if region_path is not None else None
        sequence = GeneBertSequenceModel.from_pretrained(sequence_path) if sequence_path is not None else None
        if config is None:
            config = GeneBertConfig(**config_kwargs)
        if region is not None:
            config.region_config = region.config
        if sequence is not None:
            config.sequence_config = GeneBertSequenceConfig(**sequence.config.to_dict())
        model = cls(config)
        if region is not None:
            model.region_model.load_state_dict(region.state_dict())
        if sequence is not None:
            missing, unexpected = model.bert.load_state_dict(sequence.state_dict(), strict=False)
            if unexpected or [k for k in missing if not k.startswith("pooler.")]:
                raise NucleoforgeError(f"{sequence_path}: encoder weights do not fit (missing {missing}, unexpected {unexpected})")
        return model

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        region_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        next_sentence_label: torch.Tensor | None = None,
        return_loss: bool | None = None,
        **kwargs: object,
    ) -> GeneBertForPreTrainingOutput:
        """Args:
        input_ids: ``(B, T)`` ``[CLS] segment A [SEP] segment B [SEP]`` with masked k-mers.
        region_values: ``(B, G, n_TF)`` region matrices of the same regions as the sequence.
        token_type_ids: 0 for segment A (and [CLS], first [SEP]), 1 for segment B.
        labels: ``(B, T)`` original k-mer ids at masked positions, -100 elsewhere.
        next_sentence_label: ``(B,)`` 0 = B follows A in the same cell type, 1 = random B.
        return_loss: compute the SRM loss (default: whenever ``region_values`` is given and
            ``srm_weight > 0``).
        """
        seq_out = self.encode_sequence(input_ids, attention_mask, token_type_ids, position_ids)
        hidden = seq_out.last_hidden_state
        mgm_loss = mgm_logits = None
        if labels is not None:
            masked = labels != IGNORE_INDEX
            mgm_logits = self.lm_head(hidden[masked])
            if mgm_logits.shape[0]:
                mgm_loss = F.cross_entropy(mgm_logits.float(), labels[masked])
            else:
                mgm_loss = hidden.sum() * 0.0  # nothing masked: a zero that keeps the graph
        else:
            mgm_logits = self.lm_head(hidden)
        ngsp_logits = self.ngsp_head(seq_out.pooler_output)
        ngsp_loss = F.cross_entropy(ngsp_logits.float(), next_sentence_label.view(-1)) if next_sentence_label is not None else None

        use_regions = region_values is not None and (return_loss is not False) and self.config.srm_weight > 0
        if return_loss and region_values is None:
            raise NucleoforgeError("return_loss=True needs region_values for the sequence-region matching loss")
        logits = seq = reg = region_pooled = srm_loss = None
        if use_regions or (region_values is not None and return_loss is False):
            logits, seq, reg, region_pooled = self._match(seq_out.pooler_output, region_values)
            if use_regions:
                srm_loss = self._srm_loss(logits, seq, reg)

        terms = [t for t in (mgm_loss,) if t is not None]
        if ngsp_loss is not None and self.config.ngsp_weight > 0:
            terms.append(self.config.ngsp_weight * ngsp_loss if self.config.ngsp_weight != 1 else ngsp_loss)
        if srm_loss is not None:
            terms.append(self.config.srm_weight * srm_loss)
        loss = torch.stack(terms).sum() if terms else None
        return GeneBertForPreTrainingOutput(
            loss=loss,
            logits_per_sequence=logits,
            logits_per_region=None if logits is None else logits.t(),
            sequence_embeds=seq,
            region_embeds=reg,
            sequence_last_hidden_state=hidden,
            sequence_pooled=seq_out.pooler_output,
            region_pooled=region_pooled,
            mgm_loss=mgm_loss,
            ngsp_loss=ngsp_loss,
            srm_loss=srm_loss,
            mgm_logits=mgm_logits,
            ngsp_logits=ngsp_logits,
        )


#: names the issue uses for fine-tuning the sequence encoder alone
GeneBertForSequencePrediction = GeneBertSequenceForSequencePrediction
GeneBertForTokenPrediction = GeneBertSequenceForTokenPrediction
