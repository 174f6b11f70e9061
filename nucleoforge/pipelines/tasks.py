"""Importing this module registers nucleoforge's pipeline tasks with ``PIPELINE_REGISTRY``.

:func:`nucleoforge.registry.register_pipelines` imports it as soon as transformers loads its
pipelines; the package ``nucleoforge.pipelines`` itself stays light, so that
``nucleoforge.pipelines.splice_predict`` (the SpliceAI commands) does not load the transformers
pipelines it never runs.
"""

from nucleoforge.pipelines import (  # noqa: F401
    attention, builtin_fill_mask, feature_extraction, fill_mask, splice_site, variant_effect,
)
