"""The one table of model families: what every layer needs to know about a model type.

Each :class:`ModelFamily` names its config and model classes (as import paths, so reading the
table imports nothing heavy), its tokenizer vocabulary, its variants and their position counts,
its converter/exporter and the transformers Auto classes it registers with. The tokenizer,
``pretrain``/``finetune``, the converters' folder hints, ``nucleoforge info`` and the package's
Auto registration all read this table; adding a BERT-family model is one folder under
``nucleoforge/models/`` plus one :func:`register_family` call.

>>> family("utrbert").ks, family("splicebert").positions("splicebert.510")
((3, 4, 5, 6), 512)
>>> [f.model_type for f in families(kind="bert")]
['splicebert', 'utrbert', 'rnaernie', 'genebert-sequence']
>>> len(family("utrbert").vocabulary(6)), family("splicebert").vocabulary(1)[5:]
(4101, ['N', 'A', 'C', 'G', 'T'])
"""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from nucleoforge.errors import NucleoforgeError

__all__ = [
    "SPECIAL_TOKENS", "RNAERNIE_RNA_TYPES", "kmer_vocabulary", "ModelFamily", "register_family", "unregister_family", "family",
    "families", "family_of_config", "family_of_name", "register_auto_classes", "register_pipelines", "install_auto_registration", "resolve",
]  # fmt: skip

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

#: RNAErnie's 28 RNA-type tokens, in the order of its ``vocab_1MER.txt`` (ids 7–34).
RNAERNIE_RNA_TYPES = [
    "RNaseMRPRNA", "RNasePRNA", "SRPRNA", "YRNA", "antisenseRNA", "autocatalyticallysplicedintron",
    "guideRNA", "hammerheadribozyme", "lncRNA", "miRNA", "miscRNA", "ncRNA", "other", "piRNA",
    "premiRNA", "precursorRNA", "rRNA", "ribozyme", "sRNA", "scRNA", "scaRNA", "siRNA", "snRNA",
    "snoRNA", "tRNA", "telomeraseRNA", "tmRNA", "vaultRNA",
]  # fmt: skip


def kmer_vocabulary(k: int, alphabet: str = "AUCG") -> list[str]:
    """Special tokens then every k-mer in ``itertools.product(alphabet, repeat=k)`` order (DNABERT)."""
    if k < 1:
        raise NucleoforgeError(f"k must be >= 1, got {k}")
    return SPECIAL_TOKENS + ["".join(p) for p in itertools.product(alphabet, repeat=k)]


#: the one tokenizer class of every BERT-family model
TOKENIZER = "nucleoforge.tokenization:NucleotideTokenizer"
#: MultiMolecule's tokenizer class names (its folders' tokenizer_config.json) -> ours
MULTIMOLECULE_TOKENIZERS = {n: f"nucleoforge.tokenization.tokenizer:{n}" for n in ("RnaTokenizer", "DnaTokenizer")}
MULTIMOLECULE_DNA = ("genebert-sequence",)

#: the package whose import registers nucleoforge's tasks with ``transformers.pipeline``
#: (``nucleotide-fill-mask``, ``nucleotide-embedding``, ``zero-shot-variant-effect``,
#: ``nucleotide-attention``, ``splice-site``); named here, imported by :func:`register_pipelines`
PIPELINES = "nucleoforge.pipelines.tasks"

#: the BERT-family Auto classes and the class-name suffix each one loads
BERT_AUTO_CLASSES = {
    "AutoModel": "Model",
    "AutoModelForMaskedLM": "ForMaskedLM",
    "AutoModelForSequenceClassification": "ForSequencePrediction",
    "AutoModelForTokenClassification": "ForTokenPrediction",
    "AutoModelForPreTraining": "ForMaskedLM",  # MultiMolecule's checkpoints name their class …ForPreTraining
}


