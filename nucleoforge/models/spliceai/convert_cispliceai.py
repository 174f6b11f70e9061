"""Convert CI-SpliceAI's frozen TensorFlow graph into a nucleoforge SpliceAI folder, without TensorFlow.

CI-SpliceAI (Strauch et al., 2022; licence **CC BY 4.0**) ships its weights in the PyPI wheel
``cispliceai==1.2.2`` as one frozen ``GraphDef``, ``cispliceai/data/CI-SpliceAI.pb``, read here
with :mod:`nucleoforge.io.tf_graphdef`. Its input is the ``Placeholder`` ``x`` ``(B, L, 4)``; its
output (the graph's last node) is ``Identity(Mean(Pack(p_0 .. p_4), axis=0))``: the mean of five
members' softmax outputs, the softmax (``Max``/``Sub``/``Exp``/``Sum``/``RealDiv``) taken per
member *before* the mean, which is exactly :class:`SpliceAIModel`'s fused ensemble.

Each member is a SpliceAI-10k network (32 channels, ReLU) whose layers are found by following
the data flow, not by name: ``Conv1D`` appears as ``ExpandDims`` + ``Conv2D`` with kernel
``(1, K, C_in, C_out)`` + ``Squeeze`` + ``BiasAdd``, dilated ones wrapped in
``SpaceToBatchND``/``BatchToSpaceND`` (block shape = dilation; the base padding ``(K-1)*d/2`` each
side is Keras' ``same``); inference BatchNorm as ``x * (gamma * rsqrt(var + eps)) + (beta -
mean * gamma * rsqrt(var + eps))`` (``eps`` read from each node, 1e-3); ``Cropping1D`` as a
``StridedSlice`` of 5,000 positions each side. Every member must have exactly the SpliceAI-10k
wiring (checked against the structure built from :class:`SpliceAIConfig`); each float constant
becomes one state-dict tensor and every other constant is named in ``conversion.json`` as a
checked structural constant or ignored shape arithmetic.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.checkpoints import sha256
from nucleoforge.io.tf_graphdef import NodeDef, read_graphdef

from .configuration_spliceai import SpliceAIConfig
from .convert import package_roots

logger = logging.getLogger(__name__)

LICENCE = "CC BY 4.0"
WEIGHTS_NAME = "CI-SpliceAI"
GRAPH_FILE = "CI-SpliceAI.pb"
_INSTALL_HINT = "install the CI-SpliceAI wheel (only its data files are used): pip install --no-deps cispliceai==1.2.2"

LICENSE_NOTE = """\
CI-SpliceAI pretrained weights (Strauch Y, Lord J, Niranjan M, Baralle D. CI-SpliceAI -- Improving
machine learning predictions of disease causing splicing variants using curated alternative splice
sites. PLOS ONE 17(6): e0269159, 2022; https://doi.org/10.1371/journal.pone.0269159).

Converted by nucleoforge from the frozen TensorFlow graph shipped in the PyPI package `cispliceai`
(https://ci-spliceai.com). Licensed under the Creative Commons Attribution 4.0 International licence
(CC BY 4.0): https://creativecommons.org/licenses/by/4.0/ -- attribution required. The conversion
changes only the storage format (TensorFlow GraphDef -> safetensors).
"""

_PASS_THROUGH = {"Identity", "ExpandDims", "Squeeze"}


def find_cispliceai_graph() -> Path:
    """``cispliceai/data/CI-SpliceAI.pb`` of the installed wheel, located without importing it (it imports TensorFlow)."""
    roots = package_roots("cispliceai")
    for root in roots:
        if (root / "data" / GRAPH_FILE).is_file():
            return root / "data" / GRAPH_FILE
    where = ", ".join(str(r) for r in roots) or "nowhere (package not installed)"
    raise MissingPathError(f"CI-SpliceAI graph data/{GRAPH_FILE} not found (looked in: {where}); {_INSTALL_HINT}")


@dataclass
class _Member:
    """What the walk found in one member: structure id -> (kind, constant names), and the BN epsilons."""

    found: dict[int, tuple[str, dict[str, str]]] = field(default_factory=dict)
    eps: set[float] = field(default_factory=set)


class _GraphWalker:
    """Turns the data flow into interned structure ids: equal ids = identical network structure."""

    def __init__(self, nodes: list[NodeDef], source: str) -> None:
        self.nodes = {n.name: n for n in nodes}
        self.order = nodes
        self.source = source
        self.ids: dict[tuple, int] = {}
        self.weights: set[str] = set()  # float constants mapped to tensors
        self.checked: dict[str, str] = {}  # structural constant -> what it was checked to be
        self.ignored: set[str] = set()  # shape arithmetic of dilated convolutions
        self._memo: dict[str, int] = {}
        self._member = _Member()

    # --- helpers -------------------------------------------------------------------------
    def fail(self, message: str) -> NucleoforgeError:
        return NucleoforgeError(f"{self.source}: not the CI-SpliceAI graph (a mean of SpliceAI-10k members): {message}")

    def intern(self, *key) -> int:
        return self.ids.setdefault(key, len(self.ids))

    def node(self, ref: str) -> NodeDef:
        name = ref[:-2] if ref.endswith(":0") else ref
        if name not in self.nodes:
            raise self.fail(f"input {ref!r} names no node")
        return self.nodes[name]

    def skip(self, ref: str, ops=_PASS_THROUGH) -> NodeDef:
        """The node behind ``ref`` past pass-through ops; ExpandDims/Squeeze axes are checked."""
        node = self.node(ref)
        while node.op in ops:
            if node.op == "ExpandDims":
                self.check_const(node.inputs[1], "ExpandDims axis", lambda v: int(v) in (-3, 0))
            if node.op == "Squeeze" and node.attr.get("squeeze_dims") not in ([-3], [0]):
                raise self.fail(f"{node.name}: Squeeze of axes {node.attr.get('squeeze_dims')}, expected [-3]")
            node = self.node(node.inputs[0])
        return node

    def const(self, ref: str) -> tuple[str, np.ndarray]:
        node = self.skip(ref, {"Identity"})
        if node.op != "Const" or not isinstance(node.attr.get("value"), np.ndarray):
            raise self.fail(f"{ref}: expected a constant, found a {node.op} node")
        return node.name, node.attr["value"]

    def check_const(self, ref: str, what: str, ok) -> np.ndarray:
        name, value = self.const(ref)
        if not ok(value):
            raise self.fail(f"{name}: {what} is {value.tolist()}")
        self.checked[name] = what
        return value

    def weight(self, ref: str, ndim: int) -> str:
        name, value = self.const(ref)
        if value.dtype != np.float32 or value.ndim != ndim:
            raise self.fail(f"{name}: expected a float32 weight of rank {ndim}, found {value.dtype} {value.shape}")
        self.weights.add(name)
        return name

    def ignore_arithmetic(self, ref: str, stop: str) -> list[np.ndarray]:
        """Constants of the shape arithmetic feeding ``ref`` (not crossing ``stop``), marked ignored."""
        found, todo, seen = [], [ref], set()
        while todo:
            node = self.node(todo.pop())
            if node.name in seen or node.name == stop:
                continue
            seen.add(node.name)
            if node.op == "Const":
                self.ignored.add(node.name)
                found.append(node.attr.get("value"))
            elif node.op != "Shape":  # Shape reads the data tensor's length only
                todo.extend(i for i in node.inputs if not i.startswith("^"))
        return found

    # --- layers --------------------------------------------------------------------------
    def describe(self, ref: str) -> int:
        node = self.skip(ref)
        if node.name not in self._memo:
            self._memo[node.name] = self._describe(node)
        return self._memo[node.name]

    def _describe(self, node: NodeDef) -> int:
        if node.op == "Placeholder":
            return self.intern("input")
        if node.op == "BiasAdd":
            return self.conv(node)
        if node.op == "Relu":
            return self.intern("relu", self.describe(node.inputs[0]))
        if node.op == "AddV2":
            return self.batch_norm(node) if self.node(node.inputs[1]).op == "Sub" else self.intern(
                "add", *sorted(self.describe(i) for i in node.inputs[:2]))
        if node.op == "StridedSlice":
            return self.crop(node)
        if node.op == "RealDiv":
            return self.softmax(node)
        raise self.fail(f"{node.name}: unexpected {node.op} node in a member's data flow")

    def conv(self, bias_add: NodeDef) -> int:
        """``[SpaceToBatchND] ExpandDims Conv2D Squeeze [BatchToSpaceND] BiasAdd`` -> conv id."""
        bias = self.weight(bias_add.inputs[1], 1)
        node, dilation = self.node(bias_add.inputs[0]), 1
        if node.op == "BatchToSpaceND":
            dilation = int(self.check_const(node.inputs[1], "BatchToSpaceND block shape", lambda v: v.size == 1).item())
            self.ignore_arithmetic(node.inputs[2], node.inputs[0])
            node = self.node(node.inputs[0])
        conv = self.skip(node.name, {"Squeeze"})
        if conv.op != "Conv2D" or any(conv.attr.get(a) != [1, 1, 1, 1] for a in ("strides", "dilations")):
            raise self.fail(f"{bias_add.name}: expected a stride-1 Conv2D under this BiasAdd, found {conv.op} {conv.name}")
        kernel = self.weight(self.skip(conv.inputs[1], {"ExpandDims"}).name, 3)
        k, c_in, c_out = self.nodes[kernel].attr["value"].shape
        data = self.skip(conv.inputs[0], {"ExpandDims"})
        if data.op == "SpaceToBatchND":
            self.check_const(data.inputs[1], "SpaceToBatchND block shape", lambda v: v.tolist() == [dilation])
            pads = [v for v in self.ignore_arithmetic(data.inputs[2], data.inputs[0]) if getattr(v, "shape", ()) == (1, 2)]
            same = (k - 1) * dilation // 2
            if conv.attr.get("padding") != b"VALID" or [p.tolist() for p in pads] != [[[same, same]]]:
                raise self.fail(f"{conv.name}: dilated convolution without Keras 'same' padding ({same} each side)")
            data = self.node(data.inputs[0])
        elif dilation != 1 or (k > 1 and conv.attr.get("padding") != b"SAME"):
            raise self.fail(f"{conv.name}: a width-{k} convolution must use 'same' padding")
        structure = self.intern("conv", int(k), dilation, int(c_in), int(c_out), self.describe(data.name))
        self.record(structure, "conv", {"kernel": kernel, "bias": bias})
        return structure

    def batch_norm(self, add: NodeDef) -> int:
        """``x * m + (beta - mean * m)`` with ``m = rsqrt(var + eps) * gamma`` -> batch-norm id."""
        mul_1, sub = self.node(add.inputs[0]), self.node(add.inputs[1])
        mul_2 = self.node(sub.inputs[1])
        if mul_1.op != "Mul" or mul_2.op != "Mul" or mul_1.inputs[1] != mul_2.inputs[1]:
            raise self.fail(f"{add.name}: not an inference BatchNorm (x * scale + (beta - mean * scale))")
        scale = self.node(mul_1.inputs[1])
        rsqrt = self.node(scale.inputs[0])
        var_eps = self.node(rsqrt.inputs[0]) if rsqrt.op == "Rsqrt" else rsqrt
        if scale.op != "Mul" or rsqrt.op != "Rsqrt" or var_eps.op != "AddV2":
            raise self.fail(f"{add.name}: BatchNorm scale is not rsqrt(var + eps) * gamma")
        eps = self.check_const(var_eps.inputs[1], "BatchNorm epsilon", lambda v: v.shape == () and v > 0)
        self._member.eps.add(float(str(np.float32(eps))))
        params = {"gamma": self.weight(scale.inputs[1], 1), "beta": self.weight(sub.inputs[0], 1),
                  "moving_mean": self.weight(mul_2.inputs[0], 1), "moving_variance": self.weight(var_eps.inputs[0], 1)}
        structure = self.intern("bn", self.describe(mul_1.inputs[0]))
        self.record(structure, "bn", params)
        return structure

    def crop(self, node: NodeDef) -> int:
        """Keras ``Cropping1D``: a StridedSlice ``[:, c:-c, :]``."""
        masks = tuple(node.attr.get(a) for a in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"))
        begin = self.check_const(node.inputs[1], "Cropping1D begin", lambda v: v.shape == (3,))
        self.check_const(node.inputs[2], "Cropping1D end", lambda v: v.tolist() == [0, -begin[1], 0])
        self.check_const(node.inputs[3], "Cropping1D strides", lambda v: v.tolist() == [1, 1, 1])
        if masks != (5, 5, 0, 0, 0) or begin[1] <= 0:
            raise self.fail(f"{node.name}: a StridedSlice that is not a symmetric crop of the length axis")
        return self.intern("crop", int(begin[1]), self.describe(node.inputs[0]))

    def softmax(self, div: NodeDef) -> int:
        """``exp(x - max(x)) / sum(exp(x - max(x)))`` over the last axis -> softmax id."""
        exp, total = self.node(div.inputs[0]), self.node(div.inputs[1])
        sub = self.node(exp.inputs[0]) if exp.op == "Exp" else exp
        peak = self.node(sub.inputs[1]) if sub.op == "Sub" else sub
        shape = (exp.op, total.op, sub.op, peak.op, total.inputs[0] == exp.name, peak.inputs[0] == sub.inputs[0])
        if shape != ("Exp", "Sum", "Sub", "Max", True, True):
            raise self.fail(f"{div.name}: a RealDiv that is not a softmax")
        for reduce in (total, peak):
            self.check_const(reduce.inputs[1], "softmax axis", lambda v: v.tolist() == -1)
        return self.intern("softmax", self.describe(sub.inputs[0]))

    def record(self, structure: int, kind: str, params: dict[str, str]) -> None:
        if structure in self._member.found:
            raise self.fail(f"two {kind} layers with identical inputs ({sorted(params.values())[0]})")
        self._member.found[structure] = (kind, params)

    def walk_member(self, ref: str) -> tuple[int, _Member]:
        self._memo, self._member = {}, _Member()
        return self.describe(ref), self._member


def _expected_structure(walker: _GraphWalker, config: SpliceAIConfig) -> tuple[int, dict[int, tuple[str, str]]]:
    """The structure id of one member built from ``config`` and, per layer id, ``(kind, state-dict prefix)``."""
    want: dict[int, tuple[str, str]] = {}
    c = config.channels

    def conv(prefix: str, k: int, d: int, c_in: int, c_out: int, x: int) -> int:
        want[walker.intern("conv", k, d, c_in, c_out, x)] = ("conv", prefix)
        return walker.intern("conv", k, d, c_in, c_out, x)

    def bn_relu(prefix: str, x: int) -> int:
        want[walker.intern("bn", x)] = ("bn", prefix)
        return walker.intern("relu", walker.intern("bn", x))

    h = conv("input_conv", 1, 1, config.input_channels, c, walker.intern("input"))
    skip = conv("input_skip", 1, 1, c, c, h)
    for s, (num_blocks, k, d) in enumerate(config.stages):
        for u in range(num_blocks):
            unit = f"stages.{s}.units.{u}"
            y = conv(f"{unit}.conv1", k, d, c, c, bn_relu(f"{unit}.norm1", h))
            y = conv(f"{unit}.conv2", k, d, c, c, bn_relu(f"{unit}.norm2", y))
            h = walker.intern("add", *sorted((h, y)))
        skip = walker.intern("add", *sorted((skip, conv(f"stages.{s}.skip", 1, 1, c, c, h))))
    logits = conv("classifier", 1, 1, c, config.num_labels, walker.intern("crop", config.flank, skip))
    return walker.intern("softmax", logits), want


_STATE_NAMES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
                "moving_mean": "running_mean", "moving_variance": "running_var"}


def _ensemble_outputs(walker: _GraphWalker) -> list[str]:
    """The members' softmax nodes: the graph's last node must be ``Identity(Mean(Pack(softmax...), 0))``."""
    last = walker.order[-1]
    mean = walker.node(last.inputs[0]) if last.op == "Identity" and last.inputs else last
    pack = walker.node(mean.inputs[0]) if mean.op == "Mean" else mean
    if mean.op != "Mean" or pack.op != "Pack" or pack.attr.get("axis") != 0 or mean.attr.get("keep_dims"):
        raise walker.fail(f"its output {last.name} is not Mean(Pack(members), axis 0) (found {mean.op} of {pack.op})")
    walker.check_const(mean.inputs[1], "ensemble Mean axis", lambda v: v.tolist() in (0, [0]))
    inputs = walker.order[0]
    if inputs.op != "Placeholder" or inputs.attr.get("shape") not in ((-1, -1, 4), None):
        raise walker.fail(f"its first node {inputs.name} is not the (batch, length, 4) input Placeholder")
    return [i for i in pack.inputs if not i.startswith("^")]


def graph_to_state_dict(nodes: list[NodeDef], source: str, config: SpliceAIConfig | None = None) -> tuple[dict, dict]:
    """``(state dict of a SpliceAIModel, conversion record)`` from the nodes of the CI-SpliceAI graph.

    ``config`` defaults to SpliceAI-10k with one member per ensemble input and the graph's
    BatchNorm epsilon. Raises :class:`NucleoforgeError` (one line) for any other graph.
    """
    import torch

    walker = _GraphWalker(nodes, source)
    outputs = _ensemble_outputs(walker)
    members = [walker.walk_member(ref) for ref in outputs]
    eps = {e for _, m in members for e in m.eps}
    if len(eps) != 1:
        raise walker.fail(f"BatchNorm epsilons {sorted(eps)}, expected one value")
    config = config or SpliceAIConfig(num_members=len(outputs), batch_norm_eps=eps.pop())
    if config.num_members != len(outputs):
        raise walker.fail(f"{len(outputs)} ensemble members, config expects {config.num_members}")
    top, want = _expected_structure(walker, config)
    consts = {n.name: n.attr.get("value") for n in nodes if n.op == "Const"}
    state: dict[str, torch.Tensor] = {}
    tensors: dict[str, str] = {}
    for m, ((structure, member), ref) in enumerate(zip(members, outputs)):
        if structure != top or len(member.found) != len(want):
            raise walker.fail(f"member {m} ({ref}) is not a SpliceAI network with stages {config.stages}, "
                              f"{config.channels} channels and ReLU ({len(member.found)} layers, expected {len(want)})")
        for layer, (kind, prefix) in want.items():
            for role, const_name in member.found[layer][1].items():
                array = consts[const_name]
                if role == "kernel":
                    array = array.transpose(2, 1, 0)  # (K, C_in, C_out) -> (C_out, C_in, K)
                key = f"members.{m}.{prefix}.{_STATE_NAMES[role]}"
                state[key] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
                tensors[const_name] = key
    leftover = sorted(set(consts) - walker.weights - set(walker.checked) - walker.ignored)
    if leftover:
        raise walker.fail(f"{len(leftover)} constants fit no layer, e.g. {leftover[0]}")
    record = {
        "graph": {"nodes": len(nodes), "input": nodes[0].name, "output": nodes[-1].name, "members": outputs,
                  "ensemble": "Mean over axis 0 of the members' stacked softmax outputs (softmax before the mean)",
                  "batch_norm_eps": config.batch_norm_eps},
        "mapping": tensors,
        "checked_constants": {what: sum(1 for w in walker.checked.values() if w == what)
                              for what in sorted(set(walker.checked.values()))},
        "ignored_constants": {"count": len(walker.ignored), "examples": sorted(walker.ignored)[:3],
                              "why": "shape arithmetic of dilated convolutions (SpaceToBatchND / BatchToSpaceND "
                                     "paddings and crops for Keras 'same' padding; the base padding is checked)"},
    }
    return state, record


def _wheel_version(source: Path) -> str | None:
    """The installed ``cispliceai`` version when ``source`` is the wheel's own graph file."""
    import importlib.metadata

    try:
        if source.resolve() == find_cispliceai_graph().resolve():
            return importlib.metadata.version("cispliceai")
    except (MissingPathError, importlib.metadata.PackageNotFoundError):
        pass
    return None


def _write_folder(dst: Path, model, conversion: dict) -> None:
    """config.json, model.safetensors, conversion.json and LICENSE into the (new, empty) folder ``dst``."""
    from safetensors.torch import save_file

    model.config.architectures = ["SpliceAIModel"]
    model.config.save_pretrained(dst)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(dst / "model.safetensors"), metadata={"format": "pt"})
    (dst / "conversion.json").write_text(json.dumps(conversion, indent=1) + "\n", encoding="utf-8")
    source = conversion["sources"][0]
    (dst / "LICENSE").write_text(LICENSE_NOTE + f"\nSource file: {source['file']} (sha256 {source['sha256']})\n")


def convert_cispliceai(out: str | Path, source: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """Convert CI-SpliceAI's frozen graph into ``out`` (config.json, model.safetensors, conversion.json, LICENSE).

    ``source``: the ``CI-SpliceAI.pb`` file; default the one of the installed ``cispliceai``
    wheel. The result is a 5-member SpliceAI-10k ensemble (``weights_family`` "cispliceai");
    the weights are CC BY 4.0 (attribution required). ``out`` must not exist or be an empty
    folder, unless ``overwrite``; it is written through a temporary sibling folder.
    """
    from nucleoforge.io.checkpoints import package_version

    from .modeling_spliceai import SpliceAIModel

    path = Path(source) if source is not None else find_cispliceai_graph()
    dst = Path(out).expanduser()
    if dst.exists() and (not dst.is_dir() or (any(dst.iterdir()) and not overwrite)):
        raise NucleoforgeError(f"{dst}: exists and is not an empty folder (pass --force to replace it)")
    state, record = graph_to_state_dict(read_graphdef(path), str(path))
    num_members = len(record["graph"]["members"])
    config = SpliceAIConfig(
        num_members=num_members, batch_norm_eps=record["graph"]["batch_norm_eps"], activation="relu",
        weights_family="cispliceai", weights_name=WEIGHTS_NAME, weights_licence=LICENCE, weights_source=path.name,
    )
    model = SpliceAIModel(config)  # keeps its zero num_batches_tracked, a training counter absent from the graph
    unfilled = sorted(k for k in set(model.state_dict()) - set(state) if not k.endswith("num_batches_tracked"))
    if unfilled:
        raise NucleoforgeError(f"{path}: model keys not filled by the graph: {unfilled[:3]}")
    model.load_state_dict(state, strict=False)
    version = _wheel_version(path)
    conversion = {
        "name": WEIGHTS_NAME, "weights_family": "cispliceai", "licence": LICENCE,
        "converter": f"{__name__} (nucleoforge {package_version()})",
        "sources": [{"file": path.name, "path": str(path), "sha256": sha256(path), "bytes": path.stat().st_size,
                     "package": f"cispliceai {version}" if version else None}],
        "members_found": num_members, **record,
        "ignored": ["*.num_batches_tracked (BatchNorm's training step counter; zeros in the converted folder)"],
    }
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", dir=dst.parent))
    try:
        _write_folder(tmp, model, conversion)
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted %s (%d members, %s) to %s", path, num_members, LICENCE, dst)
    return dst


__all__ = ["LICENCE", "LICENSE_NOTE", "convert_cispliceai", "find_cispliceai_graph", "graph_to_state_dict"]
