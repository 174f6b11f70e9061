"""The ASGI app of ``nucleoforge serve``: a SpliceAI-lookup-compatible REST API and its page.

FastAPI (on Starlette, served by uvicorn) because it validates query parameters from type hints
and publishes an OpenAPI schema (``/openapi.json``) that stays in step with the code. The page,
its JS/CSS and the OpenAPI page's (uPlot, MIT; Swagger UI, Apache-2.0: ``static/vendor/``) are
files of this package: nothing loads from a CDN.

Routes: ``GET /spliceai/`` (one variant), ``POST /spliceai/batch`` (a JSON list or a VCF body,
answered in input order; a multi-allelic VCF record gives one answer per ALT, as ``nucleoforge
variants`` gives one INFO entry per ALT), ``GET /pangolin/`` and ``POST /pangolin/batch`` (the same for
the server's Pangolin model, :mod:`.pangolin`; HTTP 404 without one), ``GET /health`` (genomes,
limits, the worker's batching counters; ``pangolin``: the Pangolin model, when there is one),
``GET /`` (the page), ``GET /docs`` (the OpenAPI page, Swagger UI vendored), ``/static/…``. Errors are JSON ``{"error": "...", "source": "nucleoforge"}``
with HTTP 400 (bad request), 413 (too many variants, a body over ``max_body``), 414 (a query
string over ``max_query`` bytes), 415 (a body that is neither JSON nor text), 408 (past the
server's timeout) and 500 (a failure while scoring; the server carries on).

No request can poison the server: every value is type-checked before anything is keyed on it
(:meth:`~.service.LookupService.check_request`), bodies and query strings are bounded before they
are parsed (size, JSON nesting depth, digits of a JSON number), errors quote a short prefix of
their input, a cached answer never waits for the worker (:meth:`~.service.LookupService.cached`),
and the queued jobs of a client that closes its connection are cancelled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from .service import VARIANT_FORMS, LookupService, RequestError, clip, quote, show_value
from .worker import Job, ScoringWorker

__all__ = ["create_app", "MAX_BODY", "MAX_QUERY", "MAX_PARAMS", "MAX_JSON_DEPTH", "MAX_JSON_DIGITS"]

logger = logging.getLogger("nucleoforge.serve")

STATIC = Path(__file__).parent / "static"
#: the largest request body (bytes) read by default: HTTP 413 past it
MAX_BODY = 2 << 20
#: the longest query string (bytes; a GET variant with the longest REF and ALT fits): HTTP 414 past it
MAX_QUERY = 16 << 10
#: the most query parameters (the API has five): HTTP 400 past it
MAX_PARAMS = 32
#: the deepest JSON nesting of a batch body (its shapes need two levels): HTTP 400 past it
MAX_JSON_DEPTH = 8
#: the most digits of a JSON integer (Python refuses to convert over 4,300): HTTP 400 past it
MAX_JSON_DIGITS = 18
#: the keys of a JSON-object batch body
BODY_KEYS = ("variants", "hg", "distance", "mask")


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message, "source": "nucleoforge"}, status_code=status)


class _ClientGone(Exception):
    """The client closed its connection before its answer was ready."""


class _QueryLimits:
    """ASGI middleware: a query string over ``max_bytes`` is HTTP 414, one with more than
    ``max_params`` parameters HTTP 400, both before anything parses it."""

    def __init__(self, app: Any, max_bytes: int, max_params: int) -> None:
        self.app, self.max_bytes, self.max_params = app, max_bytes, max_params

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        refusal = None
        if query and query.count(b"&") + 1 > self.max_params:
            refusal = _error(f"query string with {query.count(b'&') + 1:,} parameters: this server reads at most "
                             f"{self.max_params}")
        elif len(query) > self.max_bytes:
            refusal = _error(f"query string of {len(query):,} bytes: this server reads at most {self.max_bytes:,} "
                             "(send many variants as a POST /spliceai/batch body)", 414)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _disconnected(request: Request) -> None:
    """Returns when the client has closed the connection (uvicorn answers ``receive`` with
    ``http.disconnect`` then; before, it waits). Call it only once the body has been read."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def create_app(service: LookupService, *, max_batch: int = 64, timeout: float = 60.0, batch_wait: float = 0.01,
               default_distance: int = 50, max_body: int = MAX_BODY, max_query: int = MAX_QUERY,
               max_params: int = MAX_PARAMS) -> FastAPI:
    """The app; its worker thread (``app.state.worker``) starts now and stops at shutdown."""
    from contextlib import asynccontextmanager

    worker = ScoringWorker(service.score, max_batch=max_batch, batch_wait=batch_wait, on_close=service.close)

    @asynccontextmanager
    async def lifespan(app):
        yield
        worker.close()  # the worker closes the service's cache on its own thread

    app = FastAPI(title="nucleoforge serve", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="SpliceAI delta scores for one variant at a time, compatible with the Broad's "
                              "SpliceAI-lookup API. Errors: JSON {\"error\": ...} with HTTP 400/408/413/414/415/500.")
    app.state.worker, app.state.service = worker, service
    app.add_middleware(_QueryLimits, max_bytes=max_query, max_params=max_params)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(RequestValidationError, _bad_parameter)
    answers = _Answers(service, worker, timeout=timeout, max_batch=max_batch, max_body=max_body)
    _add_scoring_routes(app, answers, sorted(service.genomes), default_distance)
    _add_other_routes(app, answers)
    return app