@dataclass(frozen=True)
class ModelFamily:
    """One model type.

    Args:
        model_type: the ``model_type`` of its config (``config.json``).
        name: display name.
        module: package holding the classes (``{module}.{config_class}``, ``{module}.{prefix}ForMaskedLM``…).
        config_class: name of the config class in ``module``.
        prefix: class-name prefix (``SpliceBert`` → ``SpliceBertForMaskedLM``).
        kind: ``bert`` (the shared encoder and tokenizer), ``spliceai`` or ``genebert``.
        vocabulary: ``k -> tokens`` in the original id order (BERT kind only).
        ks: the k-mer sizes its vocabulary exists in; the first is the default.
        variants: variant name -> ``max_position_embeddings``; the first is the default.
        auto: transformers Auto class name -> class name in ``module``.
        converter / exporter: ``module:function`` of the original-checkpoint converter / exporter.
        description: one line for ``nucleoforge info`` (``{k}`` is filled per k-mer size).
        pretrained: named weights that resolve to a local folder (``spliceai-10k``), with
            ``resolver`` (``module:function(name) -> folder``).
        aliases: other names :func:`family` accepts (``dnabert`` for GeneBERT's sequence vocabulary).
        variant_descriptions: ``nucleoforge info`` lines of the non-default variants.
        hub: the Hugging Face organisation whose repositories hold this family's weights under
            its ``nucleoforge info`` names (``multimolecule`` → ``multimolecule/utrbert-3mer``).
    """

    model_type: str
    name: str
    module: str
    config_class: str
    prefix: str = ""
    kind: str = "bert"
    vocabulary: Callable[[int], list[str]] | None = None
    ks: tuple[int, ...] = (1,)
    variants: Mapping[str, int] = field(default_factory=dict)
    auto: Mapping[str, str] = field(default_factory=dict)
    converter: str | None = None
    exporter: str | None = None
    description: str = ""
    pretrained: tuple[str, ...] = ()
    resolver: str | None = None
    aliases: tuple[str, ...] = ()
    variant_descriptions: Mapping[str, str] = field(default_factory=dict)
    hub: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "bert" and not self.auto:
            object.__setattr__(self, "auto", {a: self.prefix + s for a, s in BERT_AUTO_CLASSES.items()})

    # -- facts ---------------------------------------------------------------------------------
    @property
    def default_variant(self) -> str | None:
        return next(iter(self.variants), None)

    def positions(self, variant: str | None = None) -> int:
        """``max_position_embeddings`` of ``variant`` (default: the first)."""
        if not self.variants:
            raise NucleoforgeError(f"{self.name} has no fixed number of positions")
        variant = variant or self.default_variant
        if variant not in self.variants:
            raise NucleoforgeError(f"unknown {self.name} variant {variant!r}; expected one of {sorted(self.variants)}")
        return self.variants[variant]

    def check_k(self, k: int | None) -> int:
        """``k`` (default: the first of :attr:`ks`), refused when the vocabulary has no such size."""
        k = self.ks[0] if k is None else k
        if k not in self.ks:
            sizes = ", ".join(f"{x}-mer" if x > 1 else "single-nucleotide" for x in self.ks)
            raise NucleoforgeError(f"{self.name} has {sizes} vocabularies, got k={k!r}")
        return k

    def tokens(self, k: int | None = None) -> list[str]:
        """The vocabulary for ``k`` (checked against :attr:`ks`)."""
        if self.vocabulary is None:
            raise NucleoforgeError(f"{self.name} ({self.model_type}) has no nucleotide vocabulary")
        return self.vocabulary(self.check_k(k))

    def info_rows(self) -> Iterator[tuple[str, dict[str, Any], str]]:
        """``(name, config kwargs, description)`` for every variant and k-mer size."""
        if len(self.ks) > 1:
            for k in sorted(self.ks):
                yield f"{self.model_type}-{k}mer", {"k": k}, self.description.format(k=k)
        elif len(self.variants) > 1:
            for v in self.variants:
                yield v, {"variant": v}, self.variant_descriptions.get(v, self.description)
        else:
            yield self.pretrained[0] if self.pretrained else self.model_type, {}, self.description.format(k=self.ks[0])

    def names(self) -> list[str]:
        """Every name this family is known by: its model type, aliases, ``nucleoforge info`` rows,
        variants and named weights."""
        found = [self.model_type, *self.aliases, *(row[0] for row in self.info_rows()), *self.variants, *self.pretrained]
        return list(dict.fromkeys(found))

    @property
    def convert_command(self) -> str | None:
        """The command that writes this family's folder from an original release (None without a converter)."""
        if self.converter is None:
            return None
        return f"nucleoforge convert {self.model_type} " + ("[SRC]... DST" if self.kind == "spliceai" else "SRC DST")

    # -- classes (imported on first use) ---------------------------------------------------------
    def config_cls(self) -> type:
        return getattr(importlib.import_module(self.module), self.config_class)

    def model_class(self, suffix: str) -> type:
        """``{prefix}{suffix}`` from :attr:`module`, e.g. ``ForMaskedLM``."""
        name = self.prefix + suffix
        module = importlib.import_module(self.module)
        if not hasattr(module, name):
            raise NucleoforgeError(f"{self.name} has no {name} class (in {self.module})")
        return getattr(module, name)


