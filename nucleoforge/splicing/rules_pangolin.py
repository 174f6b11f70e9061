"""Pangolin's variant rules, as the original ``pangolin`` command applies them (read from its
source, re-implemented here): the :class:`~nucleoforge.splicing.variant_family.ScoringFamily` of a
Pangolin model folder (``config.head == "pangolin"``).

* genes (:mod:`.pangolin_genes`): gene bodies with ``start < POS <= end`` (a gene whose first
  base is POS is not the variant's), the ends of every exon of every transcript as annotated
  sites; from a GTF its ``gene`` lines and ``exon`` lines, from a SpliceAI table its rows
  (body ``TX_START + 1 .. TX_END``, sites ``EXON_START + 1`` and ``EXON_END``). Entries are
  named by ``gene_id`` (a table's ``#NAME``): the ``+``-strand genes first, then the ``-``
  ones, each in file order; a name seen twice on one strand gives one entry (the last row's sites);
* windows: the plain reference ``POS - 5000 - d .. POS + len(REF) + 4999 + d`` (no N outside the
  gene), the ALT window that with REF replaced; both strands are predicted once each when genes
  on that strand contain POS (not once per gene);
* the tracks: per model P(splice site) of its own tissue (12 models, 3 per tissue); per model
  the ALT track is aligned on the REF track (:meth:`PangolinFamily.align`): after a deletion
  zeros are inserted after POS (float64, as the original's ``np.zeros``), after an insertion
  POS and the inserted bases are collapsed into their maximum; REF and ALT of equal length
  (MNVs) need no alignment and are scored over ``2d + len(REF)`` positions;
* per tissue the mean over its models of ``ALT - REF`` (in the original's order and float
  type); per position the gain is the largest tissue change and the loss the smallest
  (first tissue on ties);
* per gene, with ``mask`` (``-m True``, the default): gains at the gene's annotated sites within
  the track set to ``min(gain, 0)``, losses elsewhere to ``max(loss, 0)`` -- in place, on the
  arrays the strand's genes share, so a later gene on the same strand sees an earlier gene's
  masking (the original's behaviour, kept); a gene without any exon gets
  ``Warnings:NoAnnotatedSitesToMaskForThisGene`` and all its losses clipped at 0;
* the entry ``GENE|POS:GAIN|POS:LOSS|Warnings:`` (positions relative to POS; the largest gain,
  first on ties, then the largest loss), ``score_cutoff`` (``-s``): ``GENE|POS:SCORE|...`` every
  gain ``>= cutoff`` then every loss ``<= -cutoff``; ``score_exons`` (``--score_exons True``,
  which wins over a cutoff): ``GENE_sites1|POS:SCORE|...|GENE_sites2|POS:SCORE|...`` per exon
  with at least one end in the track (``NA`` for the other), the larger in size of loss and
  gain (loss on ties). Scores print as Python prints the NumPy value after ``round(x, 2)``:
  ``-0.009999999776482582`` for a float32 ``-0.01``, ``-0.01`` after a deletion (float64),
  ``0.0`` or ``-0.0``;
* alleles: only the first ALT of a record is scored (the original's VCF mode; it has no allele
  field to tell entries of several ALTs apart); REF or ALT without any of A/C/G/T, and REF and
  ALT both longer than one base but of different lengths, are not scored ("variant format not
  supported"); ALTs are upper-cased first (its CSV mode; its VCF mode skips a lower-case ALT).

Deliberate differences (tests/splicing/test_pangolin_rules.py): symbolic ALTs (``<...>``, ``*``)
are skipped like SpliceAI's rules (the original tries to one-hot encode ``<CNV>`` and fails);
records whose window passes a chromosome end are skipped (the original slices what is there).

>>> scores = np.array([-0.0123, 0.5], dtype=np.float32)
>>> score_text(scores[0]), score_text(scores.astype(np.float64)[0]), score_text(np.float32(-0.0001))
('-0.009999999776482582', '-0.01', '-0.0')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from nucleoforge.errors import NucleoforgeError
from nucleoforge.splicing.variant_rules import SkipReason

__all__ = ["PangolinFamily", "PangolinEntry", "score_text", "gain_loss", "PANGOLIN_INFO_LINE", "OPTIONS"]

PANGOLIN_INFO_LINE = ('##INFO=<ID=Pangolin,Number=.,Type=String,Description="Pangolin splice scores (nucleoforge, '
                      'rules of the original pangolin command). Format: gene|pos:gain|pos:loss|Warnings:...,...">')
#: the family options and their meaning (``VariantScorer(..., family_options=...)``)
OPTIONS = {"score_cutoff": "-s: every site with a change >= cutoff instead of the largest gain and loss",
           "score_exons": "--score_exons True: the change at both ends of every annotated exon in range",
           "exon_tags": "keep only exons with one of these GTF tag values (create_db.py --filter)"}


def score_text(x: np.floating) -> str:
    """A score as the original prints it: the f-string of ``round(x, 2)`` of the NumPy value."""
    return f"{round(x, 2)}"


def gain_loss(y_ref: np.ndarray, y_alt: np.ndarray, member_tissues: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per position the largest (gain) and smallest (loss) tissue change, each tissue's change being
    the mean over its models of ``ALT - REF`` (tracks ``(L, models)``, ALT aligned)."""
    tissues = sorted(set(member_tissues))
    per_tissue = [np.mean([y_alt[:, m] - y_ref[:, m] for m, t in enumerate(member_tissues) if t == tissue], axis=0)
                  for tissue in tissues]
    change = np.array(per_tissue)
    cols = np.arange(change.shape[1])
    return change[np.argmax(change, axis=0), cols], change[np.argmin(change, axis=0), cols]


