"""Calibration of SpliceAI's probabilities: per-class temperature scaling on a validation split.

**Model.** Let ``z = log p`` be the log of the published output — the mean of the members'
softmax (:func:`~nucleoforge.models.spliceai.modeling_spliceai.ensemble_log_probabilities`; for
one member simply its ``log_softmax``), so a single network and an ensemble are handled alike.
The calibrated output is ``softmax(z / T)`` with one positive temperature per class
``T = (T_neither, T_acceptor, T_donor)``; ``T = (1, 1, 1)`` is the uncalibrated output.

**Fit** (:func:`fit_temperatures`). ``T`` minimises the weighted negative log-likelihood of the
labels over the validation split's counted positions (:func:`~nucleoforge.io.splice_h5.counted`:
``W = 1`` and a label 0/1/2): L-BFGS (strong-Wolfe line
search) on ``log T`` from ``log T = 0``, in float64 on the CPU, so the same positions give the
same temperatures. ``T`` is kept within ``[1/100, 100]`` by a smooth reparametrisation
(``log T = log(100) tanh(v / log(100))``, optimised over ``v``; the optimum inside the bounds is
unchanged): ``z_c / T_c -> 0`` as ``T_c -> inf`` is a constant logit, a limit the NLL can
approach without end when class ``c``'s scores carry no information (a random model). Positions: every positive (acceptor or donor) and at most
``max_negatives`` (default 200,000) negatives drawn uniformly without replacement with
``seed``; each sampled negative carries the weight ``negatives / sampled negatives`` so the
weighted NLL (and ECE) estimate those of all positions. ``max_rows`` optionally subsamples the
split's rows (with the same seed) to bound the model pass.

**ECE** (:func:`expected_calibration_error`). One-vs-rest per class (acceptor: confidence
``q_acceptor``, outcome ``label == acceptor``; donor likewise), 15 equal-width bins
``[k/15, (k+1)/15)`` (1.0 in the last), ``ECE = sum_b (W_b / W) |acc_b - conf_b|`` with
position weights ``W``. It is reported before (``T = 1``) and after on the positions the
temperatures were fitted on (three parameters: the in-sample optimism is negligible).

**Data.** A ``nucleoforge splice-data`` folder: ``dataset.json`` (``format``
``nucleoforge-splice-data/1``, ``context`` C, ``block``) and ``{train,validation,test}.h5``
with ``X`` uint8 ``(N, block + C)`` (0=N 1=A 2=C 3=G 4=T, transcript strand), ``Y`` int8
``(N, block)`` (0 neither, 1 acceptor, 2 donor, -1 padding) and ``W`` uint8 ``(N, block)``
(1 = counts). A model of context ``c <= C`` reads ``X[:, (C - c)//2 : (C - c)//2 + block + c]``.
It is opened and checked with :mod:`nucleoforge.io.splice_h5` (X, Y and W and every label), read
with it (``Y``/``W`` first to choose the positions, then ``X`` of the rows that hold one).

**Storage.** :func:`calibrate_model` writes ``calibration_temperatures`` (3 floats) and
``calibration`` (what they were fitted on, ECE before/after, positions) into the model folder's
``config.json`` — in place, or into a new folder with the weights copied — atomically, with the
reliability diagram (:func:`nucleoforge.splicing.plots.plot_reliability`). Predictions use them
only when asked: ``SpliceAIModel(..., calibrated=True)``, ``predict_flanked(...,
calibrated=True)``, ``--calibrated`` on ``splice``, ``variants`` and ``evaluate-splice``.

>>> import numpy as np
>>> expected_calibration_error(np.array([0.05, 0.05, 0.95, 0.5, 0.55]), np.array([0, 1, 1, 0, 1]))
0.38
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.splice_h5 import DATASET_FORMAT, counted_labels, read_block_rows, read_splice_dataset

__all__ = [
    "DATA_FORMAT", "ECE_BINS", "CalibrationResult", "SpliceSplit", "calibrate_model", "expected_calibration_error",
    "fit_model_temperatures", "fit_temperatures", "open_split", "reliability_bins", "weighted_nll",
]  # fmt: skip

#: ``dataset.json`` ``format`` of a ``nucleoforge splice-data`` folder (:mod:`nucleoforge.io.splice_h5`).
DATA_FORMAT = DATASET_FORMAT
#: Equal-width bins of the expected calibration error and the reliability diagram.
ECE_BINS = 15
#: Classes whose one-vs-rest ECE is reported (index in the softmax -> name).
ECE_CLASSES = {1: "acceptor", 2: "donor"}
CLASS_NAMES = ("neither", "acceptor", "donor")


# ---------------------------------------------------------------------------- ECE and the reliability curve
def reliability_bins(confidence: np.ndarray, outcome: np.ndarray, weights: np.ndarray | None = None,
                     n_bins: int = ECE_BINS) -> dict[str, Any]:
    """Per-bin ``weight`` (sum of position weights), mean ``confidence`` and ``accuracy`` (fraction
    of positive outcomes; NaN in an empty bin) over ``n_bins`` equal-width bins of ``confidence``,
    and the ``ece``; plus ``count`` (positions, unweighted) and ``edges``."""
    conf = np.asarray(confidence, dtype=np.float64).reshape(-1)
    hit = np.asarray(outcome).reshape(-1).astype(np.float64)
    w = np.ones_like(conf) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if not conf.shape == hit.shape == w.shape:
        raise NucleoforgeError(f"confidence, outcome and weights must have one value per position, got "
                         f"{conf.shape}, {hit.shape} and {w.shape}")
    if conf.size and (conf.min() < 0 or conf.max() > 1 or not np.isfinite(conf).all()):
        raise NucleoforgeError("confidence must be probabilities in [0, 1]")
    idx = np.clip(np.floor(conf * n_bins).astype(np.int64), 0, n_bins - 1)
    weight = np.bincount(idx, weights=w, minlength=n_bins)
    sum_conf = np.bincount(idx, weights=w * conf, minlength=n_bins)
    sum_hit = np.bincount(idx, weights=w * hit, minlength=n_bins)
    total = weight.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf, acc = sum_conf / weight, sum_hit / weight
    ece = float(np.abs(sum_hit - sum_conf).sum() / total) if total > 0 else float("nan")
    return {"edges": np.linspace(0.0, 1.0, n_bins + 1), "weight": weight, "count": np.bincount(idx, minlength=n_bins),
            "confidence": mean_conf, "accuracy": acc, "ece": ece}


def expected_calibration_error(confidence: np.ndarray, outcome: np.ndarray, weights: np.ndarray | None = None,
                               n_bins: int = ECE_BINS) -> float:
    """Expected calibration error of one-vs-rest ``confidence`` (probabilities of one class)
    against ``outcome`` (1 = the position is that class): ``sum_b (W_b / W) |acc_b - conf_b|``
    over ``n_bins`` equal-width bins ``[k/n, (k+1)/n)`` (1.0 falls in the last), ``W`` the sum of
    position ``weights`` (default 1 each). Rounded to 12 decimals."""
    return round(reliability_bins(confidence, outcome, weights, n_bins)["ece"], 12)


# ---------------------------------------------------------------------------- temperatures
def _as_float64(x: Any):
    import torch

    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.detach().cpu()).to(torch.float64)


def weighted_nll(log_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
                 temperatures: Sequence[float] | None = None) -> float:
    """Weighted mean NLL of ``labels`` under ``softmax(log_probs / temperatures)`` (default T = 1)."""
    import torch

    z, y = _as_float64(log_probs), torch.as_tensor(np.asarray(labels), dtype=torch.long)
    w = torch.ones(len(y), dtype=torch.float64) if weights is None else _as_float64(weights)
    t = torch.ones(z.shape[-1], dtype=torch.float64) if temperatures is None else _as_float64(temperatures)
    nll = -torch.log_softmax(z / t, dim=-1).gather(1, y[:, None])[:, 0]
    return float((w * nll).sum() / w.sum())


def fit_temperatures(log_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, *,
                     max_iter: int = 200, max_temperature: float = 100.0) -> np.ndarray:
    """Per-class temperatures ``T`` (float64, one per class) minimising the weighted NLL of
    ``labels`` under ``softmax(log_probs / T)``.

    ``log_probs`` ``(N, C)`` are log-probabilities (the model's ``log p``), ``labels`` ``(N,)``
    class indices, ``weights`` ``(N,)`` non-negative position weights (default 1). L-BFGS with a
    strong-Wolfe line search on ``log T`` from 0, in float64: deterministic. Every class must
    occur among the labels (a class that never occurs would be driven to ``T -> 0``).
    ``T`` stays within ``[1/max_temperature, max_temperature]`` (smoothly: ``log T =
    log(max_temperature) tanh(v / log(max_temperature))``, ``v`` optimised).
    """
    import torch

    z = _as_float64(log_probs)
    if z.dim() != 2 or z.shape[0] == 0:
        raise NucleoforgeError(f"log_probs must be (positions, classes) with at least one position, got shape {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise NucleoforgeError("log_probs must be finite (use the log of the probabilities computed in log space)")
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
    if len(y) != len(z) or (y < 0).any() or (y >= z.shape[1]).any():
        raise NucleoforgeError(f"labels must be {len(z)} class indices in [0, {z.shape[1]})")
    w = torch.ones(len(y), dtype=torch.float64) if weights is None else _as_float64(weights).reshape(-1)
    if len(w) != len(y) or (w < 0).any() or not torch.isfinite(w).all():
        raise NucleoforgeError(f"weights must be {len(y)} finite non-negative numbers")
    present = torch.bincount(y[w > 0], minlength=z.shape[1])
    missing = [CLASS_NAMES[c] if z.shape[1] == 3 else str(c) for c in range(z.shape[1]) if present[c] == 0]
    if missing:
        raise NucleoforgeError(f"cannot fit temperatures: no position of class {', '.join(missing)} to fit on")
    w = w / w.sum()
    bound = math.log(max_temperature)
    v = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)  # log T = bound * tanh(v / bound)

    def temperatures() -> torch.Tensor:
        return (bound * torch.tanh(v / bound)).exp()

    opt = torch.optim.LBFGS([v], lr=1.0, max_iter=max_iter, history_size=20, tolerance_grad=1e-10,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        nll = -torch.log_softmax(z / temperatures(), dim=-1).gather(1, y[:, None])[:, 0]
        loss = (w * nll).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        temps = temperatures().numpy()
    if not np.isfinite(temps).all():
        raise NucleoforgeError("the temperature fit did not converge (non-finite temperatures)")
    return temps


# ---------------------------------------------------------------------------- the dataset
@dataclass
class SpliceSplit:
    """One split of a ``splice-data`` folder, checked for calibration (see :func:`open_split`)."""

    dataset: Any  # nucleoforge.io.splice_h5.SpliceDataset
    name: str
    path: Path
    context: int
    block: int
    rows: int

    @property
    def folder(self) -> Path:
        return Path(self.dataset.path)


def open_split(data_dir: str | os.PathLike, split: str, model_context: int | None = None) -> SpliceSplit:
    """Open ``data_dir`` with :func:`nucleoforge.io.splice_h5.read_splice_dataset`, check its
    ``split`` file (``X``, ``Y``, ``W`` of the documented shapes and dtypes) and, given
    ``model_context``, that the data's context covers the model's. Every problem is a one-line
    :class:`NucleoforgeError` naming the file."""
    ds = read_splice_dataset(data_dir)  # dataset.json, its format, context and block
    path = ds.path / f"{split}.h5"
    if not path.is_file():
        raise MissingPathError(f"{path}: no such file ({ds.path} has no {split} split)")
    rows = ds.check_split(split)  # X, Y and W: names, dtypes, shapes, rows; every label
    if model_context is not None:
        ds.check_context(model_context)
    return SpliceSplit(ds, split, path, ds.context, ds.block, rows)


def _select_positions(split: SpliceSplit, *, max_negatives: int, seed: int, max_rows: int | None,
                      rows_at_once: int = 512) -> tuple[np.ndarray, list[np.ndarray], dict[str, Any]]:
    """Rows to read and, per row, the selected columns and their labels and weights.

    Returns ``(rows, [cols_per_row], info)`` with the labels/weights in ``info``. Every counted
    positive is kept; counted negatives are sampled (``max_negatives``, ``seed``).
    """
    rng = np.random.default_rng(seed)
    rows = np.arange(split.rows)
    if max_rows is not None and max_rows < split.rows:
        rows = np.sort(rng.choice(split.rows, size=max_rows, replace=False))
    labels_rows: list[np.ndarray] = []
    with split.dataset.open(split.name) as fh:  # Y and W only (X is read once, for the rows needed)
        for i in range(0, len(rows), rows_at_once):
            r = rows[i : i + rows_at_once]
            span = slice(int(r[0]), int(r[-1]) + 1) if r[-1] - r[0] + 1 == len(r) else r
            y, w = read_block_rows(fh, span, names=("Y", "W"))
            labels_rows.append(counted_labels(y, w, -1).astype(np.int8))
    labels = np.concatenate(labels_rows) if labels_rows else np.zeros((0, split.block), np.int8)
    flat = labels.reshape(-1)
    neg = np.flatnonzero(flat == 0)
    n_neg, n_pos = len(neg), int(((flat == 1) | (flat == 2)).sum())
    keep = flat > 0
    if n_neg > max_negatives:
        keep[np.sort(rng.choice(neg, size=max_negatives, replace=False))] = True
    else:
        keep[neg] = True
    n_sampled = min(n_neg, max_negatives)
    neg_weight = n_neg / n_sampled if n_sampled else 1.0
    keep = keep.reshape(labels.shape)
    cols = [np.flatnonzero(k) for k in keep]
    y_sel = labels[keep]
    w_sel = np.where(y_sel == 0, neg_weight, 1.0)
    info = {"rows": int(len(rows)), "positives": n_pos, "acceptors": int((flat == 1).sum()), "donors": int((flat == 2).sum()),
            "negatives": n_neg, "negatives_sampled": n_sampled, "negative_weight": float(neg_weight),
            "labels": y_sel.astype(np.int64), "weights": w_sel}
    return rows, cols, info


def _collect_log_probs(model: Any, split: SpliceSplit, rows: np.ndarray, cols: list[np.ndarray], *,
                       batch_size: int, device: str | None, progress: bool) -> np.ndarray:
    """The uncalibrated ``log p`` ``(positions, 3)`` float32 at the selected columns, row by row."""
    import torch

    from nucleoforge.io.splice_h5 import one_hot_codes
    from nucleoforge.models.spliceai.modeling_spliceai import ensemble_log_probabilities

    if device:
        model.to(device)
    param = next(model.parameters())
    todo = [i for i, c in enumerate(cols) if len(c)]
    out: list[np.ndarray] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), unit="row", desc=f"calibrate-splice ({split.name})")
    was_training = model.training
    model.eval()
    try:
        batches = split.dataset.iter_batches(split.name, batch_size, context=int(model.config.context),
                                             rows=rows[todo])  # X cropped to the model's context
        with torch.inference_mode():
            for i, (codes, _, _) in zip(range(0, len(todo), batch_size), batches):
                batch = todo[i : i + batch_size]
                x = torch.from_numpy(one_hot_codes(codes)).to(device=param.device, dtype=param.dtype)
                logits = model(x, output_members=True).member_logits
                log_p = ensemble_log_probabilities(logits).cpu().numpy()
                for k, j in enumerate(batch):
                    out.append(log_p[k, cols[j]])
                if bar is not None:
                    bar.update(len(batch))
    finally:
        model.train(was_training)
        if bar is not None:
            bar.close()
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 3), np.float32)


# ---------------------------------------------------------------------------- the whole job
@dataclass
class CalibrationResult:
    """Fitted temperatures, ECE before/after, the positions used and the reliability curves."""

    temperatures: list[float]
    ece_before: dict[str, float]
    ece_after: dict[str, float]
    nll_before: float
    nll_after: float
    positions: dict[str, Any]
    data: dict[str, Any]
    settings: dict[str, Any]
    bins: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)  # before/after -> class
    config: str | None = None  # the config.json written
    plot: str | None = None  # the reliability diagram written

    def metadata(self) -> dict[str, Any]:
        """The ``calibration`` entry stored beside ``calibration_temperatures`` in config.json."""
        return {
            "method": "per-class temperature scaling: softmax(log(mean member softmax) / T)",
            "classes": list(CLASS_NAMES),
            "data": self.data,
            "positions": self.positions,
            "settings": self.settings,
            "ece_bins": ECE_BINS,
            "ece_before": self.ece_before,
            "ece_after": self.ece_after,
            "nll_before": self.nll_before,
            "nll_after": self.nll_after,
        }

    def summary(self) -> dict[str, Any]:
        """The JSON line of ``calibrate-splice``."""
        return {"temperatures": self.temperatures, "ece_before": self.ece_before, "ece_after": self.ece_after,
                "nll_before": self.nll_before, "nll_after": self.nll_after, "positions": self.positions["fitted"],
                "config": self.config, "plot": self.plot}

    def table(self) -> str:
        p = self.positions
        rows = [f"{'class':<9} {'temperature':>11} {'positions':>12} {'ECE before':>10} {'ECE after':>10}"]
        counts = {"neither": p["negatives"], "acceptor": p["acceptors"], "donor": p["donors"]}
        for c, name in enumerate(CLASS_NAMES):
            before = f"{self.ece_before[name]:.4e}" if name in self.ece_before else "-"
            after = f"{self.ece_after[name]:.4e}" if name in self.ece_after else "-"
            rows.append(f"{name:<9} {self.temperatures[c]:>11.4f} {counts[name]:>12,} {before:>10} {after:>10}")
        rows.append(f"fitted on {p['fitted']:,} positions of {p['rows']:,} {self.data['split']} rows "
                    f"({p['positives']:,} positives, {p['negatives_sampled']:,} of {p['negatives']:,} negatives, "
                    f"weight {p['negative_weight']:.4g}) | NLL {self.nll_before:.6g} -> {self.nll_after:.6g}")
        return "\n".join(rows)


def _sig(x: float, digits: int = 6) -> float:
    """``x`` to ``digits`` significant digits (ECE and NLL are small numbers)."""
    return float(f"{x:.{digits}g}")


def _data_identity(split: SpliceSplit) -> dict[str, Any]:
    from nucleoforge.io.outputs import file_identity, file_sha256

    meta_path = split.folder / "dataset.json"
    return {"path": str(split.folder.resolve()), "format": DATA_FORMAT, "context": split.context, "block": split.block,
            "dataset_json_sha256": file_sha256(meta_path), "split": split.name, "file": file_identity(split.path)}


def fit_model_temperatures(model: Any, data_dir: str | os.PathLike, *, split: str = "validation",
                           max_negatives: int = 200_000, seed: int = 0, max_rows: int | None = None,
                           batch_size: int = 8, device: str | None = None, progress: bool = False) -> CalibrationResult:
    """Fit ``model``'s per-class temperatures on ``data_dir``'s ``split`` (nothing is written).

    The model's own (uncalibrated) outputs are used even when its config already holds
    temperatures, so refitting starts over.
    """
    if max_negatives < 1 or batch_size < 1:
        raise NucleoforgeError(f"max_negatives and batch_size must be positive, got {max_negatives} and {batch_size}")
    if max_rows is not None and max_rows < 1:
        raise NucleoforgeError(f"max_rows must be positive, got {max_rows}")
    data = open_split(data_dir, split, int(model.config.context))
    if model.config.num_labels != 3:
        raise NucleoforgeError(f"calibration needs the 3 SpliceAI classes, the model has {model.config.num_labels}")
    rows, cols, info = _select_positions(data, max_negatives=max_negatives, seed=seed, max_rows=max_rows)
    labels, weights = info.pop("labels"), info.pop("weights")
    if not len(labels):
        raise NucleoforgeError(f"{data.path}: no position with W = 1 to calibrate on")
    log_p = _collect_log_probs(model, data, rows, cols, batch_size=batch_size, device=device, progress=progress)
    temps = fit_temperatures(log_p, labels, weights)

    import torch

    from nucleoforge.models.spliceai.modeling_spliceai import apply_temperatures

    z = torch.from_numpy(log_p)
    probs = {"before": torch.softmax(z, dim=-1).numpy(), "after": apply_temperatures(z, temps.astype(np.float32)).numpy()}
    bins = {when: {name: reliability_bins(q[:, c], labels == c, weights) for c, name in ECE_CLASSES.items()}
            for when, q in probs.items()}
    ece = {when: {name: _sig(b["ece"]) for name, b in per.items()} for when, per in bins.items()}
    return CalibrationResult(
        temperatures=[float(t) for t in temps],
        ece_before=ece["before"], ece_after=ece["after"],
        nll_before=_sig(weighted_nll(log_p, labels, weights)),
        nll_after=_sig(weighted_nll(log_p, labels, weights, temps)),
        positions={**info, "fitted": int(len(labels))},
        data=_data_identity(data),
        settings={"max_negatives": max_negatives, "seed": seed, "max_rows": max_rows},
        bins=bins,
    )


_PLOT_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def calibrate_model(model_dir: str | os.PathLike, data_dir: str | os.PathLike, *, output_dir: str | os.PathLike | None = None,
                    overwrite: bool = False, plot: str | os.PathLike | None = None, split: str = "validation", max_negatives: int = 200_000,
                    seed: int = 0, max_rows: int | None = None, batch_size: int = 8, device: str | None = None,
                    progress: bool = False) -> CalibrationResult:
    """``nucleoforge calibrate-splice``: fit, draw the reliability diagram, store the temperatures.

    Loads the SpliceAI folder ``model_dir`` (or a name such as ``spliceai-10k``, then
    ``output_dir`` is required), fits per-class temperatures on ``data_dir``'s ``split``
    (:func:`fit_model_temperatures`) and writes ``calibration_temperatures`` + ``calibration``
    into ``config.json``: of ``model_dir`` itself (atomically: the other files are untouched),
    or of the new folder ``output_dir`` (every file of the model folder copied, the folder
    assembled beside its target and renamed when complete; it must not exist or be empty, unless
    ``overwrite``: then the old folder is replaced only once the new one is complete).
    The reliability diagram goes to ``plot`` (default ``reliability.png`` in the folder written),
    before the config, so a failed plot leaves the config as it was. Every check on the paths
    happens before the model is run.
    """
    from nucleoforge.io.output_folders import atomic_folder, check_output_folder
    from nucleoforge.io.outputs import atomic_output, atomic_path, check_paths
    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

    name = str(model_dir)
    source: Path | None = Path(name) if Path(name).is_dir() else None  # else a name such as spliceai-10k
    if output_dir is None:
        if source is None:
            raise NucleoforgeError(f"--model {name}: not a model folder; calibrate-splice writes the temperatures into the "
                             "folder's config.json, so give a saved folder, or --output NEW_DIR to write a calibrated copy")
        if not (source / "config.json").is_file():
            raise MissingPathError(f"{source / 'config.json'}: no such file (--model must be a saved SpliceAI folder)")
        target = source
    else:
        target = Path(output_dir)
        check_output_folder(target, overwrite=overwrite, inputs=(source, Path(data_dir)))
    plot_path = Path(plot) if plot is not None else target / "reliability.png"
    fmt = _PLOT_FORMATS.get(plot_path.suffix.lower())
    if fmt is None:
        raise NucleoforgeError(f"--plot {plot_path}: expected a .png, .pdf or .svg file name")
    inside = plot is None or plot_path.resolve().parent == target.resolve()  # drawn into the folder written
    if not (inside and output_dir is not None):  # a new folder's plot is checked with the folder
        check_paths({}, {"--plot": plot_path})
    open_split(data_dir, split)  # the data is checked before the model loads

    model = SpliceAIModel.from_pretrained(name).eval()
    if source is None:  # the folder the name resolved to (the converted cache folder of spliceai-10k)
        resolved = Path(str(model.name_or_path))
        source = resolved if resolved.is_dir() else None
    result = fit_model_temperatures(model, data_dir, split=split, max_negatives=max_negatives, seed=seed,
                                    max_rows=max_rows, batch_size=batch_size, device=device, progress=progress)

    def write_config(folder: Path, original: Path | None) -> Path:
        config = json.loads(original.read_text()) if original is not None and original.is_file() else model.config.to_dict()
        config["calibration_temperatures"] = result.temperatures
        config["calibration"] = result.metadata()
        SpliceAIConfig.from_dict(dict(config))  # validates before anything is replaced
        path = folder / "config.json"
        with atomic_output(path) as fh:
            fh.write(json.dumps(config, indent=2, sort_keys=True) + "\n")
        return path

    def draw(path: Path) -> None:
        from nucleoforge.splicing.plots import plot_reliability

        with atomic_path(path) as tmp:
            plot_reliability(result.bins["before"], result.bins["after"], tmp, format=fmt,
                             title=f"SpliceAI calibration on {Path(data_dir).name}/{split} "
                                   f"(T = {', '.join(f'{t:.3g}' for t in result.temperatures)})")

    if output_dir is None:
        draw(plot_path)
        config_path = write_config(target, target / "config.json")
        result.config, result.plot = str(config_path), str(plot_path)
        return result
    if not inside:
        draw(plot_path)
    with atomic_folder(target, overwrite=overwrite, inputs=(source, Path(data_dir))) as tmp_dir:  # swapped in when complete
        if source is not None:
            for item in sorted(source.iterdir()):
                if item.is_file() and item.name != "reliability.png":
                    shutil.copy2(item, tmp_dir / item.name)
        else:  # a model without a folder on disk: save what was loaded
            model.save_pretrained(tmp_dir)
        if inside:
            draw(tmp_dir / plot_path.name)
        write_config(tmp_dir, tmp_dir / "config.json")
    result.config, result.plot = str(target / "config.json"), str(plot_path)
    return result
