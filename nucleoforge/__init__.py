"""nucleoforge: nucleic-acid foundation models for PyTorch and Hugging Face transformers.

Importing the package registers every model family of :mod:`nucleoforge.registry` with the
transformers Auto classes, so ``AutoModelForMaskedLM.from_pretrained(dir)`` and
``AutoTokenizer.from_pretrained(dir)`` work on folders written by nucleoforge, and registers the
pipeline tasks (``nucleotide-fill-mask``, ``nucleotide-embedding``, ``zero-shot-variant-effect``,
``nucleotide-attention``, ``splice-site``) with ``transformers.pipeline``. The import itself
stays light (no torch): the Auto classes are registered with as soon as transformers loads them,
the tasks as soon as transformers loads its pipelines
(:func:`nucleoforge.registry.install_auto_registration`). The names below
(``nucleoforge.SpliceBertForMaskedLM``…) load on first use; so do MultiMolecule's names for them
(``RnaTokenizer``, ``SpliceBertForPreTraining``, ``UtrBertForNucleotidePrediction``…), so its model
cards' code runs with ``import nucleoforge``. ``nucleoforge.pipeline`` is ``transformers.pipeline``.

>>> import nucleoforge as nf
>>> nf.SpliceBertConfig().max_position_embeddings
1026
"""

from __future__ import annotations

import importlib
from typing import Any

from nucleoforge import registry as _registry

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first attribute access)
_EXPORTS: dict[str, str] = {
    "NucleotideTokenizer": "nucleoforge.tokenization",
    "NucleotideBertConfig": "nucleoforge.models.bert",
    **{f"{p}{s}": f"nucleoforge.models.{m}" for m, p in (("splicebert", "SpliceBert"), ("utrbert", "UtrBert"), ("rnaernie", "RnaErnie"))
       for s in ("Config", "Model", "ForMaskedLM", "ForSequencePrediction", "ForTokenPrediction", "ForContactPrediction")},
    **{n: "nucleoforge.models.genebert" for n in ("GeneBertConfig", "GeneBertForPreTraining", "GeneBertModel", "GeneBertSequenceConfig",
                                                  "GeneBertSequenceForSequencePrediction", "GeneBertSequenceForTokenPrediction")},
    **{n: "nucleoforge.models.spliceai" for n in ("SpliceAI", "SpliceAIConfig", "SpliceAIModel")},
}  # fmt: skip

#: MultiMolecule's class names (its model cards' snippets) -> ours: ``(module, class)``
_ALIASES: dict[str, tuple[str, str]] = {
    "RnaTokenizer": ("nucleoforge.tokenization", "RnaTokenizer"),
    "DnaTokenizer": ("nucleoforge.tokenization", "DnaTokenizer"),
    **{f"{p}ForPreTraining": (f"nucleoforge.models.{m}", f"{p}ForMaskedLM")
       for m, p in (("splicebert", "SpliceBert"), ("utrbert", "UtrBert"), ("rnaernie", "RnaErnie"))},
    "UtrBertForNucleotidePrediction": ("nucleoforge.models.utrbert", "UtrBertForTokenPrediction"),
    "SpliceAiModel": ("nucleoforge.models.spliceai.token_ids", "SpliceAiModel"),
}  # fmt: skip

__all__ = [*_EXPORTS, *_ALIASES, "pipeline"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS or name in _ALIASES:
        module, attribute = _ALIASES.get(name, (_EXPORTS.get(name, ""), name))
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nucleoforge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_ALIASES])


def pipeline(task: str, *args: Any, **kwargs: Any) -> Any:
    """:func:`transformers.pipeline` with nucleoforge's tasks registered (``nucleotide-fill-mask``,
    ``nucleotide-embedding``, ``zero-shot-variant-effect``, ``nucleotide-attention``, ``splice-site``)."""
    import transformers

    _registry.register_pipelines()  # already done when transformers.pipelines was loaded; idempotent

    return transformers.pipeline(task, *args, **kwargs)


_registry.install_auto_registration()
