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

What Pangolin needs of the same interface (tests/splicing/test_variant_family.py runs a double of
it through the engine):

* ``predict``: 12 models in 4 tissue groups (heart, liver, brain, testis), 3 per group, each
  giving a splice-site usage track; a group's track is the mean of its models, so a window
  becomes ``(B, L - context, 4)`` (one channel per tissue) instead of SpliceAI's three classes;
  ``context`` is its 10,000 nt;
* ``entry``: gain and loss across tissues — per position the largest increase and the largest
  decrease of usage over the four tissues, then the position of the largest gain and of the
  largest loss within ``distance`` — written in its own INFO format,
  ``Pangolin=GENE|POS:GAIN|POS:LOSS|Warnings:...`` (``info_key`` ``Pangolin``), with its own
  masking rule;
* ``incremental``: None (no substitution cones until its layers get them): every ALT gets a
  full ALT pass, the engine's other fallback.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["ScoringFamily", "IncrementalModel", "family_for"]


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


def family_for(model: Any, *, device: str | None = None, calibrated: bool = False, predict: Any = None) -> ScoringFamily:
    """``model`` itself when it is a :class:`ScoringFamily`, else the family of its weights
    (today every splice model the scorer takes is a SpliceAI ensemble)."""
    if isinstance(model, ScoringFamily):
        return model
    from nucleoforge.splicing.rules_spliceai import SpliceAIFamily

    return SpliceAIFamily(model, device=device, calibrated=calibrated, predict=predict)