async def _bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
    """HTTP 400 naming the first parameter FastAPI could not validate, and the value it got."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
    value = first.get("input")
    shown = quote(value) if isinstance(value, str) else show_value(value)
    return _error(f"{where or 'request'}: {first.get('msg', 'invalid value')}"
                  + (f" (got {shown})" if value is not None else ""))


class _Answers:
    """What the routes share: jobs built from request values, answered from the cache or by the
    worker, and exceptions turned into the JSON error answers."""

    def __init__(self, service: LookupService, worker: ScoringWorker, *, timeout: float, max_batch: int,
                 max_body: int) -> None:
        self.service, self.worker = service, worker
        self.timeout, self.max_batch, self.max_body = timeout, max_batch, max_body

    def job(self, genome: str, text: str, distance: int, mask: int, tracks: int, model: str = "spliceai") -> Job:
        chrom, pos, ref, alt = self.service.parse(text)  # an MNV gets the original's '.' values
        return Job(genome, chrom, pos, ref, alt, distance, bool(mask), bool(tracks), model)

    async def scored(self, request: Request, futures: list) -> list[Any]:
        """The futures' results (an exception for a job that failed); :class:`RequestError` 408 past
        the timeout, :class:`_ClientGone` when the client leaves first. Either way the jobs not yet
        started are cancelled."""
        gathered = asyncio.ensure_future(asyncio.gather(*(asyncio.wrap_future(f) for f in futures), return_exceptions=True))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            done, _ = await asyncio.wait({gathered, gone}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if gathered in done:
            return gathered.result()
        self.worker.stats.cancelled += sum(f.cancel() for f in futures)  # a running job finishes; a queued one is dropped
        gathered.cancel()
        if gone in done:
            raise _ClientGone()
        raise RequestError(f"the request took longer than the server's timeout of {self.timeout:g} s (--timeout); "
                           "retry later or send fewer variants at once", status=408)

    async def answer(self, request: Request, jobs: list[Job]) -> list[Any]:
        """Results per job: cache hits on a thread of their own (never behind the worker), the rest
        from the worker."""
        results: list[Any] = [None] * len(jobs)
        if self.service.cache_path and not all(j.tracks for j in jobs):
            results = await run_in_threadpool(self.service.cached, jobs)
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            for i, r in zip(todo, await self.scored(request, [self.worker.submit(jobs[i]) for i in todo])):
                results[i] = r
        return results

    @staticmethod
    def refusal(exc: BaseException) -> tuple[str, int]:
        """The error message and HTTP status of an exception: a :class:`RequestError` as it says,
        anything else a 500 (its traceback goes to the log; the server carries on)."""
        if isinstance(exc, RequestError):
            return str(exc), exc.status
        if isinstance(exc, (_ClientGone, ClientDisconnect)):  # nobody reads this answer
            return "the client closed the connection before the answer", 499
        logger.error("request failed", exc_info=exc)
        return (f"internal error while scoring ({type(exc).__name__}: {clip(str(exc))}); the server carries on and a "
                "repeated request is scored afresh", 500)

    def failure(self, exc: BaseException) -> JSONResponse:
        return _error(*self.refusal(exc))

    async def one(self, request: Request, variant: str, hg: str, distance: int, mask: int, tracks: int,
                  model: str = "spliceai") -> Any:
        """The answer of ``GET /spliceai/`` (``GET /pangolin/``): a result, or a JSON error."""
        try:
            self.service.check_request(hg, distance, mask, tracks, model)
            result = (await self.answer(request, [self.job(hg, variant, distance, mask, tracks, model)]))[0]
        except Exception as exc:
            return self.failure(exc)
        return self.failure(result) if isinstance(result, BaseException) else result

    async def batch(self, request: Request, hg: str, distance: int, mask: int, tracks: int, model: str = "spliceai") -> Any:
        """The answer of ``POST /spliceai/batch`` (``/pangolin/batch``): one result or ``{"error": ...}``
        per variant, in input order; a JSON error when the request as a whole is refused."""
        try:
            self.service.check_model(model)  # before the body is read
            body = await _read_body(request, self.max_body)
            texts, hg, distance, mask = _batch_body(body, request.headers.get("content-type", ""), hg, distance, mask,
                                                    self.max_batch)
            self.service.check_request(hg, distance, mask, tracks, model)
            jobs: list[Any] = []
            for t in texts:
                try:
                    jobs.append(self.job(hg, t, distance, mask, tracks, model))
                except RequestError as exc:
                    jobs.append(exc)
            results = await self.answer(request, [j for j in jobs if isinstance(j, Job)])
        except Exception as exc:
            return self.failure(exc)
        it = iter(results)
        out = []
        for t, j in zip(texts, jobs):
            r = j if isinstance(j, RequestError) else next(it)
            out.append({"variant": clip(t), "error": self.refusal(r)[0], "source": "nucleoforge"}
                       if isinstance(r, BaseException) else r)
        return out

    def health(self) -> dict[str, Any]:
        from dataclasses import asdict

        service, worker = self.service, self.worker
        return {"status": "ok", "genomes": {k: {"reference": v[0].reference, "annotation": v[0].annotation}
                                            for k, v in service.genomes.items()},
                "model": getattr(service.model, "name_or_path", "") or "model", "max_batch": self.max_batch,
                "max_distance": service.max_distance, "timeout_s": self.timeout, "cache_readonly": service.cache_readonly,
                "queued": worker.queued, "worker": asdict(worker.stats),
                **({"pangolin": getattr(service.pangolin, "name_or_path", "") or "pangolin"} if service.pangolin is not None
                   else {})}


#: the OpenAPI description of a batch body (FastAPI cannot infer it: the route reads the raw body)
_BATCH_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"oneOf": [
        {"type": "array", "items": {"type": "string", "description": VARIANT_FORMS},
         "example": ["chr22-20102090-T-C", "22:20050957 C>T", "chr22:g.20102090T>C"]},
        {"type": "object", "required": ["variants"], "additionalProperties": False, "properties": {
            "variants": {"type": "array", "items": {"type": "string"}}, "hg": {"type": "string"},
            "distance": {"type": "integer"}, "mask": {"type": "integer", "enum": [0, 1]}}}]}},
    "text/plain": {"schema": {"type": "string", "description": "a VCF: CHROM POS ID REF ALT columns; a record "
                                                             "with several ALTs gets one answer per ALT"}}}}}


def _add_scoring_routes(app: FastAPI, answers: _Answers, genomes: list[str], default_distance: int) -> None:
    """``GET /spliceai/`` and ``POST /spliceai/batch`` (their query defaults: the first genome, ``default_distance``)."""

    @app.get("/spliceai/", summary="SpliceAI delta scores of one variant")
    async def spliceai(
        request: Request,
        variant: str = Query(..., description=f"the variant: {VARIANT_FORMS}"),
        hg: str = Query(genomes[0], description=f"genome: one of {', '.join(genomes)}"),
        distance: int = Query(default_distance, description="max distance between the variant and a gained/lost site"),
        mask: int = Query(0, description="0 = raw scores, 1 = masked (annotated-site gains and unannotated-site losses set to 0)"),
        tracks: int = Query(0, description="1 = always run the model and return the per-position REF/ALT tracks "
                                           "(else a cached result may come without them)"),
    ):
        return await answers.one(request, variant, hg, distance, mask, tracks)

    @app.post("/spliceai/batch", summary="SpliceAI delta scores of several variants, in input order",
              openapi_extra=_BATCH_BODY)
    async def spliceai_batch(request: Request, hg: str = Query(genomes[0]), distance: int = Query(default_distance),
                             mask: int = Query(0), tracks: int = Query(0)):
        """Body: a JSON list of variant strings, or ``{"variants": [...], "hg": ..., "distance": ..., "mask": ...}``,
        or a VCF (CHROM POS ID REF ALT columns; a multi-allelic record is one variant per ALT, in ALT order).
        Each answer is a result or ``{"error": ...}``; ``--max-batch`` counts variants, so ALTs."""
        return await answers.batch(request, hg, distance, mask, tracks)

    _add_pangolin_routes(app, answers, genomes, default_distance)


def _add_pangolin_routes(app: FastAPI, answers: _Answers, genomes: list[str], default_distance: int) -> None:
    """``GET /pangolin/`` and ``POST /pangolin/batch``: the parameters and bodies of the SpliceAI routes,
    Pangolin's scores (SpliceAI-lookup's Pangolin keys, :mod:`.pangolin`); HTTP 404 without a Pangolin model."""

    @app.get("/pangolin/", summary="Pangolin splice gain/loss scores of one variant")
    async def pangolin(
        request: Request,
        variant: str = Query(..., description=f"the variant: {VARIANT_FORMS}"),
        hg: str = Query(genomes[0], description=f"genome: one of {', '.join(genomes)}"),
        distance: int = Query(default_distance, description="max distance between the variant and a gained/lost site (-d)"),
        mask: int = Query(0, description="0 = raw scores (-m False), 1 = masked (-m True: gains at annotated sites and "
                                         "losses elsewhere set to 0)"),
        tracks: int = Query(0, description="1 = always run the model and return the per-position SG/SL REF/ALT tracks"),
    ):
        return await answers.one(request, variant, hg, distance, mask, tracks, "pangolin")

    @app.post("/pangolin/batch", summary="Pangolin scores of several variants, in input order", openapi_extra=_BATCH_BODY)
    async def pangolin_batch(request: Request, hg: str = Query(genomes[0]), distance: int = Query(default_distance),
                             mask: int = Query(0), tracks: int = Query(0)):
        """The body of ``POST /spliceai/batch``; each ALT of a VCF record is its own variant (Pangolin's
        command line scores the first ALT of a record only)."""
        return await answers.batch(request, hg, distance, mask, tracks, "pangolin")


def _add_other_routes(app: FastAPI, answers: _Answers) -> None:
    """``GET /health``, ``GET /docs`` (Swagger UI, vendored) and ``GET /`` (the page)."""

    @app.get("/health", summary="genomes, limits and the worker's batching counters")
    async def health():
        return answers.health()

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


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) past ``limit`` bytes: by its Content-Length before reading, else while reading."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise RequestError(f"request body of {int(length):,} bytes: this server takes at most {limit:,}; split the "
                           "request", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(f"request body of more than {limit:,} bytes: this server takes at most {limit:,}; split "
                               "the request", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


#: media types of a batch body: JSON, or text (a VCF; a JSON-looking text is read as JSON, as
#: ``curl -d`` sends JSON as a form)
_JSON_TYPES = ("application/json",)
_TEXT_TYPES = ("", "text/plain", "text/vcf", "text/x-vcf", "text/tab-separated-values",
               "application/x-www-form-urlencoded")
# a JSON string (skipped whole) or a bracket: what the nesting check counts
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _json_deeper_than(text: str, limit: int) -> bool:
    depth = 0
    for m in _JSON_TOKENS.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _json_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_DIGITS:
        raise RequestError(f"request body: the number {clip(digits, 20)} has more than {MAX_JSON_DIGITS} digits")
    return int(digits)


def _too_many(count: str, max_batch: int) -> RequestError:
    """HTTP 413 for ``count`` (e.g. ``"9"``) variants."""
    return RequestError(f"{count} variants in one batch: this server takes at most {max_batch} (--max-batch); "
                        "split the request", status=413)


def _batch_body(raw: bytes, content_type: str, hg: str, distance: int, mask: int,
                max_batch: int) -> tuple[list[str], str, int, int]:
    """``(variant strings, hg, distance, mask)`` of a batch body; values in a JSON object override
    the query's and must have its types (a string ``hg``, integers ``distance`` and ``mask``);
    HTTP 413 (:class:`RequestError`) for more than ``max_batch`` variants."""
    media = content_type.split(";")[0].strip().lower()
    is_json = media in _JSON_TYPES or media.endswith("+json")
    if not is_json and media not in _TEXT_TYPES:
        raise RequestError(f"Content-Type {quote(media, 40)}: expected application/json (a JSON list or object of "
                           "variants) or text/plain (a VCF)", status=415)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"request body is not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start:,}") from None
    if is_json or body.lstrip().startswith(("[", "{")):
        if _json_deeper_than(body, MAX_JSON_DEPTH):
            raise RequestError(f"request body: JSON nested deeper than {MAX_JSON_DEPTH} levels (expected a list of "
                               'variant strings or {"variants": [...]})')
        try:
            data = json.loads(body, parse_int=_json_int)
        except RequestError:
            raise
        except (ValueError, RecursionError) as exc:
            raise RequestError(f"request body is not valid JSON: {clip(str(exc), 120)}") from None
        if isinstance(data, dict):
            unknown = [k for k in data if k not in BODY_KEYS]
            if unknown:
                raise RequestError(f"request body: unknown key {quote(unknown[0])} (expected {', '.join(BODY_KEYS)})")
            hg, distance, mask = data.get("hg", hg), data.get("distance", distance), data.get("mask", mask)
            for name, value, ok, expected in (
                    ("hg", hg, isinstance(hg, str), "a string naming a genome"),
                    ("distance", distance, type(distance) is int, "an integer"),
                    ("mask", mask, type(mask) is int and mask in (0, 1), "0 or 1")):
                if not ok:  # booleans are not integers: true would otherwise be read as 1
                    raise RequestError(f'request body: "{name}" must be {expected}, got {show_value(value)}')
            data = data.get("variants")
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise RequestError('request body: expected a JSON list of variant strings or {"variants": [...]}')
        if len(data) > max_batch:
            raise _too_many(f"{len(data):,}", max_batch)
        return data, hg, distance, mask
    texts: list[str] = []
    count = 0  # variants (ALTs) so far; past max_batch only counted, not built
    for n, line in enumerate(body.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 5:
            raise RequestError(f"VCF body line {n}: expected at least 5 tab-separated columns (CHROM POS ID REF ALT), got {len(cols)}")
        # one variant per ALT, as `nucleoforge variants` writes one INFO entry (group) per ALT
        alts = cols[4].split(",")
        count += len(alts)
        if count <= max_batch:
            texts.extend(f"{cols[0]}-{cols[1]}-{cols[3]}-{alt}" for alt in alts)
    if count > max_batch:
        raise _too_many(f"{count:,}", max_batch)
    return texts, hg, distance, mask


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nucleoforge")
    except PackageNotFoundError:
        return "0"
