"""MultiMolecule's OpenSpliceAI and Pangolin folders, read into :class:`SpliceAIModel` as they are.

MultiMolecule stores the same networks as the originals under its own names
(``model_type`` ``openspliceai`` / ``pangolin``):

* OpenSpliceAI — one seed per folder: ``model.encoder.projection`` (the input conv),
  ``model.encoder.skip``, ``model.encoder.stages.S.blocks.B.{norm1,conv1,norm2,conv2}``,
  ``model.encoder.stages.S.conv`` (the stage's skip conv) and ``token_head.decoder`` (the
  classifier as a linear layer); LeakyReLU(``hidden_act_kwargs.negative_slope``), BatchNorm eps
  from the config; a one-member ensemble here.
* Pangolin — ``members.T.R`` (tissue T, replicate R: the original's ``final.{R+1}.{2T}.3.v2``),
  each ``projection`` / ``encoder.conv`` / ``encoder.stages…`` / ``prediction.score.T'`` (the
  softmax pair) / ``prediction.usage.T'`` (the sigmoid channel): our 12-member Pangolin head.
  MultiMolecule's input has a fifth channel, ``N``, whose weights its converter set to the mean of
  A, C, G and U (an N then counts as a quarter of each base); the original Pangolin reads N as
  all zeros, and so does nucleoforge: that column is left out, and positions within the receptive
  field of an N score as in the original, not as in MultiMolecule.

``num_batches_tracked`` counters are not weights and are not read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from nucleoforge.io.checkpoints import CheckpointError, load_hf_folder_weights, read_folder_config

__all__ = ["SPLICE_TYPES", "is_multimolecule_splice", "read_splice_folder"]

#: MultiMolecule model types that are SpliceAI-architecture networks
SPLICE_TYPES = ("openspliceai", "pangolin")


def is_multimolecule_splice(folder: str | Path) -> bool:
    """Whether ``folder`` holds a MultiMolecule OpenSpliceAI or Pangolin model."""
    config = read_folder_config(folder)
    return config is not None and config.get("model_type") in SPLICE_TYPES


def _stages(config: dict, path: Path) -> list[tuple[int, int, int]]:
    try:
        return [(int(s["num_blocks"]), int(s["kernel_size"]), int(s["dilation"])) for s in config["stages"]]
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path}/config.json: no readable 'stages' (num_blocks, kernel_size, dilation)") from None


def _member(prefix: str, ours: str, stages: list[tuple[int, int, int]], encoder: str, input_conv: str) -> dict[str, str]:
    """MultiMolecule key -> our key for one member's trunk (``prefix``: where the member's keys start)."""
    out = {f"{prefix}{input_conv}.{p}": f"{ours}.input_conv.{p}" for p in ("weight", "bias")}
    out.update({f"{prefix}{encoder}.{'skip' if encoder == 'model.encoder' else 'conv'}.{p}": f"{ours}.input_skip.{p}"
                for p in ("weight", "bias")})
    for s, (blocks, _, _) in enumerate(stages):
        for b in range(blocks):
            for mod in ("norm1", "conv1", "norm2", "conv2"):
                params = ("weight", "bias", "running_mean", "running_var") if mod.startswith("norm") else ("weight", "bias")
                for p in params:
                    out[f"{prefix}{encoder}.stages.{s}.blocks.{b}.{mod}.{p}"] = f"{ours}.stages.{s}.units.{b}.{mod}.{p}"
        out.update({f"{prefix}{encoder}.stages.{s}.conv.{p}": f"{ours}.stages.{s}.skip.{p}" for p in ("weight", "bias")})
    return out


def read_splice_folder(folder: str | Path) -> tuple[Any, dict[str, torch.Tensor]]:
    """``(SpliceAIConfig, state dict)`` of a MultiMolecule OpenSpliceAI or Pangolin folder, strictly:
    every tensor of the folder mapped (or a BatchNorm counter), every parameter filled."""
    from nucleoforge.models.spliceai.configuration_spliceai import SpliceAIConfig
    from nucleoforge.models.spliceai.convert_pytorch import PANGOLIN_FILES, pangolin_config
    from nucleoforge.models.spliceai.modeling_spliceai import SpliceAIModel

    path = Path(folder)
    config_dict = json.loads((path / "config.json").read_text(encoding="utf-8"))
    kind = config_dict.get("model_type")
    stages = _stages(config_dict, path)
    hidden = int(config_dict.get("hidden_size", 32))
    eps = float(config_dict.get("batch_norm_eps", 1e-5))
    state, _ = load_hf_folder_weights(path)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    source = f"MultiMolecule {kind} folder {path.name}"
    filled: dict[str, torch.Tensor] = {}
    if kind == "openspliceai":
        act = config_dict.get("hidden_act", "leaky_relu")
        slope = float((config_dict.get("hidden_act_kwargs") or {}).get("negative_slope", 0.01 if act == "leaky_relu" else 0))
        if act not in ("leaky_relu", "relu"):
            raise CheckpointError(f"{path}: MultiMolecule OpenSpliceAI with hidden_act {act!r} (expected leaky_relu or relu)")
        config = SpliceAIConfig(stages=stages, channels=hidden, num_members=1, batch_norm_eps=eps,
                                activation=act, activation_slope=slope if act == "leaky_relu" else 0.01,
                                weights_family="openspliceai", weights_name=f"OpenSpliceAI {config_dict.get('context')} nt",
                                weights_licence="GPL-3.0", weights_source=source)
        key_map = _member("", "members.0", stages, "model.encoder", "model.encoder.projection")
        key_map.update({f"token_head.decoder.{p}": f"members.0.classifier.{p}" for p in ("weight", "bias")})
    elif kind == "pangolin":
        tissues, replicates = int(config_dict.get("num_tissues", 4)), int(config_dict.get("num_ensemble", 3))
        if (tissues, replicates) != (4, 3):
            raise CheckpointError(f"{path}: a Pangolin of {tissues} tissues × {replicates} replicates (expected 4 × 3)")
        config = pangolin_config(stages=stages, channels=hidden)
        config.weights_source = source
        key_map = {}
        for t in range(tissues):
            for r in range(replicates):
                m = PANGOLIN_FILES.index(f"final.{r + 1}.{2 * t}.3.v2")
                key_map.update(_member(f"members.{t}.{r}.", f"members.{m}", stages, "encoder", "projection"))
    else:
        raise CheckpointError(f"{path}: a MultiMolecule {kind!r} model, not OpenSpliceAI or Pangolin")
    if int(config_dict.get("context", config.context)) != config.context:
        raise CheckpointError(f"{path}: context {config_dict.get('context')} does not match its stages ({config.context})")
    with torch.device("meta"):
        expected = SpliceAIModel(config).state_dict()
    for theirs, ours in key_map.items():
        if theirs not in state:
            raise CheckpointError(f"{path}: missing {theirs} ({source})")
        tensor = state.pop(theirs).float()
        if ours.endswith("input_conv.weight") and kind == "pangolin":
            tensor = _drop_n_channel(tensor, path, theirs)
        if ours.endswith("classifier.weight") and tensor.dim() == 2:
            tensor = tensor[:, :, None]  # a linear decoder: a 1x1 convolution
        filled[ours] = tensor
    if kind == "pangolin":  # the 8 heads of each member: rows 3T' (+1) softmax pair, 3T'+2 sigmoid
        for t in range(4):
            for r in range(3):
                m = PANGOLIN_FILES.index(f"final.{r + 1}.{2 * t}.3.v2")
                weights, biases = [], []
                for head in range(4):
                    for part in ("score", "usage"):
                        base = f"members.{t}.{r}.prediction.{part}.{head}"
                        if f"{base}.weight" not in state:
                            raise CheckpointError(f"{path}: missing {base}.weight ({source})")
                        weights.append(state.pop(f"{base}.weight").float())
                        biases.append(state.pop(f"{base}.bias").float())
                filled[f"members.{m}.classifier.weight"] = torch.cat(weights)
                filled[f"members.{m}.classifier.bias"] = torch.cat(biases)
    if state:
        extra = sorted(state)
        raise CheckpointError(f"{path}: {len(extra)} tensor(s) no part of our {kind} model takes ({', '.join(extra[:4])}); "
                              "a MultiMolecule head trained on top (e.g. PangolinForTokenPrediction's token_head) is not read")
    for key, tensor in expected.items():
        if key.endswith("num_batches_tracked"):
            filled[key] = torch.zeros((), dtype=tensor.dtype)
        elif key not in filled:
            raise CheckpointError(f"{path}: no tensor for {key} ({source})")
        elif tuple(filled[key].shape) != tuple(tensor.shape):
            raise CheckpointError(f"{path}: {key} has shape {tuple(filled[key].shape)}, expected {tuple(tensor.shape)}")
    return config, filled


def _drop_n_channel(weight: torch.Tensor, path: Path, key: str) -> torch.Tensor:
    """Pangolin's ``(H, 5, 1)`` projection -> ``(H, 4, 1)``: N is read as all zeros, as the original Pangolin."""
    if weight.shape[1] == 4:
        return weight
    if weight.shape[1] != 5:
        raise CheckpointError(f"{path}: {key} has shape {tuple(weight.shape)}, expected (hidden, 5, 1) (A, C, G, U, N)")
    return weight[:, :4].contiguous()
