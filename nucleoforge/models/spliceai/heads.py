"""Output heads of :class:`~.modeling_spliceai.SpliceAIModel`: member logits -> probabilities.

Two heads (``config.head``):

* ``softmax`` (SpliceAI, OpenSpliceAI, CI-SpliceAI): every member emits ``num_labels`` logits
  (neither, acceptor, donor); the output is the members' mean softmax, optionally
  temperature-scaled (:func:`apply_temperatures`).
* ``pangolin``: every member emits 3 channels per tissue ``t`` -- a softmax pair ``3t, 3t+1``
  (not a site / a site) and a sigmoid usage channel ``3t+2``, i.e. Pangolin's 12 outputs for its
  four tissues. Pangolin trains one network per tissue (``config.member_tissues``) and reads only
  that tissue's P(site) from it, so ``probabilities[..., t]`` is the mean over the members of
  tissue ``t`` of channel ``3t+1``.

>>> import torch
>>> from nucleoforge.models.spliceai import SpliceAIConfig
>>> config = SpliceAIConfig(head="pangolin", num_members=4, member_tissues=[0, 1, 2, 3])
>>> probs, members = head_outputs(config, torch.zeros(1, 4, 5, 12))
>>> tuple(probs.shape), tuple(members.shape), float(probs[0, 0, 0]), float(members[0, 0, 0, 2])
((1, 5, 4), (1, 4, 5, 12), 0.5, 0.5)
"""

from __future__ import annotations

import math

import torch

from nucleoforge.errors import NucleoforgeError

__all__ = ["apply_temperatures", "ensemble_log_probabilities", "head_outputs", "member_probabilities", "pangolin_channels"]


def ensemble_log_probabilities(member_logits: torch.Tensor) -> torch.Tensor:
    """``log(mean_m softmax(member_logits[:, m]))``: ``(B, M, L, C)`` -> ``(B, L, C)`` float32.

    The log of the published output (the members' mean softmax), computed without underflow
    (``logsumexp`` of the members' log-softmax), so it stays finite where a probability rounds to 0.
    For one member it is that member's ``log_softmax``.
    """
    log_p = torch.log_softmax(member_logits.float(), dim=-1)
    return torch.logsumexp(log_p, dim=1) - math.log(member_logits.shape[1])


def apply_temperatures(log_probabilities: torch.Tensor, temperatures) -> torch.Tensor:
    """Per-class temperature scaling: ``softmax(z / T)`` over the last axis with ``z`` the log-probabilities.

    ``z`` is the log of the (ensemble's) probabilities, so a single member and an ensemble are
    handled alike; one temperature per class (``T_c > 1`` flattens class ``c``'s scores, ``< 1``
    sharpens them). Unlike one shared temperature, per-class temperatures are not invariant to
    shifting the logits, which is why ``z`` is fixed as the normalised log-probabilities.
    """
    t = torch.as_tensor(temperatures, dtype=log_probabilities.dtype, device=log_probabilities.device)
    return torch.softmax(log_probabilities / t, dim=-1)


def member_probabilities(member_logits: torch.Tensor, temperatures=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(probabilities (B, L, C), member softmax (B, M, L, C))`` from ``(B, M, L, C)`` logits.

    The published output is the members' mean softmax; with ``temperatures`` it is that mean
    temperature-scaled (:func:`apply_temperatures`).
    """
    member_probs = torch.softmax(member_logits, dim=-1)
    probabilities = member_probs.mean(dim=1)
    if temperatures is not None:
        calibrated = apply_temperatures(ensemble_log_probabilities(member_logits), temperatures)
        probabilities = calibrated.to(probabilities.dtype)
    return probabilities, member_probs


def pangolin_channels(member_logits: torch.Tensor) -> torch.Tensor:
    """Pangolin's outputs ``(..., 3T)`` from its logits: per tissue a softmax pair, then a sigmoid."""
    grouped = member_logits.unflatten(-1, (-1, 3))
    pair = torch.softmax(grouped[..., :2], dim=-1)
    usage = torch.sigmoid(grouped[..., 2:])
    return torch.cat([pair, usage], dim=-1).flatten(-2)


def head_outputs(config, member_logits: torch.Tensor, temperatures=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(probabilities, member probabilities)`` of ``config.head`` from ``(B, M, L, channels)`` logits.

    ``softmax``: :func:`member_probabilities`. ``pangolin``: member outputs from
    :func:`pangolin_channels`; probabilities ``(B, L, tissues)``, per tissue the mean P(site)
    (channel ``3t+1``) of its members.
    """
    if config.head != "pangolin":
        return member_probabilities(member_logits, temperatures)
    if temperatures is not None:
        raise NucleoforgeError("calibrated=True: temperature scaling is not defined for the pangolin head")
    member_probs = pangolin_channels(member_logits)
    columns = []
    for t in range(len(config.tissues)):
        members = [m for m, tissue in enumerate(config.member_tissues) if tissue == t]
        columns.append(member_probs[:, members, :, 3 * t + 1].mean(dim=1))
    return torch.stack(columns, dim=-1), member_probs
