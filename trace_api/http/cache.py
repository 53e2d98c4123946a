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


def variant(request: Request, *parts: Hashable) -> Hashable | None:
    """The key of a request's answer; None when it carries credentials (its answer is its own)."""
    headers = request.headers
    if "authorization" in headers or "x-api-key" in headers:
        return None
    raw = request.scope.get("raw_path") or request.url.path.encode()
    return (raw, request.url.query, str(request.base_url),
            *(headers.get(name) for name in VARIANT_HEADERS), *parts)


def as_get(request: Request) -> Request:
    """The same request as a GET: what is built and kept is the whole answer, HEAD strips it when sending."""
    if request.method == "GET":
        return request
    return Request({**request.scope, "method": "GET"}, request.receive)


def answer(request: Request, build: Callable[[], tuple[Response, Any]], *, store: Snapshots[Stored] | None,
           key: Hashable | None, version: Version | None) -> tuple[Response, Any]:
    """The answer to a GET or HEAD, and the note its builder returned with it: reused when ``key`` and
    ``version`` match a kept one, else built (and kept when ``key`` is not None); 304 when it is a 200 whose ETag
    the client already holds."""

    def stored() -> Stored:
        return Stored.of(*build())

    if key is None or store is None:
        kept, cache_control = stored(), PRIVATE
    else:
        kept, cache_control = store.get(key, stored, version=version), PUBLIC
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
