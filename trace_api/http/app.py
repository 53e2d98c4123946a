"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from trace_api import __version__
from trace_api.config import Settings, get_settings
from trace_api.http import deps, limits, problems, redact
from trace_api.http.routes import batches, epcis, epcis_rest, health, resolver
from trace_api.http.routes import escrow


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    redact.install()  # again, in case logging was configured after the app was made
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    redact.install()
    app = FastAPI(
        lifespan=_lifespan,
        title="trace",
        version=__version__,
        description="Supply-chain traceability (GS1 EPCIS 2.0, Digital Link) and trade escrow on an EVM chain. "
                    "Errors are RFC 9457 problem+json.",
    )
    app.state.settings = settings = settings or get_settings()
    app.state.resolver_buckets = limits.resolver_buckets(settings)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(batches.router)
    app.include_router(epcis.router)
    app.include_router(epcis_rest.router)
    app.include_router(resolver.router)
    app.include_router(escrow.router)
    app.openapi = problems.openapi_with_problems(  # type: ignore[method-assign]
        app, authenticated=deps.get_caller, chain=deps.get_ctx, limited=deps.rate_limit)
    app.add_middleware(limits.BodySizeLimit, **limits.body_limits(settings))
    return app
