"""transformers Pipeline subclasses, registered with PIPELINE_REGISTRY on import.

Tasks: ``nucleotide-fill-mask``, ``nucleotide-embedding``, ``zero-shot-variant-effect``,
``nucleotide-attention`` (language models) and ``splice-site`` (SpliceAI). ``import nucleoforge.pipelines``
registers them.
"""

from nucleoforge.pipelines import attention, feature_extraction, fill_mask, splice_site, variant_effect  # noqa: F401