_FAMILIES: dict[str, ModelFamily] = {}
_REGISTERED_AUTO: set[str] = set()


def register_family(entry: ModelFamily) -> ModelFamily:
    """Add ``entry`` to the table (replacing one of the same ``model_type``); see :func:`register_auto_classes`."""
    _FAMILIES[entry.model_type] = entry
    _REGISTERED_AUTO.discard(entry.model_type)
    return entry


def unregister_family(model_type: str) -> None:
    """Remove ``model_type`` from the table (its transformers Auto registrations stay)."""
    _FAMILIES.pop(model_type, None)
    _REGISTERED_AUTO.discard(model_type)


def family(model_type: str) -> ModelFamily:
    """The family of ``model_type``; a ``ValueError`` lists the known ones."""
    if model_type in _FAMILIES:
        return _FAMILIES[model_type]
    for entry in _FAMILIES.values():
        if model_type in entry.aliases:
            return entry
    raise NucleoforgeError(f"unknown model type {model_type!r}; expected one of {', '.join(_FAMILIES)}")


def families(kind: str | None = None) -> list[ModelFamily]:
    """All families in table order (only those of ``kind`` when given)."""
    return [f for f in _FAMILIES.values() if kind is None or f.kind == kind]


def family_of_name(name: str) -> ModelFamily | None:
    """The family that ``name`` names (a model type, alias, variant, ``nucleoforge info`` row or
    named weights such as ``utrbert-3mer`` or ``spliceai-10k``), or None.

    >>> family_of_name("utrbert-3mer").model_type, family_of_name("spliceai-10k-2").model_type, family_of_name("x/y")
    ('utrbert', 'spliceai', None)
    """
    for entry in _FAMILIES.values():
        if name in entry.names():
            return entry
    return None


#: hub repositories that stand for named weights here: MultiMolecule's SpliceAI card names
#: ``multimolecule/spliceai``, which its package no longer ships; it is SpliceAI-10k (the wheel's five models)
HUB_ALIASES = {"multimolecule/spliceai": "spliceai-10k"}


def hub_id(name: str) -> str | None:
    """The hub repository a short model name stands for, or None.

    >>> hub_id("splicebert"), hub_id("utrbert-4mer"), hub_id("rnaernie"), hub_id("spliceai-10k")
    ('multimolecule/splicebert', 'multimolecule/utrbert-4mer', 'multimolecule/rnaernie', None)
    """
    for entry in _FAMILIES.values():
        if entry.hub and name in [row[0] for row in entry.info_rows()]:
            return f"{entry.hub}/{name}"
    return None


def locate(name: str | os.PathLike, revision: str | None = None, local_files_only: bool = False) -> str:
    """Where the model called ``name`` is, by the one rule every ``--model`` and ``from_pretrained``
    follows: a local folder first, then named weights converted into the cache (``spliceai-10k``,
    ``pangolin``…), then a hub repository — a short name's (``splicebert`` →
    ``multimolecule/splicebert``) or ``owner/name`` itself — through ``huggingface_hub``'s cache
    (``revision`` pins it; ``HF_HUB_OFFLINE`` and ``local_files_only`` are honoured); a repository
    that cannot be had is one line naming the ``convert`` command. Returns a local folder, or
    ``name`` itself when it is none of these (a missing path: the caller says it is not found).
    """
    from pathlib import Path

    text = str(name)
    if Path(text).is_dir():
        return text
    text = HUB_ALIASES.get(text, text)
    entry = family_of_name(text)
    if entry is not None and text in entry.pretrained and entry.resolver:
        return str(resolve(entry.resolver)(text))
    from nucleoforge.io.hub import looks_like_hub_id, snapshot_folder

    repo = hub_id(text) or (text if looks_like_hub_id(text) else None)
    entry = entry or (family_of_name(repo.split("/", 1)[1]) if repo else None)
    convert = f"or convert a local copy of the original release with `{entry.convert_command}` and pass that folder" \
        if entry is not None and entry.convert_command else ""
    if repo is None:  # a path that does not exist: the caller's own check names it
        return text
    return str(snapshot_folder(repo, revision, instead=convert, label=f"{text} → {repo}" if text != repo else repo,
                               local_files_only=local_files_only))


