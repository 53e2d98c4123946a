"""Conditional, reused answers for the resolver's read routes: ETag, Cache-Control, 304 Not Modified.

An answer (the verify page, the JSON summary, a linkset, a redirect) is a function of the request's variant
(method aside: HEAD is GET without the body) and of the index version (``services.snapshots``), and for a unit of
its recorded scans. It is built once per such key and its bytes are served until the index moves. Its ETag is a
hash of the bytes, so a recall or a new event (a new page) changes it, and a client revalidating with
``If-None-Match`` gets 304 without a body. ``Cache-Control: no-cache``: a browser or proxy may keep the page but
asks again every time, so a recall shows on the next scan.

Requests carrying an API key may see private documents (``privacy.py``): they are built for themselves, not kept
here, and marked ``private``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Engine

from trace_api.services.snapshots import Snapshots, Version

PUBLIC = "public, no-cache"
PRIVATE = "private, no-cache"
VARIANT_HEADERS = ("accept-language", "cookie")  # besides the media type asked for, what may change an answer
_HOP = {"content-length", "etag", "cache-control"}


@dataclass(frozen=True)
class Stored:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    etag: str
    note: Any = None  # what the builder said about the answer, returned with it on every use

    @classmethod
    def of(cls, response: Response, note: Any = None) -> Stored:
        body = bytes(response.body)
        headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in _HOP)
        media = response.headers.get("content-type", "")
        etag = '"' + hashlib.sha256(media.encode() + b"\n" + body).hexdigest()[:32] + '"'
        return cls(response.status_code, headers, body, etag, note)


_lock = threading.Lock()


def pages(request: Request, engine: Engine) -> Snapshots[Stored]:
    """The answers kept by the app: bounded, each valid for the index version it was built at; made on first use
    (the app opens the index lazily, as its context)."""
    state = request.app.state
    with _lock:
        found: Snapshots[Stored] | None = getattr(state, "pages", None)
        if found is None:
            found = state.pages = Snapshots(engine, max_age=state.settings.snapshot_max_age, max_entries=2048)
        return found


def variant(request: Request, *parts: Hashable) -> tuple[Hashable, ...] | None:
    """The key of a request's answer; None when it carries credentials (its answer is its own)."""
    headers = request.headers
    if "authorization" in headers or "x-api-key" in headers:
        return None
    raw = request.scope.get("raw_path") or request.url.path.encode()
    return (raw, request.url.query, str(request.base_url), *(headers.get(name) for name in VARIANT_HEADERS), *parts)


def as_get(request: Request) -> Request:
    """The same request as a GET: what is built and kept is the whole answer, HEAD strips it when sending."""
    if request.method == "GET":
        return request
    return Request({**request.scope, "method": "GET"}, request.receive)


def answer(
    request: Request,
    build: Callable[[], tuple[Response, Any]],
    *,
    store: Snapshots[Stored] | None,
    key: Hashable | None,
    version: Version | None,
) -> tuple[Response, Any]:
    """The answer to a GET or HEAD, and the note its builder returned with it: reused when ``key`` and
    ``version`` match a kept one, else built (and kept when ``key`` is not None); 304 when it is a 200 whose ETag
    the client already holds."""

    def stored() -> Stored:
        return Stored.of(*build())

    if key is None or store is None:
        kept, cache_control = stored(), PRIVATE
    else:
        kept, cache_control = store.get(key, stored, version=version), PUBLIC
    return respond(request, kept, cache_control)


def respond(request: Request, kept: Stored, cache_control: str = PUBLIC) -> tuple[Response, Any]:
    """A kept answer as the response to this GET or HEAD (304 when the client holds its ETag), and its note."""
    headers = dict(kept.headers)
    headers.update({"ETag": kept.etag, "Cache-Control": cache_control})
    if kept.status == 200 and _matches(request.headers.get("if-none-match"), kept.etag):
        headers.pop("content-type", None)
        return Response(status_code=304, headers=headers), kept.note
    if request.method == "HEAD":
        headers["content-length"] = str(len(kept.body))
        return Response(status_code=kept.status, headers=headers), kept.note
    return Response(kept.body, status_code=kept.status, headers=headers), kept.note


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: ``*``, or the ETag among the listed ones (weak comparison)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


