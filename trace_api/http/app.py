"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from trace_api import __version__
from trace_api.config import Settings, get_settings
from trace_api.http import cache, cors, deps, limits, problems, redact
from trace_api.http.edge import EdgeHeaders
from trace_api.http.guard import RequestGuard
from trace_api.http.jsonio import FiniteJSONResponse
from trace_api.http.routes import (
    batches,
    epcis,
    epcis_rest,
    escrow,
    health,
    parties,
    resolver,
    scan_checks,
    trade_files,
)
from trace_api.services.snapshots import IndexPoller

STATIC = Path(__file__).resolve().parent / "static"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    redact.install()  # again, in case logging was configured after the app was made
    yield
    ctx = getattr(app.state, "ctx", None)
    if ctx is not None:
        ctx.scans.close()  # the scans still queued are written before the process ends


def create_app(settings: Settings | None = None) -> FastAPI:
    redact.install()
    app = FastAPI(
        lifespan=_lifespan,
        title="trace",
        version=__version__,
        description="Supply-chain traceability (GS1 EPCIS 2.0, Digital Link) and trade escrow on an EVM chain. "
        "Errors are RFC 9457 problem+json.",
        default_response_class=FiniteJSONResponse,
    )
    app.state.settings = settings = settings or get_settings()
    app.state.read_buckets = limits.read_buckets(settings)
    app.state.index_poller = IndexPoller(settings.index_poll_seconds)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(batches.router)
    app.include_router(epcis.router)
    app.include_router(epcis_rest.router)
    app.include_router(resolver.router)
    app.include_router(scan_checks.router)
    app.include_router(escrow.router)
    app.include_router(trade_files.router)
    app.include_router(parties.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(resolver.compressed_router)  # one-segment paths: after every other route
    app.openapi = problems.openapi_with_problems(  # type: ignore[method-assign]
        app, authenticated=deps.get_caller, chain=deps.get_ctx, limited=deps.rate_limit
    )
    # The last added runs first: the security headers wrap everything, CORS every answer of the guard and the
    # routes (a 413 or 429 carries it too), the guard every route, the front cache the resolver's kept answers.
    app.state.front_routes = cache.Routes()
    app.add_middleware(cache.FrontCache)  # innermost: kept resolver answers, sent without routing
    app.add_middleware(RequestGuard, api=app, settings=settings)
    app.add_middleware(cors.ResolverCORS)
    app.add_middleware(EdgeHeaders, settings=settings)
    return app
