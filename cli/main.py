"""Entry point of `trace`: global options, subcommands, and the mapping of errors to exit statuses."""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from cli.context import UNBOUNDED_WIDTH, Globals, console, global_options, invocation, with_global_options
from cli.status import ExitStatus, exit_status_for
from qr.errors import QRError
from trace_api.errors import ContractRevert, TraceError

# Every top-level command: the modules that build it, and its one-line help for `trace --help`. A command's module
# (and web3, the index, ...) is imported only when that command runs, so `trace --help` does not pay for the
# whole tool. tests/unit/test_cli_commands.py checks this table against the commands themselves.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "node": (("node_cmds",), "Start, stop and steer the local chain (anvil)."),
    "deploy": (("chain_cmds",), "Deploy the contracts (and local mock tokens)."),
    "accounts": (("chain_cmds",), "Accounts you can sign with: names, roles, balances."),
    "compile": (("chain_cmds",), "Compile contracts/ and refresh the shipped ABI."),
    "batch": (("registry_cmds", "show_cmds", "qr_cmds"), "Register, derive, recall and show batches."),
    "event": (("registry_cmds",), "Record lifecycle events."),
    "role": (("registry_cmds",), "Grant and revoke registry roles."),
    "anchor": (("registry_cmds",), "Record and anchor this account's pending events."),
    "import": (("epcis_cmds",), "Import events from CSV or EPCIS (JSON-LD, XML)."),
    "epcis": (("epcis_cmds",), "EPCIS documents: event hashes, verify, export."),
    "qr": (("qr_cmds",), "GS1 Digital Link QR codes for batches and units."),
    "verify": (("qr_cmds",), "Verify a product code against the chain."),
    "org": (("org_cmds",), "Organisations behind accounts, vouched for on chain."),
    "escrow": (("escrow_cmds",), "Trade escrow: open, release, dispute, resolve."),
    "token": (("token_cmds",), "Token balances and transfers."),
    "serve": (("serve_cmds",), "Serve the HTTP API and the consumer pages."),
    "demo": (("demo_cmds",), "Local chain, deploy, the coffee story, and serve."),
    "keys": (("admin_cmds",), "Encrypted keystores for real networks."),
    "apikey": (("admin_cmds",), "API keys for the HTTP API's write routes."),
}


def build_command(name: str) -> Any:
    """The click command ``name``, built by registering its modules' commands on a scratch Typer app."""
    modules, _ = COMMANDS[name]
    scratch = typer.Typer()
    for module in modules:
        importlib.import_module(f"cli.commands.{module}").register(scratch)
    command = typer.main.get_group(scratch).commands[name]
    return with_global_options(command)


class LazyGroup(TyperGroup):
    """The root group: lists COMMANDS, builds a command when it is run (or its own help is asked for)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if getattr(ctx, "_trace_listing", False):  # the root help only needs the one-line help
            return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][1])
        if cmd_name not in self.commands:
            self.commands[cmd_name] = build_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        ctx._trace_listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx._trace_listing = False


app = typer.Typer(
    cls=LazyGroup,
    rich_markup_mode=None,  # plain help: the rich renderer (markdown-it, pygments) costs more than the rest of start-up
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
    ctx: typer.Context,
    home: str = typer.Option(None, "--home", help="State folder (TRACE_HOME).", show_default=False),
    rpc_url: str = typer.Option(None, "--rpc-url", help="JSON-RPC URL (TRACE_RPC_URL).", show_default=False),
    chain_id: int = typer.Option(None, "--chain-id", help="Expected chain id (TRACE_CHAIN_ID).", show_default=False),
    version: bool = typer.Option(
        False, "--version", help="Show the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    ctx.obj.override(home=home, rpc_url=rpc_url, chain_id=chain_id)


def _fail(invocation: Globals, message: str, status: ExitStatus, **detail: object) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    if invocation.json:
        sys.stderr.write(json.dumps({"error": first, "exit_status": int(status), **detail}, default=str) + "\n")
    else:
        sys.stderr.write(f"trace: error: {first}\n")
    return int(status)


def _describe(invocation: Globals, exc: TraceError | QRError) -> tuple[str, dict[str, object]]:
    """The message for people, and the raw facts for --json (a revert's custom error and its arguments)."""
    if isinstance(exc, ContractRevert) and exc.error:
        from trace_api.services.explain import explain_revert

        try:
            message = explain_revert(exc, settings=invocation.settings, chain=invocation.connected_chain)
        except Exception:  # noqa: BLE001 - naming things is best effort; the raw error is still true
            message = str(exc)
        return message, {"contract_error": exc.error, "args": list(exc.args_)}
    return str(exc), {}


def main(argv: list[str] | None = None) -> int:
    found = Globals()  # click's context object of the root; the commands reach it through cli.context.state()
    console.width = None if console.is_terminal else UNBOUNDED_WIDTH  # type: ignore[assignment]
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with invocation(found):
            result = app(args=args, prog_name="trace", standalone_mode=False, obj=found)
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:  # bad options, unknown commands, bad parameters
        status = ExitStatus.USAGE if exc.exit_code == 2 else ExitStatus.ERROR
        return _fail(found, exc.format_message(), status)
    except (typer.Abort, KeyboardInterrupt):
        return _fail(found, "interrupted", ExitStatus.INTERRUPTED)
    except (TraceError, QRError) as exc:
        if found.traceback:
            traceback.print_exc()
        message, detail = _describe(found, exc)
        return _fail(found, message, exit_status_for(exc), **detail)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, unless --traceback
        if found.traceback:
            traceback.print_exc()
        return _fail(found, f"{type(exc).__name__}: {exc}", ExitStatus.ERROR)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
