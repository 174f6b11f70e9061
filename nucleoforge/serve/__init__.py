"""``nucleoforge serve``: a local SpliceAI-lookup (page + REST API) on the variant scorer.

:mod:`.service` (parsing, checks, the SpliceAI-lookup-shaped result), :mod:`.worker` (the one
thread that runs the model, batching concurrent requests), :mod:`.app` (the FastAPI app).
Needs the ``serve`` extra (FastAPI, uvicorn).
"""
