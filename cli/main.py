"""Entry point of `trace`: global options, subcommands, and the mapping of errors to exit statuses."""

from __future__ import annotations

import json
import sys
import traceback

import typer
from typer._click.exceptions import ClickException

from cli.commands import admin_cmds, chain_cmds, demo_cmds, epcis_cmds, node_cmds, qr_cmds, registry_cmds, serve_cmds
from cli.commands import escrow_cmds, org_cmds, token_cmds
from cli.context import STATE, split_global_options
from cli.status import ExitStatus, exit_status_for
from qr.errors import QRError
from trace_api.errors import ContractRevert, TraceError
from trace_api.services.explain import explain_revert

app = typer.Typer(
    name="trace",
    help="Supply-chain traceability and trade settlement on an EVM chain (GS1 EPCIS 2.0, Digital Link, escrow).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version

        try:
            shown = package_version("trace-chain")
        except PackageNotFoundError:
            shown = "unknown (not installed)"
        sys.stdout.write(f"trace {shown}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    home: str = typer.Option(None, "--home", help="State folder (TRACE_HOME).", show_default=False),
    rpc_url: str = typer.Option(None, "--rpc-url", help="JSON-RPC URL (TRACE_RPC_URL).", show_default=False),
    chain_id: int = typer.Option(None, "--chain-id", help="Expected chain id (TRACE_CHAIN_ID).", show_default=False),
    json_: bool = typer.Option(False, "--json", help="Machine-readable output (anywhere on the line)."),
    traceback_: bool = typer.Option(False, "--traceback", help="Show the full traceback on errors."),
    wide: bool = typer.Option(False, "--wide", help="Never fit tables to the terminal: show every value whole."),
    as_: str = typer.Option(None, "--as", help="Sign as this dev account or keystore name.", show_default=False),
    version: bool = typer.Option(False, "--version", help="Show the version and exit.", is_eager=True,
                                 callback=_print_version),
) -> None:
    STATE.overrides.update({"home": home, "rpc_url": rpc_url, "chain_id": chain_id})
    STATE.json = STATE.json or json_
    STATE.traceback = STATE.traceback or traceback_
    STATE.as_ = STATE.as_ or as_


node_cmds.register(app)
chain_cmds.register(app)
registry_cmds.register(app)
epcis_cmds.register(app)
serve_cmds.register(app)
demo_cmds.register(app)
admin_cmds.register(app)
qr_cmds.register(app)
escrow_cmds.register(app)
org_cmds.register(app)
token_cmds.register(app)


def _fail(message: str, status: ExitStatus, **detail: object) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    if STATE.json:
        sys.stderr.write(json.dumps({"error": first, "exit_status": int(status), **detail}, default=str) + "\n")
    else:
        sys.stderr.write(f"trace: error: {first}\n")
    return int(status)


def _describe(exc: TraceError | QRError) -> tuple[str, dict[str, object]]:
    """The message for people, and the raw facts for --json (a revert's custom error and its arguments)."""
    if isinstance(exc, ContractRevert) and exc.error:
        try:
            message = explain_revert(exc, settings=STATE.settings, chain=STATE.connected_chain)
        except Exception:  # noqa: BLE001 - naming things is best effort; the raw error is still true
            message = str(exc)
        return message, {"contract_error": exc.error, "args": list(exc.args_)}
    return str(exc), {}


def main(argv: list[str] | None = None) -> int:
    found, args = split_global_options(list(sys.argv[1:] if argv is None else argv))
    STATE.reset(found)
    try:
        result = app(args=args, prog_name="trace", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except ClickException as exc:  # typer's bundled click: bad options, unknown commands, bad parameters
        return _fail(exc.format_message(), ExitStatus.USAGE if exc.exit_code == 2 else ExitStatus.ERROR)
    except (typer.Abort, KeyboardInterrupt):
        return _fail("interrupted", ExitStatus.INTERRUPTED)
    except (TraceError, QRError) as exc:
        if STATE.traceback:
            traceback.print_exc()
        message, detail = _describe(exc)
        return _fail(message, exit_status_for(exc), **detail)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, unless --traceback
        if STATE.traceback:
            traceback.print_exc()
        return _fail(f"{type(exc).__name__}: {exc}", ExitStatus.ERROR)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
