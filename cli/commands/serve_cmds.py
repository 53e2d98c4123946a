"""`trace serve`: the HTTP API and consumer pages."""

from __future__ import annotations

import typer
import uvicorn

from cli.context import STATE


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the consumer verify pages."""
    from trace_api.http.app import create_app

    uvicorn.run(create_app(STATE.settings), host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
