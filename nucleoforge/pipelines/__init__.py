"""transformers Pipeline subclasses for nucleoforge's tasks.

Tasks: ``nucleotide-fill-mask``, ``nucleotide-embedding``, ``zero-shot-variant-effect``,
``nucleotide-attention`` (language models) and ``splice-site`` (SpliceAI). ``import nucleoforge``
registers them as soon as transformers loads its pipelines
(:func:`nucleoforge.registry.install_auto_registration`, which imports :mod:`.tasks`), so
``transformers.pipeline("nucleotide-fill-mask", model=dir)`` needs nothing more. Importing this
package imports none of them (the SpliceAI commands use :mod:`.splice_predict` alone).
"""
