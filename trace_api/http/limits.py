"""Request limits: body size (413) for every route, and a per-client token bucket (429) for the public ones."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trace_api.config import Settings
from trace_api.http.problems import RateLimitedError, problem

CAPTURE_PATH = "/capture"


class TokenBuckets:
    """One token bucket per client key, in memory: ``burst`` tokens, refilled at ``per_minute`` a minute.

    The least recently seen clients are forgotten beyond ``max_clients``, which bounds the memory a flood of
    distinct addresses can take (a forgotten client starts again with a full bucket).
    """

    def __init__(self, *, per_minute: int, burst: int = 0, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst or per_minute)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """Spend one token of ``key``: 0.0 when allowed, else the seconds until a token is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
            if not wait:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def check(self, key: str) -> None:
        wait = self.take(key)
        if wait:
            raise RateLimitedError(max(1, math.ceil(wait)))


def resolver_buckets(settings: Settings) -> TokenBuckets:
    return TokenBuckets(per_minute=settings.resolver_rate_per_minute, burst=settings.resolver_rate_burst)


class BodySizeLimit:
    """Refuse request bodies over the limit with 413 problem+json, before the route reads them.

    A declared Content-Length over the limit is refused at once; a body without one (chunked) is read up to the
    limit and refused as soon as it passes it. A body within the limit is handed on as it was received.
    """

    def __init__(self, app: ASGIApp, *, default: int, per_route: dict[tuple[str, str], int] | None = None) -> None:
        self.app = app
        self.default = default
        self.per_route = per_route or {}

    def limit_for(self, scope: Scope) -> int:
        return self.per_route.get((scope["method"], scope["path"]), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, receive, send, limit, declared)
            return
        if declared == 0 or (declared is None and not _has_body(scope)):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await _too_large(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _has_body(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int, declared: int | None = None) -> None:
    size = f" of {declared} bytes" if declared is not None else ""
    detail = f"request body{size} is over the limit of {limit} bytes for {scope['method']} {scope['path']}"
    response = problem(413, "PayloadTooLargeError", detail, limit=limit)
    response.headers["Connection"] = "close"  # the rest of the body is not read
    await response(scope, receive, send)


def body_limits(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of :class:`BodySizeLimit` for these settings."""
    return {"default": settings.max_request_bytes,
            "per_route": {("POST", CAPTURE_PATH): settings.max_capture_bytes}}
