"""RFC 9457 problem+json responses; the one place that maps library errors to HTTP status codes.

Every error answer is ``application/problem+json``, and every operation in the OpenAPI document declares the
problem statuses it can answer with (:func:`declare`), so clients and schema-driven fuzzers see the real contract.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from web3.exceptions import MismatchedABI, Web3ValidationError

from trace_api import errors
from trace_api.http.introspect import Operation, allowed_methods, operations

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
log = logging.getLogger("trace_api.http")

# Most specific first: the first class the error is an instance of wins.
STATUS_BY_ERROR: list[tuple[type[errors.TraceError], int]] = [
    (errors.PayloadTooLargeError, 413),
    (errors.ValidationError, 422),
    (errors.NotFoundError, 404),
    (errors.UnauthorizedError, 401),
    (errors.ForbiddenError, 403),
    (errors.ConflictError, 409),
    (errors.ContractRevert, 409),
    (errors.VerificationFailed, 422),
    (errors.ChainUnavailableError, 503),
    (errors.ConfigError, 500),
]

DESCRIPTIONS = {
    400: "Malformed request (problem+json)",
    401: "Missing or invalid API key (problem+json)",
    403: "The API key does not allow this (problem+json)",
    404: "Not found (problem+json)",
    408: "The request body did not arrive in time (problem+json)",
    409: "Refused by the contract or by existing state; `error` names the contract error (problem+json)",
    413: "Request body over the limit (problem+json)",
    422: "Invalid input; `errors` lists the fields for request validation (problem+json)",
    429: "Too many requests from this client; see Retry-After (problem+json)",
    503: "Chain unavailable; see Retry-After (problem+json)",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}


class RateLimitedError(Exception):
    """A client spent its request tokens; ``retry_after`` is how many seconds until the next one."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after} s")
        self.retry_after = retry_after


class ProblemIssue(BaseModel):
    loc: list[str]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details, with this API's extension members."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str = Field(description="The error class, e.g. ValidationError, ContractRevert, UnauthorizedError")
    status: int
    detail: str
    errors: list[ProblemIssue] | None = Field(default=None, description="Request validation issues")
    error: str | None = Field(default=None, description="Decoded custom error of a contract revert")
    args: list[str] | None = Field(default=None, description="Arguments of that custom error")


def status_for(exc: errors.TraceError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = dict(headers or {})
    if status == 503:
        headers.setdefault("Retry-After", "5")
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json answers."""
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": DESCRIPTIONS.get(status, "Error (problem+json)"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
        }
        if status in (429, 503):
            entry["headers"] = RETRY_AFTER
        declared[status] = entry
    return declared


def _for_people(request: Request, exc: errors.ContractRevert) -> str:
    """The revert as a sentence (batches by GTIN/lot, accounts by name, dates, amounts); `error` and `args` keep
    the raw custom error for programs."""
    from trace_api.services.explain import explain_revert

    ctx = getattr(request.app.state, "ctx", None)
    try:
        return explain_revert(exc, settings=request.app.state.settings, chain=ctx.chain if ctx else None)
    except Exception:  # noqa: BLE001 - naming things is best effort; the raw error is still true
        return exc.message


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.TraceError)
    async def _trace_error(request: Request, exc: errors.TraceError) -> JSONResponse:
        status = status_for(exc)
        extra: dict[str, Any] = {}
        detail = exc.message
        if isinstance(exc, errors.ContractRevert) and exc.error:
            extra["error"] = exc.error
            extra["args"] = [str(a) for a in exc.args_]
            detail = await run_in_threadpool(_for_people, request, exc)
        if status >= 500:
            log.error("%s: %s", type(exc).__name__, exc.message)
        return problem(status, type(exc).__name__, detail, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The issues name the field and the rule, never the value sent (it may be a key or a signature).
        issues = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(i['loc'])}: {i['msg']}" for i in issues) or "invalid request"
        return problem(422, "ValidationError", detail, errors=issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only those of the first route that matched it
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return problem(exc.status_code, "HTTPError", str(exc.detail), headers=headers)

    @app.exception_handler(RateLimitedError)
    async def _rate_limited(_: Request, exc: RateLimitedError) -> JSONResponse:
        return problem(429, "RateLimitedError", str(exc), headers={"Retry-After": str(exc.retry_after)})

    # The node went away in the middle of a request (a read outside the client's own guard): 503, not 500.
    @app.exception_handler(requests.ConnectionError)
    @app.exception_handler(requests.Timeout)
    @app.exception_handler(ConnectionError)
    async def _chain_gone(_: Request, exc: Exception) -> JSONResponse:
        return problem(503, "ChainUnavailableError", "chain unavailable: cannot reach the JSON-RPC node")

    # A value that does not fit a contract argument (a trade id above uint256) is the client's input, not a bug.
    @app.exception_handler(MismatchedABI)
    @app.exception_handler(Web3ValidationError)
    async def _abi_value(_: Request, exc: Exception) -> JSONResponse:
        return problem(422, "ValidationError", "a value does not fit the contract's argument types")

    # Anything else is a bug: still problem+json, with no internals in the body (the log has the traceback).
    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return problem(500, "InternalError", "internal error; the server log has the details")


def _statuses(
    op: Operation, *, authenticated: Callable[..., Any], chain: Callable[..., Any], limited: Callable[..., Any]
) -> set[int]:
    """The problem statuses an operation can answer with, from what it depends on."""
    uses_chain = op.depends_on(chain)
    statuses: set[int] = set()
    if op.takes_input:
        statuses.add(422)
    if uses_chain:  # the node may be down
        statuses.add(503)
    if uses_chain and op.takes_input:  # what was asked for may not exist, or the contract may refuse it
        statuses |= {404, 409}
    if op.depends_on(authenticated):
        statuses |= {401, 403}
    if op.depends_on(limited):
        statuses.add(429)
    if op.mutating or op.has_body:
        statuses.add(413)
    if op.has_body:  # the body may not arrive in time
        statuses.add(408)
    if op.has_body:  # not decodable at all (bad UTF-8): FastAPI's "error parsing the body"
        statuses.add(400)
    return statuses


def _is_fastapi_422(response: dict[str, Any]) -> bool:
    return "HTTPValidationError" in json.dumps(response)


def openapi_with_problems(
    app: FastAPI, *, authenticated: Callable[..., Any], chain: Callable[..., Any], limited: Callable[..., Any]
) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` that declares, on every operation, the problem+json answers it can give.

    ``authenticated``, ``chain`` and ``limited`` are the dependencies that bring 401/403, 404/409/503 and 429.
    What a route declares itself wins, except FastAPI's own 422 schema, which is not what this API sends.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for op in operations(app):
            if not op.include_in_schema:
                continue
            declared = problem_responses(
                *sorted(_statuses(op, authenticated=authenticated, chain=chain, limited=limited))
            )
            for method in op.methods:
                responses = schema["paths"][op.path_format][method.lower()]["responses"]
                for status, entry in declared.items():
                    if str(status) not in responses or _is_fastapi_422(responses[str(status)]):
                        responses[str(status)] = entry
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "HTTPValidationError" not in json.dumps(schema["paths"]):
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
        problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem_schema.pop("$defs", {}))
        components["Problem"] = problem_schema
        app.openapi_schema = schema
        return schema

    return openapi
