"""``SpliceAiModel``: SpliceAI with MultiMolecule's call shape (its SpliceAI model card).

The card calls ``model(tokenizer(sequence, return_tensors="pt")["input_ids"])`` and reads
``output.logits`` ``(1, L, 3)``. Here the ids are those of :class:`nucleoforge.RnaTokenizer`'s
default vocabulary (MultiMolecule's standard RNA alphabet: ``A C G U`` = 6 7 8 9, ``T`` read as
``U``); the ``<cls>``/``<eos>`` it adds are dropped, every other token (``N``, IUPAC letters,
``<pad>``) is the all-zero input, the ``context`` is padded with zeros (``N``) itself, and
``logits`` is the log of the ensemble's mean probability — so ``logits.softmax(-1)`` gives
SpliceAI's published output back.

>>> from nucleoforge.models.spliceai import SpliceAIConfig
>>> model = SpliceAiModel(SpliceAIConfig(stages=[(1, 11, 1)], channels=4)).eval()
>>> model(torch.tensor([[1, 6, 7, 8, 9, 10, 2]])).logits.shape
torch.Size([1, 5, 3])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput

from nucleoforge.errors import NucleoforgeError
from nucleoforge.models.spliceai.modeling_spliceai import SpliceAIModel

__all__ = ["SpliceAiModel", "SpliceAiOutput"]

#: RnaTokenizer's default ids (MultiMolecule's standard RNA alphabet) of A, C, G, U and of <cls>, <eos>
_BASE_IDS = {6: 0, 7: 1, 8: 2, 9: 3}
_CLS, _EOS = 1, 2


@dataclass
class SpliceAiOutput(ModelOutput):
    """``logits``: ``(B, L, 3)``, the log of the ensemble's mean (neither, acceptor, donor) probability."""

    logits: torch.FloatTensor | None = None


class SpliceAiModel(SpliceAIModel):
    """:class:`SpliceAIModel` taking token ids (see the module docstring); a one-hot ``(B, L +
    context, 4)`` float input is passed to :class:`SpliceAIModel` as it is."""

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,  # type: ignore[override]
                **kwargs) -> SpliceAiOutput:
        if input_ids is not None and input_ids.is_floating_point():
            return super().forward(input_ids, **kwargs)
        if input_ids is None or input_ids.dim() != 2:
            raise NucleoforgeError(f"SpliceAiModel takes token ids (batch, length), got "
                                   f"{None if input_ids is None else tuple(input_ids.shape)}")
        ids = input_ids
        if bool((ids[:, 0] == _CLS).all()):
            ids = ids[:, 1:]
        if ids.shape[1] and bool(((ids == _EOS).sum(1) == 1).all()):  # one <eos> per row (before any padding)
            keep = ids != _EOS
            ids = ids[keep].view(ids.shape[0], -1)
        table = torch.zeros(max(_BASE_IDS) + 1, 4)
        for token, channel in _BASE_IDS.items():
            table[token, channel] = 1.0
        one_hot = torch.where((ids <= max(_BASE_IDS))[..., None], table[ids.clamp(max=max(_BASE_IDS))], torch.zeros(4))
        if attention_mask is not None and attention_mask.shape == input_ids.shape and ids.shape == input_ids.shape:
            one_hot = one_hot * attention_mask[..., None].to(one_hot.dtype)
        flank = torch.zeros(one_hot.shape[0], self.config.context // 2, 4)
        x = torch.cat([flank, one_hot, flank], dim=1)
        probabilities = super().forward(x, **kwargs).probabilities
        return SpliceAiOutput(logits=probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny).log())
