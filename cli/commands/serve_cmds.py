"""`trace serve`: the HTTP API and consumer pages."""

import typer

from cli.context import state


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the consumer verify pages.

    Behind a reverse proxy set TRACE_TRUST_PROXY=true (client address from X-Forwarded-For) and TRACE_PUBLIC_URL
    (the origin links and redirects use); without them neither proxy headers nor the Host header are used.
    """
    from trace_api.http.server import serve as run_server

    run_server(state().settings, host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
