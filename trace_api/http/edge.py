"""Response headers and the request's origin, for every route (and every refusal) alike.

- Security headers: a Content-Security-Policy without inline script or style (the verify page loads its script
  and styles from ``/static``), ``frame-ancestors 'none'``, ``nosniff``, ``no-referrer`` (a signed Digital Link
  carries its signature in the query string), and HSTS when the public URL is https.
- The origin: links, redirects (also the trailing-slash ones) and ``resolverRoot`` are built from the request's
  Host header, which the client writes. It is replaced, before any route runs, by ``TRACE_PUBLIC_URL``, or, when
  that is not set, by the address the server accepted the connection on. The Host header is never reflected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trace_api.config import Settings

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's interactive docs (Swagger UI, ReDoc) are an inline script that loads its bundle from a CDN. They show no
# product data; they get their own policy, still without framing.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https:; style-src 'self' 'unsafe-inline' https:; "
    "img-src 'self' data: https:; font-src https:; connect-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


def security_headers(settings: Settings, path: str) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": DOCS_CSP if path in DOCS_PATHS else CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if settings.public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


class EdgeHeaders:
    """ASGI middleware: the public origin in, the security headers out (a route's own values win)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        public = urlsplit(settings.public_url) if settings.public_url else None
        self.public = (public.scheme, public.netloc) if public else None

    def origin(self, scope: Scope) -> tuple[str, str]:
        """(scheme, host[:port]) the app's URLs are built from."""
        if self.public:
            return self.public
        scheme = scope.get("scheme", "http")
        server = scope.get("server")
        if not server:
            return scheme, "localhost"
        host, port = server[0], server[1]
        host = f"[{host}]" if ":" in str(host) else str(host)
        default = 443 if scheme == "https" else 80
        return scheme, host if port in (None, default) else f"{host}:{port}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scheme, netloc = self.origin(scope)
        headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
        scope = {**scope, "scheme": scheme, "headers": [(b"host", netloc.encode("latin-1")), *headers]}
        extra = security_headers(self.settings, scope["path"])

        await self.app(scope, receive, with_headers(send, extra))


def with_headers(send: Send, headers: dict[str, str]) -> Send:
    """``send``, adding each of ``headers`` to the response unless the route set it already."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = MutableHeaders(scope=message)
            for name, value in headers.items():
                if name not in present:
                    present[name] = value
        await send(message)

    return sending
