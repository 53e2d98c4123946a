"""The edge of every request, before any route runs.

1. A route that needs an API key gets it checked before one byte of the body is read: without a valid key the
   answer is 401 at once and the connection is closed, so unauthenticated uploads cost neither memory nor time.
2. The body is read within a deadline (408 after ``TRACE_BODY_TIMEOUT`` seconds) and up to the route's size cap
   (413), into a spooled temporary file: up to ``SPOOL_MEMORY`` bytes in memory, beyond that on disk.
3. A JSON body must hold finite numbers only (422): NaN, Infinity and 1e999 are refused before a route sees them.

Every refusal is problem+json. A stalled request head is the HTTP server's to drop (see ``serve``).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from anyio import to_thread
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trace_api.config import Settings
from trace_api.errors import UnauthorizedError
from trace_api.finite import NonFiniteNumberError, loads_finite
from trace_api.http.deps import api_key_from, get_caller
from trace_api.http.introspect import operations
from trace_api.http.problems import problem
from trace_api.index.store import get_engine
from trace_api.services import apikeys

CAPTURE_PATH = "/capture"
SPOOL_MEMORY = 64 * 1024  # bodies above this go to a temporary file while they arrive
CHUNK = 64 * 1024
THREAD_PARSE = 64 * 1024  # parse larger bodies off the event loop


def body_limits(settings: Settings) -> dict[tuple[str, str], int]:
    """Per-route body caps; every other route has ``settings.max_request_bytes``."""
    return {("POST", CAPTURE_PATH): settings.max_capture_bytes}


class RequestGuard:
    """ASGI middleware: key first, then a capped, timed, spooled body with finite JSON numbers."""

    def __init__(self, app: ASGIApp, *, api: FastAPI, settings: Settings) -> None:
        self.app = app
        self.api = api
        self.settings = settings
        self.per_route = body_limits(settings)
        self._keyed: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def needs_key(self, scope: Scope) -> bool:
        if self._keyed is None:  # routes may be added after the middleware is made: look at first use
            self._keyed = [
                (compile_path(op.path)[0], op.methods) for op in operations(self.api) if op.depends_on(get_caller)
            ]
        method, path = scope["method"], scope["path"]
        return any(method in methods and regex.match(path) for regex, methods in self._keyed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.needs_key(scope):
            try:
                await to_thread.run_sync(apikeys.authenticate, get_engine(self.settings), api_key_from(headers))
            except UnauthorizedError as exc:
                await _refuse(scope, receive, send, 401, "UnauthorizedError", exc.message)
                return
        limit = self.per_route.get((scope["method"], scope["path"]), self.settings.max_request_bytes)
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await _too_large(scope, receive, send, limit, declared)
            return
        if declared == 0 or (declared is None and "transfer-encoding" not in headers):
            await self.app(scope, receive, send)
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
            try:
                async with asyncio.timeout(self.settings.body_timeout):
                    size, more = await _spool(receive, spool, limit)
            except TimeoutError:
                detail = f"the request body did not arrive within {self.settings.body_timeout:g} s"
                await _refuse(scope, receive, send, 408, "RequestTimeoutError", detail)
                return
            if size > limit:
                await _too_large(scope, receive, send, limit)
                return
            if more is not None:  # the client went away before the body was complete
                return
            if size and _is_json(headers):
                spool.seek(0)
                text = spool.read()
                try:
                    if size > THREAD_PARSE:
                        await to_thread.run_sync(loads_finite, text)
                    else:
                        loads_finite(text)
                except NonFiniteNumberError as exc:
                    await _refuse(scope, receive, send, 422, "ValidationError", exc.message)
                    return
                except (ValueError, RecursionError):
                    pass  # not JSON at all: the route answers for its own body
            spool.seek(0)
            chunks = _chunks(spool)

            async def replay() -> Message:
                for chunk, last in chunks:
                    return {"type": "http.request", "body": chunk, "more_body": not last}
                return await receive()

            await self.app(scope, replay, send)


async def _spool(receive: Receive, spool: IO[bytes], limit: int) -> tuple[int, Message | None]:
    """Read the body into ``spool``; (bytes, None), or (bytes, the disconnect message) if the client left.

    Stops reading as soon as the size passes ``limit``.
    """
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return size, message
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return size, None
        spool.write(chunk)
        if not message.get("more_body", False):
            return size, None


def _chunks(spool: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    chunk = spool.read(CHUNK)
    while True:
        following = spool.read(CHUNK)
        yield chunk, not following
        if not following:
            return
        chunk = following


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


def _is_json(headers: Headers) -> bool:
    """FastAPI reads a body without a content type as JSON, and so does the capture route."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return not content_type or content_type.endswith("json")


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str, **extra: Any
) -> None:
    response = problem(status, title, detail, **extra)
    response.headers["Connection"] = "close"  # the rest of the body is not read
    await response(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int, declared: int | None = None) -> None:
    size = f" of {declared} bytes" if declared is not None else ""
    detail = f"request body{size} is over the limit of {limit} bytes for {scope['method']} {scope['path']}"
    await _refuse(scope, receive, send, 413, "PayloadTooLargeError", detail, limit=limit)
