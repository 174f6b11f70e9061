"""SpliceAI in PyTorch: residual dilated-convolution networks and their ensemble.

One *member* is the network of Jaganathan et al. (2019): a 1x1 convolution from the one-hot
input to ``channels``; residual units ``BN -> ReLU -> dilated conv -> BN -> ReLU -> dilated
conv -> add`` (LeakyReLU for OpenSpliceAI's weights: ``config.activation``); a skip sum that
starts with a 1x1 convolution of the trunk input and receives a 1x1 convolution of the trunk at the end of every stage; the skip sum cropped by
``config.flank`` each side; a 1x1 convolution to the 3 classes (neither, acceptor, donor).

Convolutions here are *unpadded* ("valid"): the original pads every convolution ("same") and
crops ``flank`` positions at the end, but the cropped outputs never see that padding (the
receptive field is exactly ``flank`` each side), so computing only the positions that survive
the crop gives the same numbers with less work.

:class:`SpliceAIModel` holds ``config.num_members`` members and averages their softmax
outputs. In eval mode it runs all members at once as grouped convolutions with each
convolution's following BatchNorm folded in; in training mode each member runs as a plain
module so that BatchNorm uses (and updates) its batch statistics.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from nucleoforge import registry
from nucleoforge.errors import NucleoforgeError
from nucleoforge.tokenization import IGNORE_INDEX

from .configuration_spliceai import SpliceAIConfig
from .heads import apply_temperatures, ensemble_log_probabilities, head_outputs, member_probabilities


@dataclass
class SpliceAIOutput(ModelOutput):
    """Output of :class:`SpliceAIModel`.

    Attributes:
        loss: negative log-likelihood of ``labels`` under ``probabilities`` (when labels are given).
        probabilities: ``(B, L, num_labels)`` mean of the members' softmax outputs (with
            ``calibrated=True``: that mean, temperature-scaled, see :func:`apply_temperatures`);
            head ``pangolin``: ``(B, L, tissues)``, per tissue its members' mean P(site) (:mod:`.heads`).
        member_logits: ``(B, num_members, L, num_labels)`` pre-softmax outputs of every member
            (only with ``output_members=True``).
        member_probabilities: ``(B, num_members, L, num_labels)`` softmax of ``member_logits``
            (head ``pangolin``: every member's 12 outputs, softmax pairs and sigmoid usage per tissue)
            (only with ``output_members=True``).
    """

    loss: torch.FloatTensor | None = None
    probabilities: torch.FloatTensor | None = None
    member_logits: torch.FloatTensor | None = None
    member_probabilities: torch.FloatTensor | None = None


def _crop_to(x: torch.Tensor, length: int) -> torch.Tensor:
    """Crop the last axis of ``x`` symmetrically to ``length`` positions."""
    excess = x.shape[-1] - length
    return x if excess == 0 else x[..., excess // 2 : x.shape[-1] - (excess - excess // 2)]


@dataclass
class FusedStage:
    """One stage of :class:`FusedNetwork`: dilation, per-side shrink of a unit, units, skip conv."""

    dilation: int
    shrink: int  # positions a residual unit loses at each end
    units: list[tuple[torch.Tensor, ...]]  # (bn1 scale, bn1 shift, conv1+bn2 w, b, conv2 w, b)
    skip: tuple[torch.Tensor, torch.Tensor]


@dataclass
class FusedNetwork:
    """All members as one grouped network (eval mode), and the steps every fused pass shares.

    The full forward (:meth:`SpliceAIModel._member_logits_fused`) and the incremental ALT pass
    (:mod:`.incremental`) run the same steps, so they compute the same numbers.
    """

    members: int
    input_conv: tuple[torch.Tensor, torch.Tensor]
    input_skip: tuple[torch.Tensor, torch.Tensor]
    stages: list[FusedStage]
    classifier: tuple[torch.Tensor, torch.Tensor]
    negative_slope: float | None = None  # None: ReLU; else LeakyReLU with this slope

    def act(self, y: torch.Tensor, inplace: bool) -> torch.Tensor:
        """The residual units' activation (``config.activation``)."""
        if self.negative_slope is None:
            return y.relu_() if inplace else torch.relu(y)
        return F.leaky_relu(y, self.negative_slope, inplace=inplace)

    def conv(self, h: torch.Tensor, wb: tuple[torch.Tensor, torch.Tensor], dilation: int = 1) -> torch.Tensor:
        return F.conv2d(h, wb[0], wb[1], dilation=(1, dilation), groups=self.members)

    def unit(self, h: torch.Tensor, unit: tuple[torch.Tensor, ...], stage: FusedStage, inplace: bool) -> torch.Tensor:
        """One residual unit on ``(B, M * channels, 1, L)``: ``L - 2 * stage.shrink`` positions out."""
        scale, shift, w1, b1, w2, b2 = unit
        r = stage.shrink
        y = self.act(torch.addcmul(shift, h, scale), inplace)
        y = self.conv(y, (w1, b1), stage.dilation)
        y = self.act(y, inplace)
        y = self.conv(y, (w2, b2), stage.dilation)
        residual = h[..., r : h.shape[-1] - r]
        return y.add_(residual) if inplace else y + residual

    def add_skip(self, skip: torch.Tensor, h: torch.Tensor, stage: FusedStage, inplace: bool) -> torch.Tensor:
        """The skip sum after ``stage``: its skip conv of ``h`` plus ``skip`` cropped to ``h``'s length."""
        new_skip = self.conv(h, stage.skip)
        previous = _crop_to(skip, h.shape[-1])
        return new_skip.add_(previous) if inplace else new_skip + previous

    def logits(self, skip: torch.Tensor) -> torch.Tensor:
        """``(B, M, labels, L)`` from the final skip sum."""
        logits = self.conv(skip, self.classifier)
        b, _, _, length = logits.shape
        return logits.reshape(b, self.members, -1, length)


def _activation(config: SpliceAIConfig):
    """``config.activation`` as a function of a tensor."""
    if config.activation == "leaky_relu":
        return functools.partial(F.leaky_relu, negative_slope=float(config.activation_slope))
    return F.relu


class SpliceAIResidualUnit(nn.Module):
    """``BN -> act -> conv -> BN -> act -> conv`` added to the (cropped) input (act: ReLU or LeakyReLU)."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, eps: float, activation=F.relu) -> None:
        super().__init__()
        self.activation = activation
        self.norm1 = nn.BatchNorm1d(channels, eps=eps)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.norm2 = nn.BatchNorm1d(channels, eps=eps)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        #: positions lost at each end (two unpadded convolutions)
        self.shrink = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.activation(self.norm1(x)))
        y = self.conv2(self.activation(self.norm2(y)))
        return x[..., self.shrink : x.shape[-1] - self.shrink] + y


class SpliceAIStage(nn.Module):
    """``num_blocks`` residual units with one kernel size and dilation, then a 1x1 skip conv."""

    def __init__(self, channels: int, num_blocks: int, kernel_size: int, dilation: int, eps: float, activation=F.relu) -> None:
        super().__init__()
        self.units = nn.ModuleList(
            SpliceAIResidualUnit(channels, kernel_size, dilation, eps, activation) for _ in range(num_blocks)
        )
        self.skip = nn.Conv1d(channels, channels, 1)


class SpliceAIMember(nn.Module):
    """One SpliceAI network; ``forward`` maps ``(B, 4, L + context)`` to logits ``(B, labels, L)``."""

    def __init__(self, config: SpliceAIConfig) -> None:
        super().__init__()
        c = config.channels
        self.input_conv = nn.Conv1d(config.input_channels, c, 1)
        self.input_skip = nn.Conv1d(c, c, 1)
        self.stages = nn.ModuleList(
            SpliceAIStage(c, n, k, d, config.batch_norm_eps, _activation(config)) for n, k, d in config.stages
        )
        self.classifier = nn.Conv1d(c, config.member_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_conv(x)
        skip = self.input_skip(h)
        for stage in self.stages:
            for unit in stage.units:
                h = unit(h)
            skip = _crop_to(skip, h.shape[-1]) + stage.skip(h)
        return self.classifier(skip)


def _fold_bn_into_conv(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``bn(conv(x))`` as one convolution (eval-mode BatchNorm)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight * scale[:, None, None], (conv.bias - bn.running_mean) * scale + bn.bias


def _bn_affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scale, shift)`` with ``bn(x) == x * scale + shift`` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class SpliceAIPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading for SpliceAI models."""

    config_class = SpliceAIConfig
    config: SpliceAIConfig
    base_model_prefix = "spliceai"
    main_input_name = "input"
    _no_split_modules = ["SpliceAIMember"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # Keras' defaults for the original: Glorot-uniform kernels, zero biases, BN 1/0/0/1.
        if isinstance(module, nn.Conv1d):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.reset_running_stats()


class SpliceAIModel(SpliceAIPreTrainedModel):
    """An ensemble of ``config.num_members`` SpliceAI networks (the published model has 5).

    ``forward`` takes one-hot input, channels last, ``(B, L + config.context, 4)`` (A, C, G, T;
    N = all zeros) and returns per-position probabilities ``(B, L, 3)`` for neither /
    acceptor / donor, the mean of the members' softmax outputs.

    >>> config = SpliceAIConfig(stages=[(1, 3, 1), (1, 3, 2)], channels=4, num_members=2)
    >>> model = SpliceAIModel(config).eval()
    >>> out = model(torch.zeros(1, 10 + config.context, 4), output_members=True)
    >>> tuple(out.probabilities.shape), tuple(out.member_logits.shape)
    ((1, 10, 3), (1, 2, 10, 3))

    ``SpliceAIModel.from_pretrained("spliceai-10k")`` loads the published ensemble, converting
    it from the installed ``spliceai`` wheel into the nucleoforge cache on first use
    (``spliceai-10k-1`` ... ``spliceai-10k-5`` load single members). The weights are licensed
    CC BY-NC 4.0 (non-commercial use only).
    """

    def __init__(self, config: SpliceAIConfig) -> None:
        super().__init__(config)
        self.members = nn.ModuleList(SpliceAIMember(config) for _ in range(config.num_members))
        self.post_init()

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *args, **kwargs):
        """Load a model; ``spliceai-10k`` / ``spliceai-10k-N`` resolve to the converted wheel weights.

        The other names of :data:`~.pretrained.NAMED_WEIGHTS` (``openspliceai-mane-10k``, ``pangolin``,
        ``cispliceai``…) resolve through :func:`~.pretrained.resolve_named`. A folder written by
        MultiMolecule (``model_type`` ``openspliceai`` or ``pangolin``) is read as it is
        (:mod:`.multimolecule`).

        Any other name or path goes through :meth:`transformers.PreTrainedModel.from_pretrained`,
        strictly: a folder of another model type (a SpliceBERT folder, say) or one whose weights
        do not all match the ensemble (missing or unexpected) raises
        :class:`~nucleoforge.io.checkpoints.CheckpointError` naming the folder and its model type,
        instead of running with random weights. Passing ``output_loading_info=True`` returns
        transformers' ``(model, info)`` unchecked, for callers that inspect the info themselves.
        """
        entry = registry.family("spliceai")
        name = str(pretrained_model_name_or_path)
        # MultiMolecule's OpenSpliceAI / Pangolin folder: read as it is (no copy written); looked up by
        # name like the named weights' resolver (the reader builds this class)
        reader = "nucleoforge.models.spliceai.multimolecule"
        if Path(name).is_dir() and registry.resolve(f"{reader}:is_multimolecule_splice")(name):
            config, state = registry.resolve(f"{reader}:read_splice_folder")(name)
            model = cls(config)
            model.load_state_dict(state, strict=True)
            model.eval()
            from nucleoforge.io.checkpoints import no_loading_problems

            return (model, no_loading_problems()) if kwargs.get("output_loading_info") else model
        if not Path(name).exists() and name in registry.HUB_ALIASES:  # multimolecule/spliceai -> spliceai-10k
            pretrained_model_name_or_path = name = registry.HUB_ALIASES[name]
        named = name in entry.pretrained and not Path(name).exists()
        if named:
            pretrained_model_name_or_path = registry.resolve(entry.resolver)(name)
        if kwargs.get("output_loading_info"):
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        from nucleoforge.io.checkpoints import load_model_folder

        load = super().from_pretrained
        model = load_model_folder(lambda path, **kw: load(path, *args, **kw), pretrained_model_name_or_path,
                                  model_types=[entry.model_type], what=f"a {entry.name} model", **kwargs)
        if named:
            # folders converted before licences were recorded; looked up by name like the resolver
            # (the resolver's module converts, which builds this class)
            registry.resolve(entry.resolver.rsplit(":", 1)[0] + ":fill_provenance")(model.config, name)
        return model

    # -- forward -----------------------------------------------------------------------------
    def _check_input(self, input: torch.Tensor) -> None:
        if input.dim() != 3 or input.shape[-1] != self.config.input_channels:
            raise NucleoforgeError(
                f"SpliceAI input must be one-hot (batch, length, {self.config.input_channels}), "
                f"got shape {tuple(input.shape)}"
            )
        if input.shape[1] <= self.config.context:
            raise NucleoforgeError(
                f"SpliceAI input of length {input.shape[1]} is too short: it must hold the "
                f"{self.config.context}-nt context ({self.config.flank} each side) plus at least 1 position"
            )

    def _temperatures(self, calibrated: bool):
        """``config.calibration_temperatures`` when ``calibrated`` (None otherwise); a model without them raises."""
        if not calibrated:
            return None
        temperatures = self.config.calibration_temperatures
        if temperatures is None:
            raise NucleoforgeError(
                f"this SpliceAI model ({self.name_or_path or 'unsaved'}) is not calibrated: its config has no "
                "calibration_temperatures; fit them with `nucleoforge calibrate-splice --data DIR --model MODEL_DIR`"
            )
        return temperatures

    def _member_logits_modular(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, M, labels, L)`` by running each member module (BatchNorm as in the current mode)."""
        return torch.stack([member(x) for member in self.members], dim=1)

    def _fused_weights(self) -> list[torch.Tensor]:
        """All members' weights stacked for grouped convolutions, BatchNorms folded where possible.

        Order: input conv (w, b), input skip (w, b), then per stage: per unit
        (bn1 scale, bn1 shift, conv1+bn2 w, b, conv2 w, b), then the stage skip (w, b); last the
        classifier (w, b). Convolution weights get a singleton height for ``conv2d``. Cached
        while no gradient is recorded and no parameter or buffer has changed.
        """
        tensors = [t for t in (*self.parameters(), *self.buffers())]
        key = tuple((id(t), t._version, t.data_ptr(), t.dtype) for t in tensors)
        cacheable = not torch.is_grad_enabled() and not any(t.is_inference() for t in tensors)
        cache = getattr(self, "_fused_cache", None)
        if cacheable and cache is not None and cache[0] == key:
            return cache[1]
        members, cat = self.members, torch.cat

        def conv_pair(convs, bns=None):
            if bns is None:
                w, b = cat([c.weight for c in convs]), cat([c.bias for c in convs])
            else:
                w, b = (cat(t) for t in zip(*(_fold_bn_into_conv(c, n) for c, n in zip(convs, bns))))
            return [w.unsqueeze(2), b]

        out = conv_pair([mb.input_conv for mb in members]) + conv_pair([mb.input_skip for mb in members])
        for s in range(len(self.config.stages)):
            stages = [mb.stages[s] for mb in members]
            for u in range(len(stages[0].units)):
                units = [st.units[u] for st in stages]
                scale, shift = (cat(t) for t in zip(*(_bn_affine(un.norm1) for un in units)))
                out += [scale[:, None, None], shift[:, None, None]]
                out += conv_pair([un.conv1 for un in units], [un.norm2 for un in units])
                out += conv_pair([un.conv2 for un in units])
            out += conv_pair([st.skip for st in stages])
        out += conv_pair([mb.classifier for mb in members])
        if cacheable:
            # Keys hold ids of live tensors (kept alive by the module), so a match means no change.
            self._fused_cache = (key, [t.detach() for t in out])
        return out

    def _fused_network(self) -> FusedNetwork:
        """:meth:`_fused_weights` grouped by layer (see :class:`FusedNetwork`)."""
        weights = iter(self._fused_weights())

        def pair() -> tuple[torch.Tensor, torch.Tensor]:
            return next(weights), next(weights)

        input_conv, input_skip = pair(), pair()
        stages = []
        for num_blocks, kernel_size, dilation in self.config.stages:
            units = [(*pair(), *pair(), *pair()) for _ in range(num_blocks)]
            stages.append(FusedStage(dilation, (kernel_size - 1) * dilation, units, pair()))
        slope = float(self.config.activation_slope) if self.config.activation == "leaky_relu" else None
        return FusedNetwork(len(self.members), input_conv, input_skip, stages, pair(), slope)

    def _member_logits_fused(self, x: torch.Tensor, keep: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``(B, M, labels, L)`` with all members stacked as grouped convolutions (eval BatchNorm).

        Activations are ``(B, M * channels, 1, length)`` tensors in channels-last memory
        format, where oneDNN's grouped dilated convolutions are fastest on CPU. Each residual
        unit's second BatchNorm is folded into its first convolution; element-wise steps run
        in place when no gradient is recorded. ``keep``: a list that receives the trunk
        activation entering every residual unit and the one after the last (the reference
        pass of :mod:`.incremental`).
        """
        net = self._fused_network()
        inplace = not torch.is_grad_enabled()
        x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        h = F.conv2d(x, *net.input_conv)
        skip = net.conv(h, net.input_skip)
        for stage in net.stages:
            for unit in stage.units:
                if keep is not None:
                    keep.append(h)
                h = net.unit(h, unit, stage, inplace)
            skip = net.add_skip(skip, h, stage, inplace)
        if keep is not None:
            keep.append(h)
        return net.logits(skip)

    def forward(
        self,
        input: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_members: bool = False,
        use_fused: bool | None = None,
        return_dict: bool | None = None,
        calibrated: bool = False,
        **kwargs,
    ) -> SpliceAIOutput | tuple:
        """Per-position splice-site probabilities.

        Args:
            input: one-hot ``(B, L + config.context, 4)``, channels last, A/C/G/T, N = zeros.
            labels: optional ``(B, L)`` class indices (-100 = ignore) for the NLL loss.
            output_members: also return every member's logits and probabilities.
            use_fused: run members as one grouped network (default: in eval mode).
            calibrated: apply ``config.calibration_temperatures`` (``softmax(log(p) / T)``, see
                :func:`apply_temperatures`); a model without them raises ``ValueError``. The
                default leaves the probabilities exactly the members' mean softmax.
        """
        temperatures = self._temperatures(calibrated)
        self._check_input(input)
        x = input.to(dtype=self.members[0].input_conv.weight.dtype).transpose(1, 2)
        if use_fused is None:
            use_fused = not self.training
        if use_fused and self.training:
            raise NucleoforgeError("use_fused=True needs eval mode (it folds BatchNorm running statistics)")
        logits = self._member_logits_fused(x) if use_fused else self._member_logits_modular(x)
        member_logits = logits.transpose(2, 3)  # (B, M, L, labels)
        probabilities, member_probs = head_outputs(self.config, member_logits, temperatures)
        loss = None
        if labels is not None:
            if self.config.head != "softmax":
                raise NucleoforgeError("labels: a training loss is defined for the softmax head only (this model has head "
                                       f"{self.config.head!r})")
            log_probs = torch.log(probabilities.clamp_min(1e-12))
            loss = F.nll_loss(log_probs.reshape(-1, log_probs.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)
        out = SpliceAIOutput(
            loss=loss,
            probabilities=probabilities,
            member_logits=member_logits if output_members else None,
            member_probabilities=member_probs if output_members else None,
        )
        if return_dict is False:
            return out.to_tuple()
        return out


#: Short alias used throughout the docs.
SpliceAI = SpliceAIModel

__all__ = [
    "apply_temperatures",
    "ensemble_log_probabilities",
    "SpliceAI",
    "SpliceAIMember",
    "SpliceAIModel",
    "SpliceAIOutput",
    "SpliceAIPreTrainedModel",
]
