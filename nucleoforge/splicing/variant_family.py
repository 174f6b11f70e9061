"""The one interface between the variant-scoring engine and a splice-model family.

The engine (:class:`~nucleoforge.splicing.scoring.VariantScorer`) does everything that does not
depend on the model: the record rules (:mod:`.variant_rules`), reference windows shared by nearby
variants, ALT windows and their batching, substitution cones and the activation-memory cap, the
score cache and score files; the VCF driver (:mod:`.scoring_vcf`) adds resume, manifests and the
sharded runs. A family (:class:`ScoringFamily`) says how its model predicts a window, how an
ALT track is aligned on the reference track, and how the two become one INFO entry.

SpliceAI (:class:`~nucleoforge.splicing.rules_spliceai.SpliceAIFamily`): five members whose
probabilities are averaged, channels neither/acceptor/donor, the indel rules of Illumina's
``spliceai``, the ``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL`` entry and its
masking rule (``-M 1``).

Pangolin (:class:`~nucleoforge.splicing.rules_pangolin.PangolinFamily`): 12 models in four
tissue groups, the original ``pangolin`` command's window, indel alignment, per-strand gains and
losses, per-gene masking and its ``GENE|POS:GAIN|POS:LOSS|Warnings:`` entries. It uses the optional
hooks below, which change what the engine does per gene:

* ``gene_view(genes) -> GeneTable``: the family's reading of the annotation (Pangolin: gene
  bodies and the exon ends of all transcripts, :mod:`.pangolin_genes`);
* ``gene_groups(genes, gene_ids, pos) -> list[list[int]]``: the genes of a variant, in entry
  order, grouped by the prediction they share. A family with groups gets windows of the plain
  reference (no N outside the gene), one prediction per group (a strand), and
  ``group_entries(alt, pos, distance, [(label, Gene)], y_ref, y_alt, mask)`` instead of ``entry``:
  the records of the group's genes, in order;
* ``track_span(ref_len, alt_len, distance) -> (first, last)``: the reference track's positions
  relative to POS (default ``(-distance, distance)``);
* ``allele_rule(ref, alt, index) -> reason | None``: why ALT number ``index`` is not scored
  (:data:`~.variant_rules.SkipReason.MNV`: an ``unscored_entry`` per gene); the default leaves
  REF and ALT both longer than one base unscored;
* ``gene_windows = True`` (with ``gene_groups``): each group is one gene whose windows are N
  outside it, instead of a strand's plain reference;
* ``select_entries(records) -> [index, ...]``: the entries of one ALT that are kept (default all).

CI-SpliceAI (:class:`~nucleoforge.splicing.rules_cispliceai.CISpliceAIFamily`): SpliceAI's entry
with the original ``cis-vcf``'s rules (its own gene table, a ``2D + 2``-position track for an SNV,
its indel alignment, MNVs scored, ``+``/``-`` outside genes, the most significant gene only).

Defaults of each family's original command line: :func:`default_settings`.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["ScoringFamily", "IncrementalModel", "family_for", "default_settings", "DEFAULT_SETTINGS"]


@runtime_checkable
class IncrementalModel(Protocol):
    """ALT tracks of single-base substitutions from one reference pass (cones of changed positions)."""

    def activation_bytes(self, window: int) -> int:
        """Bytes of reference activations one ``window``-nt input keeps (the memory cap's unit)."""

    def run(self, x: np.ndarray, windows: np.ndarray, centers: np.ndarray, alt_x: np.ndarray, *, distance: int,
            batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Reference tracks ``(B, L - context, C)`` of the one-hot windows ``x``, and per
        substitution ``i`` (base ``alt_x[i]`` at input position ``centers[i]`` of window
        ``windows[i]``) its ALT track ``(2 * distance + 1, C)``; ``batch_size`` substitutions at a time."""


@runtime_checkable
class ScoringFamily(Protocol):
    """What the engine asks of a model family (see the module docstring)."""

    model: Any  #: the weights: their identity goes into cache keys, manifests and provenance lines
    context: int  #: input nucleotides around the predicted positions (both sides together)
    info_key: str  #: the VCF INFO field of the entries (``SpliceAI``)
    entry_fields: int  #: ``|``-separated fields of an entry with a plain gene name (a score file's check)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Tracks ``(B, L - context, C)`` of one-hot windows ``(B, L, 4)`` (members combined)."""

    @property
    def incremental(self) -> IncrementalModel | None:
        """Substitution cones, or None: every ALT gets a full ALT pass."""

    def align(self, y_ref: np.ndarray, y_alt: np.ndarray, ref_len: int, alt_len: int) -> tuple[np.ndarray, np.ndarray]:
        """The ALT track of an indel aligned on the reference track (both ``(2 * distance + 1, C)`` after)."""

    def entry(self, alt: str, gene: str, y_ref: np.ndarray, y_alt: np.ndarray, dist_boundary: int, mask: bool) -> Any:
        """The delta-score record of one ALT x gene (``str(record)`` is the INFO entry);
        ``dist_boundary``: the nearest annotated exon boundary, relative to POS (masking)."""

    def unscored_entry(self, alt: str, gene: str) -> Any:
        """The record of an ALT the family does not score (REF and ALT both longer than one base)."""

    def has_scores(self, entry: str) -> bool:
        """Whether a stored entry (cache, score file) holds delta scores (not :meth:`unscored_entry`)."""

    def info_lines(self, transcripts: bool) -> Sequence[str]:
        """The ``##INFO`` header lines of the entries (and of the per-transcript field)."""

    def identity(self) -> dict[str, Any]:
        """What the entries depend on in the model: its weights and settings (cache keys)."""

    def run_parameters(self) -> dict[str, Any]:
        """The family's settings for a run manifest (only those set, so older manifests stay valid)."""

    def provenance_fields(self) -> list[str]:
        """``key=value`` fields of the family for the provenance header line."""


#: ``(distance, mask)`` of each weights family's original command line when -D / -M are not given:
#: ``spliceai`` (-D 50, -M 0), ``openspliceai`` (its ``variant`` command: flanking distance 50,
#: no masking), ``cispliceai`` (``cis-vcf``: distance 1000, no masking), ``pangolin`` (-d 50, -m True).
DEFAULT_SETTINGS: dict[str, tuple[int, bool]] = {
    "spliceai": (50, False),
    "openspliceai": (50, False),
    "cispliceai": (1000, False),
    "pangolin": (50, True),
}


def default_settings(weights_family: str) -> tuple[int, bool]:
    """``(distance, mask)`` when a run does not give them, from the weights' original command line.

    >>> default_settings("pangolin"), default_settings("cispliceai")
    ((50, True), (1000, False))
    """
    try:
        return DEFAULT_SETTINGS[weights_family]
    except KeyError:
        from nucleoforge.errors import NucleoforgeError

        raise NucleoforgeError(f"unknown weights family {weights_family!r} (expected one of {', '.join(DEFAULT_SETTINGS)})") from None


def family_for(model: Any, *, device: str | None = None, calibrated: bool = False, predict: Any = None,
               options: dict[str, Any] | None = None) -> ScoringFamily:
    """``model`` itself when it is a :class:`ScoringFamily`, else the family of its weights:
    ``config.head == "pangolin"`` -> :class:`~.rules_pangolin.PangolinFamily` (``options``: its
    ``score_cutoff``, ``score_exons``, ``exon_tags``), ``config.weights_family == "cispliceai"`` ->
    :class:`~.rules_cispliceai.CISpliceAIFamily` (the original ``cis-vcf``'s rules), otherwise
    :class:`~.rules_spliceai.SpliceAIFamily` (INFO key from ``config.weights_family``:
    ``SpliceAI``, ``OpenSpliceAI``; these take no options)."""
    from nucleoforge.errors import NucleoforgeError

    if isinstance(model, ScoringFamily):
        if options:
            raise NucleoforgeError(f"family options {sorted(options)} need a model, not a ready family")
        return model
    config = getattr(model, "config", None)
    if getattr(config, "head", "softmax") == "pangolin":
        from nucleoforge.splicing.rules_pangolin import PangolinFamily

        if calibrated:
            raise NucleoforgeError("calibrated scores are not defined for Pangolin's head")
        return PangolinFamily(model, device=device, predict=predict, options=options)
    if options:
        raise NucleoforgeError(f"family options {', '.join(sorted(options))}: only Pangolin models take options")
    if getattr(config, "weights_family", None) == "cispliceai":
        from nucleoforge.splicing.rules_cispliceai import CISpliceAIFamily

        return CISpliceAIFamily(model, device=device, calibrated=calibrated, predict=predict)
    from nucleoforge.splicing.rules_spliceai import SpliceAIFamily

    family = SpliceAIFamily(model, device=device, calibrated=calibrated, predict=predict)
    family.info_key = INFO_KEYS.get(str(getattr(config, "weights_family", "spliceai") or "spliceai"), "SpliceAI")
    return family


#: the default INFO key of each softmax-head weights family
INFO_KEYS = {"spliceai": "SpliceAI", "openspliceai": "OpenSpliceAI", "cispliceai": "CISpliceAI", "pangolin": "Pangolin"}
