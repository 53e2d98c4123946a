"""Dependencies shared by the routes, as Annotated aliases."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from trace_api.chain.accounts import load_account
from trace_api.chain.client import Chain
from trace_api.config import Settings
from trace_api.index.store import get_engine
from trace_api.services import apikeys
from trace_api.services.context import TraceContext

_lock = threading.Lock()


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_ctx(request: Request) -> TraceContext:
    """The app's context, made on first use and kept; while the node is down each request retries (503)."""
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


def get_caller(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer API key")] = None,
    x_api_key: Annotated[str | None, Header(description="API key (alternative header)")] = None,
) -> Caller:
    """The organisation behind the request's API key, and the account its writes are signed with."""
    settings: Settings = request.app.state.settings
    key = x_api_key
    if authorization:
        scheme, _, token = authorization.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    organisation, account_name = apikeys.authenticate(get_engine(settings), key)
    return Caller(organisation, account_name, load_account(settings, account_name))


CallerDep = Annotated[Caller, Depends(get_caller)]