@dataclass
class PangolinEntry:
    """One gene's Pangolin entry; ``str()`` is the INFO text. ``gain``/``loss``: the strand's
    arrays as this gene's masking left them (``(2d + len(REF),)``, position ``i`` is POS - d + i),
    None for an entry read back from a cache or score file."""

    gene: str
    text: str
    gain: np.ndarray | None = field(default=None, repr=False)
    loss: np.ndarray | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, entry: str) -> "PangolinEntry":
        return cls(entry.split("|", 1)[0], entry)

    @property
    def scores(self) -> tuple[int, float, int, float] | None:
        """``(gain position, gain, loss position, loss)`` of a default-form entry, else None."""
        parts = self.text.split("|")
        if len(parts) != 4 or not parts[3].startswith("Warnings:") or parts[1] == ".":
            return None
        (gp, gs), (lp, ls) = (p.split(":") for p in parts[1:3])
        return int(gp), float(gs), int(lp), float(ls)


def _options(options: dict[str, Any] | None) -> tuple[float | None, bool, tuple[str, ...] | None]:
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(OPTIONS) - {"cutoff"})
    if unknown:
        raise NucleoforgeError(f"unknown Pangolin option(s) {', '.join(unknown)} (expected {', '.join(OPTIONS)})")
    cutoff = opts.get("score_cutoff", opts.get("cutoff"))
    if cutoff is not None:
        try:
            cutoff = float(cutoff)
        except (TypeError, ValueError):
            raise NucleoforgeError(f"Pangolin score_cutoff must be a number, got {cutoff!r}") from None
    tags = opts.get("exon_tags")
    if isinstance(tags, str):
        tags = [t for t in tags.split(",") if t]
    return cutoff, bool(opts.get("score_exons", False)), tuple(tags) if tags else None


