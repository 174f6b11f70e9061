"""Incremental SpliceAI predictions for single-base substitutions (the receptive-field cone).

A substitution changes one input position. After each unpadded convolution only the positions
within the accumulated receptive field of that position differ from the reference pass, so an
ALT prediction needs, at every residual unit, only the reference activations around the
variant with the changed centre (the *cone*) replaced. :func:`reference_pass` runs the
reference windows once and keeps the trunk activation entering every unit
(:class:`ReferenceActivations`); :func:`substitution_probabilities` then computes the ALT
probabilities of many substitutions per call from those activations. Both run the steps of
:class:`~.modeling_spliceai.FusedNetwork`, the ones the full forward runs.

The work per ALT is the sum over the units of the cone's width (capped by the width still
needed for the ``2 * distance + 1`` outputs) instead of the full window: for the 10k model
at ``distance=50`` about 3.4x fewer convolution FLOPs than a full ALT pass.

Memory: the kept activations cost :func:`activation_bytes` (for the 10k ensemble in float32,
``17 * 160 * 4`` bytes per window position less what the units crop: 83.5 MiB for the
10,101-position window of one variant at ``distance=50``, +10.9 KB per further position).

>>> import torch
>>> from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
>>> _ = torch.manual_seed(0)
>>> model = SpliceAIModel(SpliceAIConfig(stages=[(2, 3, 1), (2, 3, 2)], channels=4, num_members=2)).eval()
>>> x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 60)), 4).float()
>>> ref = reference_pass(model, x)
>>> alt = x.clone(); alt[0, 30] = torch.tensor([0.0, 0.0, 1.0, 0.0]) if x[0, 30, 2] == 0 else torch.tensor([1.0, 0, 0, 0])
>>> cone = substitution_probabilities(model, ref, torch.tensor([0]), torch.tensor([30]), alt[:, 30], distance=5)
>>> full = model(alt).probabilities[:, 30 - model.config.flank - 5 : 30 - model.config.flank + 6]
>>> bool(torch.allclose(cone, full, atol=1e-6))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .configuration_spliceai import SpliceAIConfig

from nucleoforge.errors import NucleoforgeError

__all__ = ["ReferenceActivations", "activation_bytes", "reference_pass", "substitution_probabilities"]


@dataclass
class ReferenceActivations:
    """What :func:`reference_pass` keeps: the trunk entering every residual unit and after the last.

    ``trunk[i]`` is ``(B, L_i, M * channels)`` (a channels-last view), row ``j`` being window
    position ``j + offsets[i]``; ``probabilities`` are the reference predictions ``(B, L, 3)``.
    """

    trunk: list[torch.Tensor]
    offsets: list[int]
    window: int
    probabilities: torch.Tensor
    member_probabilities: torch.Tensor | None = None  # (B, M, L, channels): every member's head outputs


def _trunk_offsets(config: SpliceAIConfig) -> list[int]:
    """Window positions cropped from each end of every kept trunk activation (unit inputs, then the last)."""
    offsets = [0]
    for num_blocks, kernel_size, dilation in config.stages:
        for _ in range(num_blocks):
            offsets.append(offsets[-1] + (kernel_size - 1) * dilation)
    return offsets


def activation_bytes(config: SpliceAIConfig, window: int, *, bytes_per_value: int = 4) -> int:
    """Bytes :func:`reference_pass` keeps for one window of ``window`` input positions."""
    rows = sum(window - 2 * offset for offset in _trunk_offsets(config))
    return rows * config.channels * config.num_members * bytes_per_value


def _check(model) -> None:
    if model.training:
        raise NucleoforgeError("incremental SpliceAI predictions need eval mode (they fold BatchNorm running statistics)")


def reference_pass(model, x: torch.Tensor, *, calibrated: bool = False) -> ReferenceActivations:
    """Run one-hot windows ``(B, L + context, 4)`` and keep the activations the cones read.

    ``probabilities`` equal ``model(x).probabilities`` (the same fused steps). Call it under
    :func:`torch.inference_mode` (or ``no_grad``).
    """
    from .heads import head_outputs

    _check(model)
    model._check_input(x)
    keep: list[torch.Tensor] = []
    logits = model._member_logits_fused(x.to(dtype=model.members[0].input_conv.weight.dtype).transpose(1, 2), keep=keep)
    probabilities, members = head_outputs(model.config, logits.transpose(2, 3), model._temperatures(calibrated))
    trunk = [h.permute(0, 2, 3, 1).reshape(h.shape[0], h.shape[-1], h.shape[1]) for h in keep]
    return ReferenceActivations(trunk, _trunk_offsets(model.config), x.shape[1], probabilities, members)


def _rows(trunk: torch.Tensor, windows: torch.Tensor, starts: torch.Tensor, width: int) -> torch.Tensor:
    """``(n, C, 1, width)`` channels-last: rows ``starts[i] + [0, width)`` of window ``windows[i]``."""
    b, length, channels = trunk.shape
    index = (windows * length + starts)[:, None] + torch.arange(width, device=trunk.device)
    picked = trunk.reshape(b * length, channels).index_select(0, index.reshape(-1))
    return picked.view(len(starts), 1, width, channels).permute(0, 3, 1, 2)


def _patched(trunk: torch.Tensor, windows: torch.Tensor, rows_at: torch.Tensor, radius: int,
             state: torch.Tensor | None) -> torch.Tensor:
    """Reference rows ``rows_at ± radius`` with the ALT ``state`` (odd width, centred) written over them."""
    if state is not None and state.shape[-1] >= 2 * radius + 1:
        q = (state.shape[-1] - 1) // 2
        return state[..., q - radius : q + radius + 1]
    out = _rows(trunk, windows, rows_at - radius, 2 * radius + 1)
    if state is not None:
        q = (state.shape[-1] - 1) // 2
        out[..., radius - q : radius + q + 1] = state
    return out


def substitution_probabilities(
    model,
    ref: ReferenceActivations,
    windows: torch.Tensor,
    centers: torch.Tensor,
    alt_onehot: torch.Tensor,
    *,
    distance: int,
    calibrated: bool = False,
    members: bool = False,
) -> torch.Tensor:
    """ALT probabilities ``(n, 2 * distance + 1, num_labels)`` for ``n`` substitutions in reference windows.

    Substitution ``i`` puts ``alt_onehot[i]`` (4 values, A/C/G/T, N = zeros) at input position
    ``centers[i]`` of window ``windows[i]`` of ``ref``; the rows returned are the outputs at
    input positions ``centers[i] - distance ... centers[i] + distance``, which must lie in the
    window's outputs. They equal ``model(alt_window).probabilities`` there up to float rounding
    (the sums run in the same order over narrower tensors). ``members=True``: every member's head
    outputs ``(n, M, 2 * distance + 1, channels)`` instead (Pangolin's scoring reads them).
    """
    _check(model)
    flank = model.config.flank
    centers = centers.to(ref.trunk[0].device, torch.long)
    windows = windows.to(ref.trunk[0].device, torch.long)
    if len(centers) and (int(centers.min()) - distance < flank or int(centers.max()) + distance >= ref.window - flank):
        raise NucleoforgeError(f"substitution outputs ±{distance} must lie in the windows' outputs [{flank}, {ref.window - flank})")
    net = model._fused_network()
    inplace = not torch.is_grad_enabled()
    dtype = ref.trunk[0].dtype
    x = alt_onehot.to(ref.trunk[0].device, dtype).reshape(len(centers), 4, 1, 1).contiguous(memory_format=torch.channels_last)
    state = F.conv2d(x, *net.input_conv)  # (n, C, 1, 1): the changed centre of the first trunk activation
    skip = net.conv(_patched(ref.trunk[0], windows, centers, distance, state), net.input_skip)
    layer, changed = 0, 0  # trunk index; radius of the positions that differ from the reference
    for stage in net.stages:
        for unit in stage.units:
            needed = distance + flank - ref.offsets[layer]  # radius of this activation the outputs depend on
            radius = min(changed + 2 * stage.shrink, needed)
            h = _patched(ref.trunk[layer], windows, centers - ref.offsets[layer], radius, state)
            state = net.unit(h, unit, stage, inplace)
            changed += stage.shrink
            layer += 1
        h = _patched(ref.trunk[layer], windows, centers - ref.offsets[layer], distance, state)
        skip = net.add_skip(skip, h, stage, inplace)
    logits = net.logits(skip).transpose(2, 3)
    from .heads import head_outputs

    probabilities, member_probabilities = head_outputs(model.config, logits, model._temperatures(calibrated))
    return member_probabilities if members else probabilities  # members: (n, M, 2 * distance + 1, channels)
