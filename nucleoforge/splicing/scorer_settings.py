"""What a ``nucleoforge variants`` process needs to build its scorers, and the one way to build them.

:class:`ScoringSettings` is picklable: it travels to the workers of a sharded run
(:mod:`.sharding`), and every process — the single-process run of :mod:`.variants_run` or a
worker — builds its scorers with :func:`build_scorers`.

One run may score several models (``variants --model A --model B``): :attr:`ScoringSettings.models`
holds one :class:`ModelSpec` each (weights, INFO key, ``-D``, ``-M``, family options), and
:func:`build_scorers` builds one scorer per model over one reference and one gene table, read once.

>>> parse_model_option("spliceai-10k"), parse_model_option("/data/osai=OSAI_MANE")
(('spliceai-10k', None), ('/data/osai', 'OSAI_MANE'))
>>> check_info_key("Pangolin") is None
True
>>> check_info_key("2x")
Traceback (most recent call last):
...
nucleoforge.errors.NucleoforgeError: --model ...=2x: not a VCF INFO key (a letter or '_', then letters, digits, '_' or '.')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from nucleoforge.errors import NucleoforgeError

__all__ = ["ScoringSettings", "ModelSpec", "build_scorers", "spliceai_format", "parse_model_option", "check_info_key",
           "resolve_specs"]

_INFO_KEY = re.compile(r"[A-Za-z_][0-9A-Za-z_.]*")


@dataclass
class ModelSpec:
    """One model of a run: ``spec`` (a named model or a folder), its INFO key, ``-D``, ``-M`` and
    family options (Pangolin's ``score_cutoff`` / ``score_exons``). ``None`` fields are the
    model's defaults (:func:`resolve_specs` fills them from its weights family)."""

    spec: str
    info_key: str | None = None
    distance: int | None = None
    mask: bool | None = None
    family_options: dict[str, Any] | None = None


def parse_model_option(value: str) -> tuple[str, str | None]:
    """``PATH`` or ``PATH=INFO_KEY`` of one ``--model``: ``(spec, key or None)`` (the key after the last ``=``)."""
    spec, sep, key = value.rpartition("=")
    if not sep or not spec or "/" in key:
        return value, None
    return spec, key


def check_info_key(key: str) -> None:
    """``NucleoforgeError`` (one line) unless ``key`` can name a VCF INFO field."""
    if not _INFO_KEY.fullmatch(key):
        raise NucleoforgeError(f"--model ...={key}: not a VCF INFO key (a letter or '_', then letters, digits, '_' or '.')")


def resolve_specs(specs: Sequence[ModelSpec], models: Sequence[Any]) -> list[ModelSpec]:
    """``specs`` with every ``None`` filled from its loaded model (``models``, same order): the INFO
    key from the weights family (:data:`~.variant_family.INFO_KEYS`), ``-D`` / ``-M`` from the
    family's original command line (:func:`~.variant_family.default_settings`). Two models with
    one INFO key are refused (one line)."""
    from nucleoforge.splicing.variant_family import INFO_KEYS, default_settings

    out: list[ModelSpec] = []
    owner: dict[str, str] = {}
    for spec, model in zip(specs, models):
        family = str(getattr(model.config, "weights_family", "spliceai") or "spliceai")
        distance, mask = default_settings(family)
        key = spec.info_key or INFO_KEYS.get(family, "SpliceAI")
        check_info_key(key)
        if key in owner:
            raise NucleoforgeError(f"--model {spec.spec}: its INFO key {key} is already the key of --model {owner[key]}; "
                                   f"give one of them another key (--model {spec.spec}=OTHER_KEY)")
        owner[key] = spec.spec
        out.append(replace(spec, info_key=key, distance=distance if spec.distance is None else spec.distance,
                           mask=mask if spec.mask is None else bool(spec.mask)))
    return out


@dataclass
class ScoringSettings:
    """Everything ``nucleoforge variants`` needs to build its scorers (picklable, for workers).

    ``models``: the run's models in output order (:class:`ModelSpec`); when empty, the one model
    ``model`` at ``distance`` / ``mask`` (the single-model form). :meth:`specs` gives either.

    ``before_shard``: called as ``before_shard(shard, part)`` by a worker before it scores a
    shard (paths of the shard VCF and its part file); a picklable callable (a module-level
    function or an instance of a module-level class). Tests inject faults with it (a worker
    that dies, one that is held); None in every real run.
    """

    reference: str
    annotation: str
    model: str = "spliceai-10k"
    distance: int = 50
    mask: bool = False
    batch_size: int = 16
    chunk_size: int = 256
    calibrated: bool = False
    device: str | None = None
    cache: str | None = None
    precomputed: list[str] = field(default_factory=list)
    transcripts: str | None = None
    threads: int | None = None
    incremental: bool = True
    activation_memory: int = 1 << 30  # bytes
    output_format: str = "vcf"  # or "tsv" (nucleoforge.io.variant_table)
    before_shard: Callable[[str, str], None] | None = None
    models: list[ModelSpec] = field(default_factory=list)

    def specs(self) -> list[ModelSpec]:
        """The run's models: :attr:`models`, or the single ``model`` at ``distance`` / ``mask``."""
        return list(self.models) or [ModelSpec(self.model, None, self.distance, self.mask)]

    @property
    def max_distance(self) -> int:
        """The largest ``-D`` of the run's models (what a shard cut must clear); unresolved ones count as 50."""
        return max(s.distance if s.distance is not None else 50 for s in self.specs())


def spliceai_format(family: Any) -> bool:
    """Whether a family's entries are SpliceAI's ``ALLELE|SYMBOL|DS_AG|…|DP_DL``."""
    from nucleoforge.splicing.rules_spliceai import SpliceAIFamily

    return isinstance(family, SpliceAIFamily)


def _load(spec: str, settings: ScoringSettings) -> Any:
    from nucleoforge.models.spliceai import SpliceAIModel

    model = SpliceAIModel.from_pretrained(spec).eval()
    if settings.device:
        model.to(settings.device)
    return model


def _open_precomputed(paths: Sequence[str], keys: Sequence[str]) -> dict[str, list[Any]]:
    """The score files of each INFO key: every file serves the run's keys its header declares;
    a file that declares none of them is refused (one line)."""
    from nucleoforge.io.precomputed import PrecomputedScores, declared_info_keys

    per_key: dict[str, list[Any]] = {k: [] for k in keys}
    opened: list[Any] = []
    try:
        for p in paths:
            declared = [k for k in keys if k in declared_info_keys(p)] if len(keys) > 1 else list(keys)
            if not declared:
                raise NucleoforgeError(f"--precomputed {p}: the header declares none of this run's INFO fields "
                                       f"({', '.join(keys)}; expected ##INFO=<ID=KEY,...>)")
            for k in declared:
                opened.append(PrecomputedScores(p, info_key=k))
                per_key[k].append(opened[-1])
    except BaseException:
        for f in opened:
            f.close()
        raise
    return per_key


def build_scorers(settings: ScoringSettings, models: Sequence[Any] | None = None) -> tuple[list[Any], Any]:
    """``(scorers, transcript scorer or None)``: one scorer per model of :meth:`~ScoringSettings.specs`,
    in that order, sharing one reference and one gene table; each owns its cache setting and the
    precomputed files of its INFO key. The transcript scorer (``--transcripts``, one model only)
    scores the first model.

    ``models``: the already loaded models (else loaded from the specs). Every scorer's
    ``family.info_key`` is its spec's key. Close them with each scorer's ``close()``.
    """
    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.genome import Genome
    from nucleoforge.splicing.scoring import VariantScorer

    specs = settings.specs()
    if settings.transcripts and len(specs) > 1:
        raise NucleoforgeError("--transcripts scores one model; this run has "
                               f"{len(specs)} ({', '.join(s.spec for s in specs)}): score the others in a run of their own")
    genome = Genome(settings.reference)
    genes = GeneTable.load(settings.annotation)
    tx_genes = GeneTable.load(settings.annotation, transcripts=settings.transcripts) if settings.transcripts else None
    loaded = list(models) if models is not None else [_load(s.spec, settings) for s in specs]
    specs = resolve_specs(specs, loaded)
    common = dict(batch_size=settings.batch_size, device=settings.device, calibrated=settings.calibrated,
                  incremental=settings.incremental, activation_memory=settings.activation_memory)  # fmt: skip
    scorers: list[Any] = []
    tx_scorer = None
    per_key: dict[str, list[Any]] = {}
    try:
        per_key = _open_precomputed(settings.precomputed, [s.info_key for s in specs])  # type: ignore[misc]
        for spec, model in zip(specs, loaded):
            extra = {"family_options": spec.family_options} if spec.family_options else {}
            scorer = VariantScorer(model, genome, genes, distance=spec.distance, mask=spec.mask, cache=settings.cache,
                                   **extra, **common)  # type: ignore[arg-type]
            scorer.family.info_key = spec.info_key
            scorer.precomputed = per_key.pop(spec.info_key, [])  # asked in the order given, before the cache
            if not spliceai_format(scorer.family):  # e.g. Pangolin's GENE|POS:GAIN|POS:LOSS|Warnings: entries
                for f in scorer.precomputed:
                    f.allele_in_entry = f.check_entries = False
            scorers.append(scorer)
        if tx_genes is not None:
            spec = specs[0]
            tx_scorer = VariantScorer(loaded[0], genome, tx_genes, distance=spec.distance, mask=spec.mask,
                                      transcript_entries=True, **common)  # type: ignore[arg-type]
            tx_scorer.family.info_key = spec.info_key
            tx_scorer.log_skips = False  # the same records, already reported by the gene-level pass
    except BaseException:
        for s in scorers:
            s.close()
        for files in per_key.values():
            for f in files:
                f.close()
        raise
    return scorers, tx_scorer