# ---- in front of the router ----
Unit = tuple[str, str]


CLAIM_SECONDS = 5.0  # a rebuild that has not reported back by then may be claimed again


@dataclass(frozen=True)
class Route:
    """What the resolver route said about an answer: the rest of its key, the unit it is a scan of, and the key
    of the answer it kept last."""

    base: tuple[Hashable, ...]
    unit: Unit | None
    last: Hashable | None = None


class Routes:
    """Which answers the resolver route said the front may serve: request key -> :class:`Route` (bounded)."""

    def __init__(self, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._routes: OrderedDict[Hashable, Route] = OrderedDict()
        self._claims: dict[Hashable, float] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def claim(self, key: Hashable) -> bool:
        """True for the one request that is to rebuild ``key``'s answer (until it reports back)."""
        now = self._clock()
        with self._lock:
            if now - self._claims.get(key, -CLAIM_SECONDS) < CLAIM_SECONDS:
                return False
            self._claims[key] = now
            return True

    def remember(self, request: Request, route: Route) -> None:
        key = front_key(request)
        if key is None:
            return
        with self._lock:
            self._claims.pop(key, None)
            self._routes[key] = route
            self._routes.move_to_end(key)
            while len(self._routes) > self.max_entries:
                self._routes.popitem(last=False)

    def get(self, key: Hashable) -> Route | None:
        with self._lock:
            return self._routes.get(key)


def front_key(request: Request) -> tuple[Hashable, ...] | None:
    key = variant(request)
    return None if key is None else (key, request.headers.get("accept"))


class FrontCache:
    """Serves a kept answer of the resolver before routing, when the route has said how (``Routes``).

    Routing, dependency solving and parsing the Digital Link cost several times more than sending kept bytes. This
    middleware repeats what the route does for a kept answer, nothing else: the client's rate-limit token, the
    index poll, the variant key with the unit's scans, the index version, the scan queued. Whatever it cannot
    answer from memory (no such answer kept, index or scans moved, no token left, credentials, a body) goes to the
    router as if it were not there.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            request = Request(scope, receive)
            response = _kept(request)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _kept(request: Request) -> Response | None:
    # imported here: the resolver's helpers sit above this module
    from trace_api.http.deps import client_host
    from trace_api.http.limits import client_network
    from trace_api.services.resolver import place_of, scan_report

    state = request.app.state
    ctx, store = getattr(state, "ctx", None), getattr(state, "pages", None)
    if ctx is None or store is None or state.index_poller.blocks:
        return None
    headers = request.headers
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        return None
    key = front_key(request)
    route = state.front_routes.get(key) if key is not None else None
    if route is None:
        return None
    host = client_host(request, state.settings)
    place = place_of(host)
    scans = None
    if route.unit is not None:
        facts = ctx.scans.known(*route.unit)
        if facts is None:
            return None
        scans = tuple(scan_report(facts, place).model_dump().items())
    state.index_poller.poke(ctx.sync)
    version = store.version()
    kept = store.peek((*key[0], *route.base, scans), version)  # type: ignore[misc,index]
    if kept is None:
        # Only the unit's recorded scans moved (a batch was written): one request rebuilds the page, the others
        # are sent the one built before, at the same index version, with the scans recorded before that batch.
        previous = store.peek(route.last, version) if route.last is not None and route.unit is not None else None
        if previous is None or state.front_routes.claim(key):
            return None
        kept = previous
    if state.read_buckets.take(client_network(host)):
        return None  # no token left: the route answers (429 by its own rate-limit check)
    response, scanned = respond(request, kept)
    if scanned is not None:
        ctx.scans.record(*scanned, place)
    return response
