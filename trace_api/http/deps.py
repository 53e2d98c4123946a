"""Dependencies shared by the routes, as Annotated aliases."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from trace_api.chain.accounts import load_account
from trace_api.chain.client import Chain
from trace_api.config import Settings
from trace_api.errors import ConfigError, ForbiddenError, UnauthorizedError
from trace_api.http.limits import TokenBuckets, client_network
from trace_api.index.store import get_engine
from trace_api.services import apikeys
from trace_api.services.context import TraceContext

_lock = threading.Lock()
log = logging.getLogger("trace_api.http")


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def get_ctx(request: Request) -> TraceContext:
    """The app's context, made on first use and kept; while the node is down each request retries (503).
    Async so that a request served from memory (``http.cache``) takes no thread-pool turn for it."""
    ctx: TraceContext | None = getattr(request.app.state, "ctx", None)
    return ctx if ctx is not None else await run_in_threadpool(_open_ctx, request)


def _open_ctx(request: Request) -> TraceContext:
    with _lock:
        ctx: TraceContext | None = getattr(request.app.state, "ctx", None)
        if ctx is None:
            ctx = TraceContext.open(request.app.state.settings, autostart=False)
            request.app.state.ctx = ctx
        return ctx


CtxDep = Annotated[TraceContext, Depends(get_ctx)]


def get_chain(ctx: CtxDep) -> Chain:
    return ctx.chain


ChainDep = Annotated[Chain, Depends(get_chain)]


@dataclass(frozen=True)
class Caller:
    organisation: str
    account_name: str
    account: Any


# Declared as security schemes so the OpenAPI document says which operations need a key; errors are ours (401).
bearer_scheme = HTTPBearer(auto_error=False, description="An organisation's API key: `Authorization: Bearer <key>`")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same API key, another header")


def api_key_from(headers: Any) -> str | None:
    """The API key of a request: ``Authorization: Bearer <key>``, else ``X-API-Key``.

    An ``Authorization`` header that is not a bearer token counts as no key, even beside ``X-API-Key``.
    """
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        return (credentials.strip() or None) if scheme.lower() == "bearer" else None
    key: str | None = headers.get("x-api-key")
    return key


def get_caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    x_api_key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> Caller:
    """The organisation behind the request's API key, and the account its writes are signed with.

    The request guard has checked the key before the body was read; this names the caller for the route. The
    two security parameters are there for the OpenAPI document.
    """
    settings: Settings = request.app.state.settings
    key = api_key_from(request.headers)
    organisation, account_name = apikeys.authenticate(get_engine(settings), key)
    try:
        account = load_account(settings, account_name)
    except (ConfigError, UnauthorizedError) as exc:
        # The key is good; the server cannot sign for it (no such account or keystore, wrong keystore password).
        # The client gets no server paths; the operator gets the reason in the log.
        log.error("API key of %s: account %r cannot sign: %s", organisation, account_name, exc)
        raise ForbiddenError(
            f"the account of this API key ({account_name}) cannot sign on this server; ask the operator"
        ) from exc
    return Caller(organisation, account_name, account)


CallerDep = Annotated[Caller, Depends(get_caller)]


def client_host(request: Request, settings: Settings) -> str | None:
    """The client's address; behind a reverse proxy (TRACE_TRUST_PROXY) the last X-Forwarded-For entry.

    The HTTP server does not read proxy headers (``trace serve`` turns uvicorn's off): this is the only place.
    """
    forwarded = request.headers.get("x-forwarded-for")
    if settings.trust_proxy and forwarded:
        # The rightmost entry is the one our proxy appended; anything left of it the client could have written.
        return forwarded.split(",")[-1].strip()
    return request.client.host if request.client else None


async def rate_limit(request: Request) -> None:
    """Spend one of the client network's tokens on a public read route (429 problem+json when none is left).
    Memory only: async, so it takes no thread-pool turn."""
    buckets: TokenBuckets = request.app.state.read_buckets
    buckets.check(client_network(client_host(request, request.app.state.settings)))


RateLimited = Depends(rate_limit)
