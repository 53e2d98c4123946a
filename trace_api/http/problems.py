"""RFC 9457 problem+json responses; the one place that maps library errors to HTTP status codes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trace_api import errors

PROBLEM_JSON = "application/problem+json"

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


def status_for(exc: errors.TraceError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.TraceError)
    async def _trace_error(_: Request, exc: errors.TraceError) -> JSONResponse:
        status = status_for(exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, errors.ContractRevert) and exc.error:
            extra["error"] = exc.error
            extra["args"] = [str(a) for a in exc.args_]
        return problem(status, type(exc).__name__, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(i['loc'])}: {i['msg']}" for i in issues) or "invalid request"
        return problem(422, "ValidationError", detail, errors=issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "HTTPError", str(exc.detail))
