"""`trace demo`: the end-to-end story, then the API and consumer pages until Ctrl-C."""

import typer

from cli.context import console, emit, state
from trace_api.services.demo import GREEN, ROASTED, run_story


def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API and consumer page afterwards."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Start the local chain, deploy, run the coffee story, and serve."""
    say = (lambda _: None) if state().json else (lambda text: console.print(f"[green]•[/green] {text}"))
    base = f"http://{host}:{port}"
    summary = run_story(state().settings, say=say, domain=base)
    urls = {
        "verify_page": summary.label.signed_uri,
        "health": f"{base}/health",
        "docs": f"{base}/docs",
        "history": f"{base}/batches/{ROASTED[0]}/{ROASTED[1]}/history",
        "green_history": f"{base}/batches/{GREEN[0]}/{GREEN[1]}/history",
    }
    emit(summary.model_dump(mode="json") | {"urls": urls}, "\n".join(f"  {k}: {v}" for k, v in urls.items()))
    if serve:
        from trace_api.http.server import serve as run_server

        console.print(f"serving on {base} (Ctrl-C to stop)")
        run_server(state().settings, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
