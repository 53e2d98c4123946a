"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from trace_api import __version__
from trace_api.config import Settings, get_settings
from trace_api.http import problems
from trace_api.http.routes import batches, epcis, health, resolver
from trace_api.http.routes import escrow


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="trace",
        version=__version__,
        description="Supply-chain traceability (GS1 EPCIS 2.0, Digital Link) and trade escrow on an EVM chain.",
    )
    app.state.settings = settings or get_settings()
    problems.install(app)
    app.include_router(health.router)
    app.include_router(batches.router)
    app.include_router(epcis.router)
    app.include_router(resolver.router)
    app.include_router(escrow.router)
    return app
