"""Configuration of SpliceAI (Jaganathan et al., Cell 2019).

The architecture is a list of *stages*; each stage is ``(num_blocks, kernel_size, dilation)``:
``num_blocks`` residual units with dilated convolutions of that width and dilation, followed by
a 1x1 skip convolution added into the skip sum. Everything else follows from the stages:

* each residual unit has two convolutions, each reading ``(kernel_size - 1) * dilation / 2``
  positions either side, so the total context is
  ``sum(num_blocks * 2 * (kernel_size - 1) * dilation)``;
* the model crops ``context // 2`` positions from each end of its input.

>>> SpliceAIConfig.from_variant("spliceai-10k").context
10000
>>> [SpliceAIConfig.from_variant(v).flank for v in SPLICEAI_VARIANTS]
[40, 200, 1000, 5000]
>>> SpliceAIConfig(stages=[(2, 3, 1)]).context
8
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from transformers import PretrainedConfig

from nucleoforge.errors import NucleoforgeError

#: The published architecture (SpliceAI-10k): 4 stages of 4 residual units,
#: kernel widths 11, 11, 21, 41 and dilations 1, 4, 10, 25.
SPLICEAI_10K_STAGES: tuple[tuple[int, int, int], ...] = ((4, 11, 1), (4, 11, 4), (4, 21, 10), (4, 41, 25))

#: Variant name -> number of stages of :data:`SPLICEAI_10K_STAGES` it uses (the paper's
#: SpliceAI-80/400/2k/10k are the first 4/8/12/16 residual units).
SPLICEAI_VARIANTS: dict[str, int] = {"spliceai-80": 1, "spliceai-400": 2, "spliceai-2k": 3, "spliceai-10k": 4}

#: Output classes, in the order of the original models' softmax.
SPLICEAI_LABELS: dict[int, str] = {0: "neither", 1: "acceptor", 2: "donor"}

#: Pangolin's tissues, in the order of its output channel groups.
PANGOLIN_TISSUES: tuple[str, ...] = ("heart", "liver", "brain", "testis")

ACTIVATIONS = ("relu", "leaky_relu")
HEADS = ("softmax", "pangolin")
WEIGHTS_FAMILIES = ("spliceai", "openspliceai", "cispliceai", "pangolin")


def _normalise_stages(stages: Iterable[Sequence[int]]) -> list[tuple[int, int, int]]:
    """Validate ``stages`` and return them as a list of int 3-tuples."""
    result: list[tuple[int, int, int]] = []
    for i, stage in enumerate(stages):
        values = tuple(stage)
        if len(values) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise NucleoforgeError(
                f"SpliceAIConfig.stages[{i}] = {stage!r}: expected (num_blocks, kernel_size, dilation) as 3 integers"
            )
        num_blocks, kernel_size, dilation = values
        for name, value in (("num_blocks", num_blocks), ("kernel_size", kernel_size), ("dilation", dilation)):
            if value <= 0:
                raise NucleoforgeError(f"SpliceAIConfig.stages[{i}]: {name} must be positive, got {value}")
        if kernel_size % 2 == 0:
            # Keras 'same' padding of an even kernel is asymmetric; the model is defined for odd widths only.
            raise NucleoforgeError(f"SpliceAIConfig.stages[{i}]: kernel_size must be odd, got {kernel_size}")
        result.append((num_blocks, kernel_size, dilation))
    if not result:
        raise NucleoforgeError("SpliceAIConfig.stages is empty: at least one (num_blocks, kernel_size, dilation) is needed")
    return result


def _check_temperatures(values, num_labels: int) -> list[float]:
    """``values`` as a list of ``num_labels`` positive finite floats (``calibration_temperatures``)."""
    import math

    try:
        temps = [float(v) for v in values if not isinstance(v, (bool, str))]
        ok = len(temps) == len(values) == num_labels and all(math.isfinite(t) and t > 0 for t in temps)
    except TypeError:
        ok = False
    if not ok:
        raise NucleoforgeError(f"SpliceAIConfig.calibration_temperatures must be {num_labels} positive finite numbers "
                         f"(one per class), got {values!r}")
    return temps


class SpliceAIConfig(PretrainedConfig):
    r"""Configuration of a SpliceAI model or ensemble.

    Args:
        stages: ``(num_blocks, kernel_size, dilation)`` per stage; defaults to SpliceAI-10k's
            ``[(4, 11, 1), (4, 11, 4), (4, 21, 10), (4, 41, 25)]``.
        channels: width of the residual trunk and of the skip sum (32 in the original).
        num_members: number of independently trained networks whose softmax outputs are
            averaged (the published SpliceAI is an ensemble of 5).
        batch_norm_eps: BatchNorm epsilon; Keras' default 1e-3 (PyTorch's 1e-5 changes outputs).
        input_channels: one-hot width (A, C, G, T).
        num_labels: output classes, ``neither``, ``acceptor``, ``donor``.
        calibration_temperatures: one positive temperature per class, fitted by
            ``nucleoforge calibrate-splice`` (:mod:`nucleoforge.splicing.calibration`); the model
            applies them only when asked (``forward(..., calibrated=True)``). ``None``: uncalibrated.
        calibration: what the temperatures were fitted on (data identity, ECE before/after,
            positions), written with them; informational.
        activation: ``relu`` (SpliceAI, CI-SpliceAI, Pangolin) or ``leaky_relu`` (OpenSpliceAI)
            after each BatchNorm of a residual unit.
        activation_slope: negative slope of ``leaky_relu`` (OpenSpliceAI: 0.1); unused for ``relu``.
        head: ``softmax`` (``num_labels`` classes per member, members' softmax averaged) or
            ``pangolin``: each member emits 3 channels per tissue (a softmax pair, then a sigmoid
            usage channel) and ``probabilities`` hold, per tissue, the mean over that tissue's
            members of P(splice site) (the second channel of the pair).
        tissues: tissue names of the ``pangolin`` head (default Pangolin's heart, liver, brain, testis).
        member_tissues: tissue index of every member (``pangolin`` head; one entry per member).
        weights_family: whose weights these are: ``spliceai``, ``openspliceai``, ``cispliceai``
            or ``pangolin`` (picks the variant-scoring rules and INFO key).
        weights_name / weights_licence / weights_source: display name, licence and source files of
            converted weights (``None`` for weights trained here from scratch).
    """

    model_type = "spliceai"

    stages: list | None = None
    channels: int = 32
    num_members: int = 1
    batch_norm_eps: float = 1e-3
    input_channels: int = 4
    calibration_temperatures: list | None = None
    calibration: dict | None = None
    activation: str = "relu"
    activation_slope: float = 0.1
    head: str = "softmax"
    tissues: list | None = None
    member_tissues: list | None = None
    weights_family: str = "spliceai"
    weights_name: str | None = None
    weights_licence: str | None = None
    weights_source: str | None = None

    def __post_init__(self, **kwargs):
        if kwargs.get("num_labels") is None and self.id2label is None:
            labels = dict(enumerate(self.tissues or PANGOLIN_TISSUES)) if self.head == "pangolin" else SPLICEAI_LABELS
            self.id2label = dict(labels)
            self.label2id = {v: k for k, v in labels.items()}
        super().__post_init__(**kwargs)
        self.stages = _normalise_stages(SPLICEAI_10K_STAGES if self.stages is None else self.stages)
        for name in ("channels", "num_members", "input_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise NucleoforgeError(f"SpliceAIConfig.{name} must be a positive integer, got {value!r}")
        if not self.batch_norm_eps > 0:
            raise NucleoforgeError(f"SpliceAIConfig.batch_norm_eps must be positive, got {self.batch_norm_eps!r}")
        if self.num_labels < 1:
            raise NucleoforgeError(f"SpliceAIConfig.num_labels must be positive, got {self.num_labels}")
        if self.calibration_temperatures is not None:
            self.calibration_temperatures = _check_temperatures(self.calibration_temperatures, self.num_labels)
        if self.calibration is not None and not isinstance(self.calibration, dict):
            raise NucleoforgeError(f"SpliceAIConfig.calibration must be a dict (or None), got {type(self.calibration).__name__}")
        self._check_variant_fields()

    def _check_variant_fields(self) -> None:
        """Validate the fields that describe the other weight families (activation, head, provenance)."""
        for name, allowed in (("activation", ACTIVATIONS), ("head", HEADS), ("weights_family", WEIGHTS_FAMILIES)):
            if getattr(self, name) not in allowed:
                raise NucleoforgeError(f"SpliceAIConfig.{name} = {getattr(self, name)!r}: expected one of {', '.join(allowed)}")
        slope = self.activation_slope
        if isinstance(slope, bool) or not isinstance(slope, (int, float)) or not 0 <= slope < 1:
            raise NucleoforgeError(f"SpliceAIConfig.activation_slope must be a number in [0, 1), got {slope!r}")
        for name in ("weights_name", "weights_licence", "weights_source"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise NucleoforgeError(f"SpliceAIConfig.{name} must be a string (or None), got {getattr(self, name)!r}")
        if self.head == "softmax":
            if self.tissues is not None or self.member_tissues is not None:
                raise NucleoforgeError("SpliceAIConfig.tissues / member_tissues belong to head 'pangolin'; this config has head 'softmax'")
            return
        self._check_pangolin_head()

    def _check_pangolin_head(self) -> None:
        tissues = list(PANGOLIN_TISSUES) if self.tissues is None else self.tissues
        if not isinstance(tissues, (list, tuple)) or not tissues or not all(isinstance(t, str) and t for t in tissues):
            raise NucleoforgeError(f"SpliceAIConfig.tissues must be a non-empty list of tissue names, got {self.tissues!r}")
        self.tissues = list(tissues)
        if self.num_labels != len(self.tissues):
            raise NucleoforgeError(f"SpliceAIConfig: head 'pangolin' outputs one probability per tissue, so num_labels must be "
                                   f"{len(self.tissues)} (len(tissues)), got {self.num_labels}")
        members = self.member_tissues
        if members is None:
            members = [m % len(self.tissues) for m in range(self.num_members)]
        ok = isinstance(members, (list, tuple)) and len(members) == self.num_members and all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t < len(self.tissues) for t in members)
        if not ok:
            raise NucleoforgeError(f"SpliceAIConfig.member_tissues must give a tissue index in [0, {len(self.tissues)}) for each of "
                                   f"the {self.num_members} members, got {self.member_tissues!r}")
        if set(members) != set(range(len(self.tissues))):
            missing = sorted(set(range(len(self.tissues))) - set(members))
            raise NucleoforgeError(f"SpliceAIConfig.member_tissues {list(members)}: no member for tissue(s) "
                                   f"{', '.join(self.tissues[t] for t in missing)}")
        self.member_tissues = list(members)
        if self.calibration_temperatures is not None:
            raise NucleoforgeError("SpliceAIConfig.calibration_temperatures: not supported with head 'pangolin'")

    @property
    def member_channels(self) -> int:
        """Output channels of one member: ``num_labels`` (softmax head) or 3 per tissue (pangolin head)."""
        return 3 * len(self.tissues) if self.head == "pangolin" else self.num_labels

    @property
    def context(self) -> int:
        """Total input positions needed besides the predicted ones (both sides together)."""
        return sum(n * 2 * (k - 1) * d for n, k, d in self.stages)

    @property
    def flank(self) -> int:
        """Context on each side: the model crops this many positions from each end."""
        return self.context // 2

    @classmethod
    def from_variant(cls, name: str, **kwargs) -> SpliceAIConfig:
        """Config of a paper variant: ``spliceai-80``, ``spliceai-400``, ``spliceai-2k`` or ``spliceai-10k``.

        >>> SpliceAIConfig.from_variant("spliceai-400", num_members=5).stages
        [(4, 11, 1), (4, 11, 4)]
        """
        if name not in SPLICEAI_VARIANTS:
            raise NucleoforgeError(f"unknown SpliceAI variant {name!r}; expected one of {sorted(SPLICEAI_VARIANTS)}")
        return cls(stages=list(SPLICEAI_10K_STAGES[: SPLICEAI_VARIANTS[name]]), **kwargs)


__all__ = ["ACTIVATIONS", "HEADS", "PANGOLIN_TISSUES", "SPLICEAI_10K_STAGES", "SPLICEAI_LABELS", "SPLICEAI_VARIANTS", "SpliceAIConfig", "WEIGHTS_FAMILIES"]