class _Incremental:
    """Substitution cones of a Pangolin model (:mod:`nucleoforge.models.spliceai.incremental`): per
    model its own tissue's P(site), like :meth:`PangolinFamily.predict`."""

    def __init__(self, model: Any, member_tissues: Sequence[int]) -> None:
        self.model, self.channels = model, [3 * t + 1 for t in member_tissues]

    def activation_bytes(self, window: int) -> int:
        from nucleoforge.models.spliceai.incremental import activation_bytes

        return activation_bytes(self.model.config, window)

    def _pick(self, members: Any) -> np.ndarray:
        """``(B, M, L, channels)`` head outputs -> ``(B, L, M)``: each model's tissue channel."""
        import torch

        return torch.stack([members[:, m, :, c] for m, c in enumerate(self.channels)], dim=-1).float().cpu().numpy()

    def run(self, x: np.ndarray, windows: np.ndarray, centers: np.ndarray, alt_x: np.ndarray, *, distance: int,
            batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        import torch

        from nucleoforge.models.spliceai.incremental import reference_pass, substitution_probabilities

        param = next(self.model.parameters())
        with torch.inference_mode():
            ref = reference_pass(self.model, torch.as_tensor(np.ascontiguousarray(x)).to(param.device, param.dtype))
            y = self._pick(ref.member_probabilities)
            alts: list[np.ndarray] = []
            for k in range(0, len(windows), batch_size):
                part = slice(k, k + batch_size)
                members = substitution_probabilities(
                    self.model, ref, torch.as_tensor(windows[part]), torch.as_tensor(centers[part]),
                    torch.as_tensor(np.ascontiguousarray(alt_x[part])), distance=distance, members=True)
                alts.extend(self._pick(members))
            del ref
        return y, alts


class PangolinFamily:
    """A Pangolin model folder as the variant scorer's family (see the module docstring).

    Args:
        model: ``SpliceAIModel`` with ``config.head == "pangolin"`` (moved to ``device``, eval mode).
        predict: a replacement for the model call (tests): one-hot ``(B, L, 4)`` -> ``(B, L - context, models)``.
        options: ``score_cutoff`` (float), ``score_exons`` (bool), ``exon_tags`` (GTF tags, see :data:`OPTIONS`).
    """

    info_key = "Pangolin"
    entry_fields = 4

    def __init__(self, model: Any, *, device: str | None = None, predict: Callable[[np.ndarray], np.ndarray] | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self.model = model
        self.cutoff, self.score_exons, self.exon_tags = _options(options)
        config = model.config
        self.context = int(config.context)
        self.member_tissues = [int(t) for t in config.member_tissues]
        self.tissues = list(config.tissues)
        if predict is None:
            if device:
                model.to(device)
            model.eval()
        self._predict = predict
        self._incremental = _Incremental(model, self.member_tissues) if predict is None and hasattr(model, "_fused_network") \
            else None

    # -- the model ---------------------------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Per model its own tissue's P(splice site), ``(B, L - context, models)`` float32."""
        if self._predict is not None:
            return self._predict(x)
        import torch

        param = next(self.model.parameters())
        with torch.inference_mode():
            out = self.model(torch.as_tensor(np.ascontiguousarray(x)).to(param.device, param.dtype), output_members=True)
            members = out.member_probabilities  # (B, M, L, 3 * tissues)
            y = torch.stack([members[:, m, :, 3 * t + 1] for m, t in enumerate(self.member_tissues)], dim=-1)
        return y.float().cpu().numpy()

    @property
    def incremental(self) -> "_Incremental | None":
        return self._incremental

    # -- the engine's hooks --------------------------------------------------------------------------
    def gene_view(self, genes: Any) -> Any:
        from nucleoforge.splicing.pangolin_genes import gene_bodies

        return gene_bodies(genes, self.exon_tags)

    def gene_groups(self, genes: Any, gene_ids: Sequence[int], pos: int) -> list[list[int]]:
        """The genes containing POS (``start < POS``), ``+`` strand first, one per name and strand."""
        groups: list[list[int]] = []
        for strand in ("+", "-"):
            by_name: dict[str, int] = {}
            for gi in gene_ids:
                g = genes[gi]
                if g.strand == strand and g.tx_start + 1 < pos <= g.tx_end:
                    by_name[g.name] = gi  # first place, last row (a dict keyed by gene_id)
            if by_name:
                groups.append(list(by_name.values()))
        return groups

    def track_span(self, ref_len: int, alt_len: int, distance: int) -> tuple[int, int]:
        return -distance, distance + ref_len - 1

    def allele_rule(self, ref: str, alt: str, index: int) -> str | None:
        if index > 0:
            return SkipReason.NOT_FIRST_ALT
        ref, alt = ref.upper(), alt.upper()
        if not set("ACGT") & set(ref) or not set("ACGT") & set(alt) or (len(ref) != 1 and len(alt) != 1 and len(ref) != len(alt)):
            return SkipReason.FORMAT
        return None

    def align(self, y_ref: np.ndarray, y_alt: np.ndarray, ref_len: int, alt_len: int) -> tuple[np.ndarray, np.ndarray]:
        d = (len(y_ref) - ref_len) // 2
        if ref_len > alt_len:
            y_alt = np.concatenate([y_alt[: d + 1], np.zeros((ref_len - alt_len, y_alt.shape[1])), y_alt[d + 1 :]])
        elif alt_len > ref_len:
            y_alt = np.concatenate([y_alt[:d], y_alt[d : d + alt_len - ref_len + 1].max(axis=0, keepdims=True),
                                    y_alt[d + alt_len - ref_len + 1 :]])
        return y_ref, y_alt

    def group_entries(self, alt: str, pos: int, distance: int, genes: Sequence[tuple[str, Any]], y_ref: np.ndarray,
                      y_alt: np.ndarray, mask: bool) -> list[PangolinEntry]:
        """The entries of a strand's genes, in order, masking the shared gain/loss arrays in place."""
        from nucleoforge.splicing.pangolin_genes import site_positions

        gain, loss = gain_loss(y_ref, y_alt, self.member_tissues)
        return [self._gene_entry(label, np.array(site_positions(gene)) - (pos - distance), distance, gain, loss, mask)
                for label, gene in genes]

    def _gene_entry(self, gene: str, positions: np.ndarray, d: int, gain: np.ndarray, loss: np.ndarray,
                    mask: bool) -> PangolinEntry:
        n = len(loss)
        warnings = "Warnings:"
        if mask and len(positions) != 0:
            inside = positions[(positions >= 0) & (positions < n)]
            gain[inside] = np.minimum(gain[inside], 0)
            elsewhere = ~np.isin(np.arange(n), inside)
            loss[elsewhere] = np.maximum(loss[elsewhere], 0)
        elif mask:
            warnings += "NoAnnotatedSitesToMaskForThisGene"
            loss[:] = np.maximum(loss[:], 0)
        if self.score_exons:
            fields = self._exon_fields(gene, positions, d, gain, loss)
        elif self.cutoff is not None:
            lost, gained = np.where(loss <= -self.cutoff)[0], np.where(gain >= self.cutoff)[0]
            fields = [gene] + [f"{p}:{score_text(s)}" for p, s in zip(np.concatenate([gained - d, lost - d]),
                                                                     np.concatenate([gain[gained], loss[lost]]))]
        else:
            g, lo = np.argmax(gain), np.argmin(loss)
            fields = [gene, f"{g - d}:{score_text(gain[g])}", f"{lo - d}:{score_text(loss[lo])}"]
        return PangolinEntry(gene, "|".join(fields + [warnings]), gain.copy(), loss.copy())

    @staticmethod
    def _exon_fields(gene: str, positions: np.ndarray, d: int, gain: np.ndarray, loss: np.ndarray) -> list[str]:
        """``GENE_sites1|POS:SCORE|...|GENE_sites2|POS:SCORE|...``: each exon's two ends."""
        first, second = [gene + "_sites1"], [gene + "_sites2"]

        def at(p: Any) -> Any:
            if p < 0 or p >= len(loss):
                return "NA"
            pair = [loss[p], gain[p]]
            return score_text(pair[np.argmax(np.abs(pair))])

        for i in range(len(positions) // 2):
            p1, p2 = positions[2 * i], positions[2 * i + 1]
            s1, s2 = at(p1), at(p2)
            if s1 == "NA" and s2 == "NA":
                continue
            first.append(f"{p1 - d}:{s1}")
            second.append(f"{p2 - d}:{s2}")
        return first + second

    def entry(self, alt: str, gene: str, y_ref: np.ndarray, y_alt: np.ndarray, dist_boundary: int, mask: bool) -> PangolinEntry:
        """One gene without its annotation (the engine calls :meth:`group_entries`): never masked."""
        d = (len(y_ref) - 1) // 2
        gain, loss = gain_loss(y_ref, y_alt, self.member_tissues)
        return self._gene_entry(gene, np.array([], dtype=np.int64), d, gain, loss, False)

    def unscored_entry(self, alt: str, gene: str) -> PangolinEntry:
        return PangolinEntry(gene, f"{gene}|.|.|Warnings:NotScored")

    def has_scores(self, entry: str) -> bool:
        return not entry.endswith("|Warnings:NotScored")

    # -- outputs and identity ------------------------------------------------------------------------
    def info_lines(self, transcripts: bool) -> list[str]:
        line = PANGOLIN_INFO_LINE
        if self.score_exons:
            line = line.replace("gene|pos:gain|pos:loss|Warnings:", "gene_sites1|pos:score|...|gene_sites2|pos:score|...|Warnings:")
        elif self.cutoff is not None:
            line = line.replace("gene|pos:gain|pos:loss|Warnings:", f"gene|pos:score|... (|score| >= {self.cutoff:g})|Warnings:")
        return [line]

    def identity(self) -> dict[str, Any]:
        from nucleoforge.io.outputs import model_identity

        return {"format": "pangolin-info/1", "model_sha256": model_identity(self.model)["sha256"], "context": self.context,
                "member_tissues": self.member_tissues, **self.run_parameters()}

    def run_parameters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.cutoff is not None:
            out["score_cutoff"] = self.cutoff
        if self.score_exons:
            out["score_exons"] = True
        if self.exon_tags:
            out["exon_tags"] = list(self.exon_tags)
        return out

    def provenance_fields(self) -> list[str]:
        return [f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in self.run_parameters().items()]
