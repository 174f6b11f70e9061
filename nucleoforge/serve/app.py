"""The ASGI app of ``nucleoforge serve``: a SpliceAI-lookup-compatible REST API and its page.

FastAPI (on Starlette, served by uvicorn) because it validates query parameters from type hints
and publishes an OpenAPI schema (``/openapi.json``) that stays in step with the code. The page,
its JS/CSS and the OpenAPI page's (uPlot, MIT; Swagger UI, Apache-2.0: ``static/vendor/``) are
files of this package: nothing loads from a CDN.

Routes: ``GET /spliceai/`` (one variant), ``POST /spliceai/batch`` (a JSON list or a VCF body,
answered in input order), ``GET /health`` (genomes, limits, the worker's batching counters),
``GET /`` (the page), ``GET /docs`` (the OpenAPI page, Swagger UI vendored), ``/static/…``. Errors are JSON ``{"error": "...", "source": "nucleoforge"}``
with HTTP 400 (bad request), 413 (too many variants), 408 (past the server's timeout).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .service import LookupService, RequestError, parse_variant
from .worker import Job, ScoringWorker

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message, "source": "nucleoforge"}, status_code=status)


def create_app(service: LookupService, *, max_batch: int = 64, timeout: float = 60.0, batch_wait: float = 0.01,
               default_distance: int = 50) -> FastAPI:
    """The app; its worker thread (``app.state.worker``) starts now and stops at shutdown."""
    from contextlib import asynccontextmanager

    worker = ScoringWorker(service.score, max_batch=max_batch, batch_wait=batch_wait, on_close=service.close)
    genomes = sorted(service.genomes)

    @asynccontextmanager
    async def lifespan(app):
        yield
        worker.close()  # the worker closes the service's cache on its own thread

    app = FastAPI(title="nucleoforge serve", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="SpliceAI delta scores for one variant at a time, compatible with the Broad's "
                              "SpliceAI-lookup API. Errors: JSON {\"error\": ...} with HTTP 400/408/413.")
    app.state.worker, app.state.service = worker, service
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return _error(f"{where or 'request'}: {first.get('msg', 'invalid value')}"
                      + (f" (got {first['input']!r})" if "input" in first and first["input"] is not None else ""))

    async def run(jobs: list[Job]) -> list[Any]:
        futures = [worker.submit(j) for j in jobs]
        try:
            return await asyncio.wait_for(asyncio.gather(*(asyncio.wrap_future(f) for f in futures)), timeout)
        except asyncio.TimeoutError:
            for f in futures:
                f.cancel()
            raise RequestError(f"the request took longer than the server's timeout of {timeout:g} s (--timeout); "
                               "retry later or send fewer variants at once", status=408) from None

    def job(genome: str, text: str, distance: int, mask: int, tracks: bool) -> Job:
        chrom, pos, ref, alt = parse_variant(text)  # an MNV gets the original's '.' values
        return Job(genome, chrom, pos, ref, alt, distance, bool(mask), tracks)

    @app.get("/spliceai/", summary="SpliceAI delta scores of one variant")
    async def spliceai(
        variant: str = Query(..., description="chrom-pos-ref-alt (chr8-140300616-T-G), chrom:pos ref>alt or chrom pos ref alt"),
        hg: str = Query(genomes[0], description=f"genome: one of {', '.join(genomes)}"),
        distance: int = Query(default_distance, description="max distance between the variant and a gained/lost site"),
        mask: int = Query(0, description="0 = raw scores, 1 = masked (annotated-site gains and unannotated-site losses set to 0)"),
        tracks: int = Query(0, description="1 = always run the model and return the per-position REF/ALT tracks "
                                           "(else a cached result may come without them)"),
    ):
        try:
            service.check_request(hg, distance, mask)
            result = (await run([job(hg, variant, distance, mask, bool(tracks))]))[0]
        except RequestError as exc:
            return _error(str(exc), exc.status)
        if isinstance(result, RequestError):
            return _error(str(result), result.status)
        return result

    batch_body = {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"oneOf": [
            {"type": "array", "items": {"type": "string"}, "example": ["chr22-20102090-T-C", "22:20050957 C>T"]},
            {"type": "object", "required": ["variants"], "properties": {
                "variants": {"type": "array", "items": {"type": "string"}}, "hg": {"type": "string"},
                "distance": {"type": "integer"}, "mask": {"type": "integer"}}}]}},
        "text/plain": {"schema": {"type": "string", "description": "a VCF: CHROM POS ID REF ALT columns, one ALT per record"}}}}}

    @app.post("/spliceai/batch", summary="SpliceAI delta scores of several variants, in input order",
              openapi_extra=batch_body)
    async def spliceai_batch(request: Request, hg: str = Query(genomes[0]), distance: int = Query(default_distance),
                             mask: int = Query(0), tracks: int = Query(0)):
        """Body: a JSON list of variant strings, or ``{"variants": [...], "hg": ..., "distance": ..., "mask": ...}``,
        or a VCF (CHROM POS ID REF ALT columns; one ALT per record). Each answer is a result or ``{"error": ...}``."""
        body = (await request.body()).decode("utf-8", "replace")
        try:
            texts, hg, distance, mask = _batch_body(body, request.headers.get("content-type", ""), hg, distance, mask)
            if len(texts) > max_batch:
                raise RequestError(f"{len(texts)} variants in one batch: this server takes at most {max_batch} "
                                   "(--max-batch); split the request", status=413)  # fmt: skip
            service.check_request(hg, distance, mask)
            jobs: list[Any] = []
            for t in texts:
                try:
                    jobs.append(job(hg, t, distance, mask, bool(tracks)))
                except RequestError as exc:
                    jobs.append(exc)
            results = await run([j for j in jobs if isinstance(j, Job)])
        except RequestError as exc:
            return _error(str(exc), exc.status)
        it = iter(results)
        out = []
        for t, j in zip(texts, jobs):
            r = j if isinstance(j, RequestError) else next(it)
            out.append({"variant": t, "error": str(r), "source": "nucleoforge"} if isinstance(r, RequestError) else r)
        return out

    @app.get("/health", summary="genomes, limits and the worker's batching counters")
    async def health():
        from dataclasses import asdict

        return {"status": "ok", "genomes": {k: {"reference": v[0].reference, "annotation": v[0].annotation}
                                            for k, v in service.genomes.items()},
                "model": getattr(service.model, "name_or_path", "") or "model", "max_batch": max_batch,
                "max_distance": service.max_distance, "timeout_s": timeout, "worker": asdict(worker.stats)}

    @app.get("/docs", include_in_schema=False)
    async def docs():
        from fastapi.openapi.docs import get_swagger_ui_html

        vendor = "/static/vendor/swagger-ui"
        return get_swagger_ui_html(openapi_url="/openapi.json", title="nucleoforge serve: API",
                                   swagger_js_url=f"{vendor}/swagger-ui-bundle.js", swagger_css_url=f"{vendor}/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    return app


def _batch_body(body: str, content_type: str, hg: str, distance: int, mask: int) -> tuple[list[str], str, int, int]:
    import json

    stripped = body.lstrip()
    if "json" in content_type or stripped.startswith(("[", "{")):
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            raise RequestError(f"request body is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            hg, distance, mask = str(data.get("hg", hg)), data.get("distance", distance), data.get("mask", mask)
            data = data.get("variants")
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise RequestError('request body: expected a JSON list of variant strings or {"variants": [...]}')
        if not isinstance(distance, int) or not isinstance(mask, int):
            raise RequestError("distance and mask must be integers")
        return data, hg, distance, mask
    texts = []
    for n, line in enumerate(body.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 5:
            raise RequestError(f"VCF body line {n}: expected at least 5 tab-separated columns (CHROM POS ID REF ALT), got {len(cols)}")
        if "," in cols[4]:
            raise RequestError(f"VCF body line {n}: one ALT per record, got {cols[4]!r}")
        texts.append(f"{cols[0]}-{cols[1]}-{cols[3]}-{cols[4]}")
    return texts, hg, distance, mask


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nucleoforge")
    except PackageNotFoundError:
        return "0"
