"""transformers Pipeline subclasses, registered with PIPELINE_REGISTRY on import.

Tasks: ``nucleotide-fill-mask``, ``nucleotide-embedding``, ``zero-shot-variant-effect``,
``nucleotide-attention`` (language models) and ``splice-site`` (SpliceAI). ``import nucleoforge.pipelines``
registers them; ``import nucleoforge`` arranges for that to happen as soon as transformers loads its
pipelines (:func:`nucleoforge.registry.install_auto_registration`), so
``transformers.pipeline("nucleotide-fill-mask", model=dir)`` needs nothing more.
"""

from nucleoforge.pipelines import attention, feature_extraction, fill_mask, splice_site, variant_effect  # noqa: F401