def family_of_config(config: Any) -> ModelFamily:
    """The family of a config object (by its ``model_type``)."""
    return family(getattr(config, "model_type", None) or "")


def resolve(path: str) -> Any:
    """The object at ``module:name``."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def register_auto_classes(model_types: list[str] | None = None) -> None:
    """Register the families' config classes, model classes and tokenizer with the transformers Auto classes.

    Imports each family's module (torch and transformers with it); idempotent. ``import nucleoforge``
    arranges for this to run by itself (:func:`install_auto_registration`); call it directly to
    register a family added later with :func:`register_family`.
    """
    import transformers

    tokenizer_cls = resolve(TOKENIZER)  # by name: the tokenizer module reads this table
    failed: list[str] = []
    for entry in families() if model_types is None else [family(t) for t in model_types]:
        if entry.model_type in _REGISTERED_AUTO:
            continue
        try:
            module = importlib.import_module(entry.module)
            config_cls = getattr(module, entry.config_class)
            transformers.AutoConfig.register(entry.model_type, config_cls, exist_ok=True)
            for auto_name, class_name in entry.auto.items():
                getattr(transformers, auto_name).register(config_cls, getattr(module, class_name), exist_ok=True)
            if entry.kind == "bert":
                # MultiMolecule's tokenizer_config.json names RnaTokenizer (its RNA models) or DnaTokenizer:
                # both class names resolve for AutoTokenizer (the DNA one with the DNA k-mer family)
                alias = resolve(MULTIMOLECULE_TOKENIZERS["DnaTokenizer" if entry.model_type in MULTIMOLECULE_DNA else "RnaTokenizer"])
                transformers.AutoTokenizer.register(config_cls, tokenizer_class=tokenizer_cls, slow_tokenizer_class=alias,
                                                    exist_ok=True)
        except (ImportError, AttributeError, ValueError) as exc:  # one broken family must not hide the others
            failed.append(f"{entry.model_type} ({entry.module}): {type(exc).__name__}: {exc}")
            continue
        _REGISTERED_AUTO.add(entry.model_type)
    if failed:
        raise RuntimeError("cannot register " + "; ".join(failed))


def register_pipelines() -> None:
    """Register nucleoforge's pipeline tasks with ``transformers.pipeline`` (imports torch); idempotent.

    ``import nucleoforge`` arranges for this to run as soon as ``transformers.pipelines`` is loaded
    (:func:`install_auto_registration`), so ``transformers.pipeline("nucleotide-fill-mask", model=dir)``
    works after a plain ``import nucleoforge``.
    """
    importlib.import_module(PIPELINES)


_WARNED_MULTIMOLECULE = False


def keep_ours_over_multimolecule() -> None:
    """``multimolecule`` registers its own classes under ``splicebert``, ``utrbert`` and ``rnaernie``
    with the transformers Auto classes, silently replacing nucleoforge's (or being replaced, by
    import order). Whichever was imported last, nucleoforge's stay — they read MultiMolecule's
    folders as they are — and one warning says so; MultiMolecule's classes remain usable by
    their own names (``multimolecule.SpliceBertForMaskedLM``)."""
    global _WARNED_MULTIMOLECULE
    shared = [f.model_type for f in families(kind="bert") if f.hub == "multimolecule"]
    for model_type in shared:
        _REGISTERED_AUTO.discard(model_type)
    register_auto_classes(shared)
    if not _WARNED_MULTIMOLECULE:
        _WARNED_MULTIMOLECULE = True
        import warnings

        warnings.warn(
            f"multimolecule is imported too: for the model types {', '.join(shared)} the transformers Auto classes "
            "load nucleoforge's classes (which read MultiMolecule's checkpoints as they are); use multimolecule's "
            "own classes by name for its models", UserWarning, stacklevel=2)


#: module whose loading means someone is about to use it -> what nucleoforge registers then
#: (transformers' Auto machinery: the model families; its pipelines: the pipeline tasks;
#: MultiMolecule, which registers the same model types: ours again, with a warning)
_TRIGGERS: dict[str, Callable[[], None]] = {
    "transformers.models.auto.configuration_auto": lambda: register_auto_classes(),
    "transformers.pipelines": lambda: register_pipelines(),
    "multimolecule": lambda: keep_ours_over_multimolecule(),
}
#: triggers that may never come (a package the user may not import): once only these are pending,
#: the hook counts the trigger module's own execution, not every import of the process
_OWN_MODULE_ONLY = frozenset({"multimolecule"})


class _CountingLoader:
    """Loader wrapper: counts module executions in progress (in every thread) and, when none is
    left, lets the hook register (never while a module is half-initialised)."""

    def __init__(self, loader: Any, hook: _AutoRegistrationHook) -> None:
        self._loader, self._hook = loader, hook

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._hook.enter()
        try:
            self._loader.exec_module(module)
        finally:
            self._hook.leave()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _AutoRegistrationHook:
    """``sys.meta_path`` finder installed by ``import nucleoforge``: once a module of
    :data:`_TRIGGERS` (transformers' Auto machinery, its pipelines) has been imported and no module
    is still being imported (in any thread), runs that trigger's registration; removes itself when
    every trigger has run. So ``import nucleoforge`` imports neither torch nor transformers, and
    transformers knows every family and pipeline task whichever is imported first.

    A failure while registering never breaks the user's import: it is reported as a warning,
    and :func:`register_auto_classes` / :func:`register_pipelines` called directly raise it.
    """

    def __init__(self, pending: list[str]) -> None:
        import threading

        self._lock = threading.Lock()
        self._in_flight = 0  # module executions in progress, all threads
        self._pending = list(pending)  # trigger modules whose registration has not run
        self._busy = False  # one thread is running registrations (they import modules themselves)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        import sys

        if not self._pending:
            return None
        if fullname not in self._pending and all(t in _OWN_MODULE_ONLY for t in self._pending):
            return None  # only a trigger whose own module is watched is left: other imports go their usual way
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _CountingLoader(spec.loader, self)
        return spec

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _take_due(self) -> list[str]:
        """Under the lock: the pending triggers that are loaded, marked as taken (exactly one thread runs each)."""
        import sys

        if self._busy or self._in_flight or not self._pending:
            return []
        due = [t for t in self._pending if t in sys.modules]
        if due:
            self._busy = True
            self._pending = [t for t in self._pending if t not in due]
            if not self._pending and self in sys.meta_path:
                sys.meta_path.remove(self)
        return due

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            due = self._take_due()
        while due:  # a registration may load another trigger: run it too once it is done
            for trigger in due:
                _run_trigger(trigger)
            with self._lock:
                self._busy = False
                due = self._take_due()


def _run_trigger(trigger: str) -> None:
    """Run ``trigger``'s registration; a failure becomes a warning (the user's import must not fail because of us)."""
    try:
        _TRIGGERS[trigger]()
    except Exception as exc:  # noqa: BLE001
        import warnings

        what = "pipeline tasks with transformers.pipeline" if trigger == "transformers.pipelines" else \
            "model families with the transformers Auto classes"
        call = "register_pipelines" if trigger == "transformers.pipelines" else "register_auto_classes"
        warnings.warn(
            f"nucleoforge could not register its {what} ({type(exc).__name__}: {exc}); "
            f"call nucleoforge.registry.{call}() to see the error",
            RuntimeWarning, stacklevel=3,
        )


def install_auto_registration() -> None:
    """Register with transformers' Auto classes and ``transformers.pipeline`` now where transformers
    has loaded them, else as soon as it does.

    Called once by ``import nucleoforge``.
    """
    import sys

    pending = [t for t in _TRIGGERS if t not in sys.modules]
    for trigger in _TRIGGERS:
        if trigger in sys.modules:
            _TRIGGERS[trigger]()
    if pending and not any(isinstance(f, _AutoRegistrationHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _AutoRegistrationHook(pending))


# ---------------------------------------------------------------------------- the table
register_family(ModelFamily(
    model_type="splicebert", name="SpliceBERT", module="nucleoforge.models.splicebert", config_class="SpliceBertConfig",
    prefix="SpliceBert", vocabulary=lambda k: SPECIAL_TOKENS + ["N", "A", "C", "G", "T"],
    # the 1024-nt model: 1026 positions; the two 510-nt models: 512
    variants={"splicebert": 1026, "splicebert.510": 512, "splicebert-human.510": 512},
    converter="nucleoforge.models.splicebert.convert:convert_splicebert",
    exporter="nucleoforge.models.splicebert.convert:export_splicebert",
    description="pre-mRNA MLM, 6×512, single nt",
    variant_descriptions={"splicebert.510": "first-stage 510-nt model", "splicebert-human.510": "human-only 510-nt model"},
    hub="multimolecule",
))  # fmt: skip
register_family(ModelFamily(
    model_type="utrbert", name="3UTRBERT", module="nucleoforge.models.utrbert", config_class="UtrBertConfig",
    prefix="UtrBert", vocabulary=lambda k: kmer_vocabulary(k, "AUCG"), ks=(3, 4, 5, 6), variants={"utrbert": 512},
    converter="nucleoforge.models.utrbert.convert:convert_utrbert",
    exporter="nucleoforge.models.utrbert.convert:export_utrbert",
    description="3'UTR MLM, 12×768, {k}-mers",
    hub="multimolecule",
))  # fmt: skip
register_family(ModelFamily(
    model_type="rnaernie", name="RNAErnie", module="nucleoforge.models.rnaernie", config_class="RnaErnieConfig",
    prefix="RnaErnie", vocabulary=lambda k: SPECIAL_TOKENS + ["[DEL]", "[IND]"] + RNAERNIE_RNA_TYPES + ["A", "T", "C", "G"],
    variants={"rnaernie": 513},
    converter="nucleoforge.models.rnaernie.convert:convert_rnaernie",
    exporter="nucleoforge.models.rnaernie.convert:export_rnaernie",
    description="ncRNA MLM, 12×768, ReLU",
    hub="multimolecule",
))  # fmt: skip
register_family(ModelFamily(
    model_type="genebert-sequence", name="GeneBERT sequence encoder", module="nucleoforge.models.genebert",
    config_class="GeneBertSequenceConfig", prefix="GeneBertSequence", vocabulary=lambda k: kmer_vocabulary(k, "ACGT"),
    ks=(6, 3, 4, 5), variants={"genebert-sequence": 512}, aliases=("dnabert",),
    description="GeneBERT sequence encoder (DNABERT shape), {k}-mers",
))  # fmt: skip
register_family(ModelFamily(
    model_type="spliceai", name="SpliceAI", module="nucleoforge.models.spliceai", config_class="SpliceAIConfig",
    kind="spliceai", auto={"AutoModel": "SpliceAIModel"}, prefix="SpliceAI",
    converter="nucleoforge.models.spliceai.convert:convert_spliceai",
    # SpliceAI's and CI-SpliceAI's wheels convert on first use; OpenSpliceAI and Pangolin after `nucleoforge convert`
    pretrained=("spliceai-10k", *(f"spliceai-10k-{i}" for i in range(1, 6)),
                *(f"openspliceai-mane-{n}" for n in ("80", "400", "2k", "10k")),
                *(f"openspliceai-{s}-10k" for s in ("mouse", "zebrafish", "honeybee", "arabidopsis")), "pangolin", "cispliceai"),
    resolver="nucleoforge.models.spliceai.pretrained:resolve_named",
    description="splice-site CNN, 5-member ensemble",
))  # fmt: skip
register_family(ModelFamily(
    model_type="genebert", name="GeneBERT", module="nucleoforge.models.genebert", config_class="GeneBertConfig",
    kind="genebert", prefix="GeneBert",
    auto={"AutoModel": "GeneBertModel", "AutoModelForPreTraining": "GeneBertForPreTraining"},
    description="sequence + region × motif encoders (MGM + NGSP + SRM)",
))  # fmt: skip
