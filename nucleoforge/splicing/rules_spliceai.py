"""SpliceAI's variant rules, as Illumina's ``spliceai`` 1.3.1 applies them (read from its source,
re-implemented here): the :class:`~nucleoforge.splicing.variant_family.ScoringFamily` of the
SpliceAI ensembles.

* the model: the five members' probabilities averaged (``SpliceAIModel``), channels
  neither / acceptor / donor; optionally with the fitted per-class temperatures (``calibrated``);
* indels (:meth:`SpliceAIFamily.align`): for a deletion zeros are inserted into the ALT track
  after the ALT allele; for an insertion the inserted positions are collapsed into one by their
  maximum;
* the delta scores (:class:`DeltaScores`): ``DS_AG = max(alt - ref)`` (acceptor),
  ``DS_AL = max(ref - alt)``, likewise for donors; ``DP = argmax - distance``; printed with two
  decimals (``-0.00`` can appear), ``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL``;
* masking (``-M 1``): gains at the annotated exon boundary nearest to POS and losses anywhere
  else are set to 0;
* REF and ALT both longer than one base: the entry ``ALT|GENE|.|.|.|.|.|.|.|.``.

>>> d = DeltaScores("A", "TANGO2", [0.25, -0.0, 0.0, 0.004], [3, -1, 0, 12])
>>> str(d)
'A|TANGO2|0.25|-0.00|0.00|0.00|3|-1|0|12'
>>> DeltaScores.parse(str(d)).dp, DeltaScores.parse("AG|TANGO2|.|.|.|.|.|.|.|.").ds_text
([3, -1, 0, 12], ['.', '.', '.', '.'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["SpliceAIFamily", "DeltaScores", "format_scores", "CHANNELS"]

#: the four delta scores and their track channels (1 = acceptor, 2 = donor)
CHANNELS = (("AG", 1), ("AL", 1), ("DG", 2), ("DL", 2))


def format_scores(alt: str, gene: str, ds: Sequence[float], dp: Sequence[int]) -> str:
    """The INFO entry, ``{:.2f}`` like the original (so ``-0.00`` can appear)."""
    return f"{alt}|{gene}|" + "|".join(f"{float(v):.2f}" for v in ds) + "|" + "|".join(str(int(p)) for p in dp)


@dataclass
class DeltaScores:
    """One ALT x gene: ``ds`` (AG, AL, DG, DL) and ``dp`` (their positions relative to POS), or
    None for both when the ALT is not scored (REF and ALT both longer than one base); ``gene`` is
    ``SYMBOL`` or ``SYMBOL|TRANSCRIPT_ID``. ``str()`` is the INFO entry."""

    alt: str
    gene: str
    ds: Sequence[float] | None
    dp: Sequence[int] | None
    text: str | None = None  # the entry as read (a cache or score file), kept as it was

    def __str__(self) -> str:
        if self.text is not None:
            return self.text
        if self.ds is None or self.dp is None:
            return f"{self.alt}|{self.gene}|.|.|.|.|.|.|.|."
        return format_scores(self.alt, self.gene, self.ds, self.dp)

    @property
    def ds_text(self) -> list[str]:
        """The four delta scores as the entry prints them (``.`` when unscored)."""
        return str(self).split("|")[-8:-4]

    @classmethod
    def parse(cls, entry: str) -> "DeltaScores":
        """The record of an INFO entry (a cache hit, a score file)."""
        fields = entry.split("|")
        values = fields[-8:]
        ds = None if values[0] == "." else [float(v) for v in values[:4]]
        dp = None if values[4] == "." else [int(v) for v in values[4:]]
        return cls(fields[0], "|".join(fields[1:-8]), ds, dp, text=entry)


class _Incremental:
    """Substitution cones of a SpliceAI ensemble (:mod:`nucleoforge.models.spliceai.incremental`)."""

    def __init__(self, model: Any, calibrated: bool) -> None:
        self.model, self.calibrated = model, calibrated

    def activation_bytes(self, window: int) -> int:
        from nucleoforge.models.spliceai.incremental import activation_bytes

        return activation_bytes(self.model.config, window)

    def run(self, x: np.ndarray, windows: np.ndarray, centers: np.ndarray, alt_x: np.ndarray, *, distance: int,
            batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        import torch

        from nucleoforge.models.spliceai.incremental import reference_pass, substitution_probabilities

        param = next(self.model.parameters())
        with torch.inference_mode():
            ref = reference_pass(self.model, torch.as_tensor(np.ascontiguousarray(x)).to(param.device, param.dtype),
                                 calibrated=self.calibrated)
            y = ref.probabilities.float().cpu().numpy()
            alts: list[np.ndarray] = []
            for k in range(0, len(windows), batch_size):
                part = slice(k, k + batch_size)
                probs = substitution_probabilities(
                    self.model, ref, torch.as_tensor(windows[part]), torch.as_tensor(centers[part]),
                    torch.as_tensor(np.ascontiguousarray(alt_x[part])), distance=distance, calibrated=self.calibrated)
                alts.extend(probs.float().cpu().numpy())
            del ref
        return y, alts


class SpliceAIFamily:
    """A SpliceAI ensemble as the variant scorer's family (see the module docstring).

    Args:
        model: ``SpliceAIModel`` (moved to ``device`` and put in eval mode here).
        calibrated: apply the model's fitted per-class temperatures (``calibrate-splice``).
        predict: a replacement for the model call (tests); it turns the substitution cones off.
    """

    info_key = "SpliceAI"
    entry_fields = 10

    def __init__(self, model: Any, *, device: str | None = None, calibrated: bool = False,
                 predict: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        from nucleoforge.errors import NucleoforgeError

        self.model, self.calibrated = model, bool(calibrated)
        self.context = int(model.config.context)
        if self.calibrated and getattr(model.config, "calibration_temperatures", None) is None:
            raise NucleoforgeError("calibrated=True: the model has no calibration_temperatures (fit them with calibrate-splice)")
        if predict is None:
            if device:
                model.to(device)
            model.eval()
        self._predict = predict
        self._incremental = _Incremental(model, self.calibrated) if predict is None and hasattr(model, "_fused_network") \
            else None

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self._predict is not None:
            return self._predict(x)
        from nucleoforge.pipelines.splice_predict import predict_flanked

        return predict_flanked(self.model, x, calibrated=self.calibrated)

    @property
    def incremental(self) -> _Incremental | None:
        return self._incremental

    def align(self, y_ref: np.ndarray, y_alt: np.ndarray, ref_len: int, alt_len: int) -> tuple[np.ndarray, np.ndarray]:
        c = len(y_ref) // 2
        if ref_len > 1 and alt_len == 1:
            # The original pads with float64 zeros, so its deltas are float64 here.
            y_alt = np.concatenate([y_alt[: c + alt_len], np.zeros((ref_len - alt_len, y_alt.shape[1])), y_alt[c + alt_len :]])
            y_ref = y_ref.astype(np.float64)
        elif ref_len == 1 and alt_len > 1:
            y_alt = np.concatenate([y_alt[:c], y_alt[c : c + alt_len].max(axis=0, keepdims=True), y_alt[c + alt_len :]])
        return y_ref, y_alt

    def entry(self, alt: str, gene: str, y_ref: np.ndarray, y_alt: np.ndarray, dist_boundary: int,
              mask: bool) -> DeltaScores:
        c = len(y_ref) // 2
        deltas = [y_alt[:, ch] - y_ref[:, ch] if name.endswith("G") else y_ref[:, ch] - y_alt[:, ch] for name, ch in CHANNELS]
        idx = [int(a.argmax()) for a in deltas]
        dp = [i - c for i in idx]
        # masked: a gain at the nearest annotated boundary, a loss anywhere else
        keep = [(p != dist_boundary) == name.endswith("G") for (name, _), p in zip(CHANNELS, dp)] if mask else [True] * 4
        # float64 product keeps the sign of a masked negative delta ("-0.00"), as the original.
        ds = [np.float64(a[i]) * (1 if k else 0) for a, i, k in zip(deltas, idx, keep)]
        return DeltaScores(alt, gene, ds, dp)

    def unscored_entry(self, alt: str, gene: str) -> DeltaScores:
        return DeltaScores(alt, gene, None, None)

    def has_scores(self, entry: str) -> bool:
        return entry.split("|")[-8] != "."

    def info_lines(self, transcripts: bool) -> list[str]:
        from nucleoforge.io.vcf_output import SPLICEAI_INFO_LINE, SPLICEAI_TX_INFO_LINE

        return [SPLICEAI_INFO_LINE, *([SPLICEAI_TX_INFO_LINE] if transcripts else [])]

    def identity(self) -> dict[str, Any]:
        from nucleoforge.io.outputs import model_identity

        temps = self.model.config.calibration_temperatures if self.calibrated else None
        return {"format": "spliceai-info/1", "calibration_temperatures": list(temps) if temps is not None else None,
                "model_sha256": model_identity(self.model)["sha256"], "context": self.context}

    def run_parameters(self) -> dict[str, Any]:
        # only when set, so manifests of uncalibrated runs stay as they were
        return {"calibration_temperatures": list(self.model.config.calibration_temperatures)} if self.calibrated else {}

    def provenance_fields(self) -> list[str]:
        return [f"calibrated={int(self.calibrated)}"]
