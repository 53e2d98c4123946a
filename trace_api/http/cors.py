"""What every resolver response carries: CORS for any origin (a middleware, so errors and 429s carry it too), the
Link header, Vary; HEAD without a body, and the HEAD and OPTIONS routes beside each GET.

Also the path convertors that let the resolver's routes match Digital Link paths only: ``gs1key`` (a primary key
AI as first segment) and ``gs1compressed`` (one segment of base64url, a compressed Digital Link URI).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from qr.digital_link import PRIMARY_KEYS
from trace_api.http.edge import with_headers
from trace_api.services.linksets import LINKSET_CONTEXT

METHODS = "GET, HEAD, OPTIONS"
HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": METHODS,
    "Access-Control-Allow-Headers": "Accept, Accept-Language, Content-Type",
    "Access-Control-Expose-Headers": "Link, Location, Content-Language",
    "Access-Control-Max-Age": "86400",
    "Vary": "Accept, Accept-Language",
}


PRIMARY_KEY = "(?:" + "|".join(sorted(PRIMARY_KEYS, key=len, reverse=True)) + ")"
# The shortest compressed URI, a GTIN alone, is 10 characters (8 + 47 bits).
COMPRESSED = "[A-Za-z0-9_-]{10,}"


class _PrimaryKey(Convertor[str]):
    regex = PRIMARY_KEY

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _Compressed(_PrimaryKey):
    regex = COMPRESSED


register_url_convertor("gs1key", _PrimaryKey())
register_url_convertor("gs1compressed", _Compressed())

# The resolver's paths: Digital Link URIs (plain or compressed), the verify pages, products, the description file.
_RESOLVER_PATH = re.compile(
    rf"^(?:/verify)?/{PRIMARY_KEY}/|^/{COMPRESSED}$|^/products/|^/verify/signature$"
    r"|^/\.well-known/gs1resolver$"
)


class ResolverCORS:
    """ASGI middleware: CORS headers on every response of the resolver's paths, whatever produced it (the route,
    a validation error, the rate limiter)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _RESOLVER_PATH.match(scope["path"]):
            await self.app(scope, receive, send)
            return

        await self.app(scope, receive, with_headers(send, HEADERS))


def link_header(*, linkset: str | None = None, same_as: str | None = None) -> dict[str, str]:
    """The Link header: the item's linkset and the JSON-LD context to read it with; for a compressed request URI,
    the uncompressed one as ``owl:sameAs``."""
    links = []
    if linkset is not None:
        links.append(f'<{linkset}>; rel="linkset"; type="application/linkset+json"')
        links.append(f'<{LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"')
    if same_as is not None:
        links.append(f'<{same_as}>; rel="owl:sameAs"')
    return {"Link": ", ".join(links)} if links else {}


def finish(request: Request, response: Response, headers: dict[str, str] | None = None) -> Response:
    """``response`` with the Link and Vary headers; for HEAD the same status and headers without the body."""
    response.headers.update({"Vary": HEADERS["Vary"], **(headers or {})})
    if response.status_code == 204:
        response.headers["Allow"] = METHODS
    if request.method == "HEAD":
        return Response(status_code=response.status_code, headers=dict(response.headers))
    return response


def also_head_and_options(
    route: APIRouter, path: str, responses: dict[int | str, dict[str, Any]] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve HEAD and OPTIONS on ``path`` with the same function as GET (one route per method, so each has its own
    operation id). HEAD answers as GET does, without a body; OPTIONS answers 204, or GET's errors."""
    head = {**(responses or {}), 200: {"description": "As GET, without the body"}}
    options = {**{k: v for k, v in (responses or {}).items() if str(k)[0] == "4"}, 204: {"description": "No content"}}

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        route.add_api_route(
            path, func, methods=["HEAD"], name=f"{func.__name__}_head", summary="Headers only", responses=head
        )
        route.add_api_route(
            path,
            func,
            methods=["OPTIONS"],
            name=f"{func.__name__}_options",
            status_code=204,
            summary="Allowed methods and CORS",
            responses=options,
        )
        return func

    return register
