"""`trace compile` and `trace deploy`."""

import time

import typer
from rich.table import Table

from cli.context import emit, state
from trace_api.chain import node
from trace_api.chain.compiler import is_source_checkout, refresh_packaged
from trace_api.chain.toolchain import compiler_settings
from trace_api.errors import ConfigError
from trace_api.services.deploy import deploy as deploy_service
from trace_api.services.wallets import list_accounts


def compile_(force: bool = typer.Option(False, "--force", help="Recompile even if nothing changed.")) -> None:
    """Compile contracts/ with the pinned solc (cached in build/trace) and refresh the ABI and bytecode the package
    ships (trace_api/chain/contracts.json). Needs a source checkout."""
    if not is_source_checkout():
        raise ConfigError(
            "trace compile needs a source checkout with contracts/; this package ships compiled contracts"
        )
    started = time.perf_counter()
    artifacts, changed = refresh_packaged(force=force)
    elapsed = time.perf_counter() - started
    data = {
        "solc": compiler_settings().version,
        "seconds": round(elapsed, 3),
        "contracts": sorted(artifacts),
        "packaged_changed": changed,
    }
    emit(
        data,
        f"compiled {len(artifacts)} contracts with solc {data['solc']} in {elapsed:.2f} s"
        + ("; updated trace_api/chain/contracts.json" if changed else ""),
    )


def deploy(
    force: bool = typer.Option(False, "--force", help="Deploy again even if the live deployment matches."),
) -> None:
    """Deploy TraceRegistry and TradeEscrow (plus mock stablecoins on the local chain); starts the local node."""
    node.allow_autostart(state().settings)
    if is_source_checkout():
        refresh_packaged()  # a source checkout deploys what contracts/ says today
    chain = state().chain()
    result = deploy_service(chain=chain, account=state().account("admin"), force=force)
    record = result.deployment
    data = {"deployed": result.deployed, **record.to_json()}
    table = Table(title=f"chain {record.chain_id}: " + ("deployed" if result.deployed else "already deployed, no-op"))
    table.add_column("contract")
    table.add_column("address")
    table.add_column("block", justify="right")
    for name, item in record.contracts.items():
        table.add_row(name, item.address, str(item.block))
    emit(data, table)


def accounts() -> None:
    """List the accounts you can sign with (`--as NAME`): dev accounts on the local chain and keystores, with their
    addresses, registry roles and balances."""
    found = list_accounts(chain=state().chain())
    symbols = list(found[0].balances) if found else []
    table = Table(title="accounts (sign with --as NAME)")
    for column in ("name", "address", "roles", *symbols):
        table.add_column(column, no_wrap=column == "address", justify="right" if column in symbols else "left")
    for account in found:
        table.add_row(
            account.name, account.address, ", ".join(account.roles) or "-", *(account.balances[s] for s in symbols)
        )
    emit([a.model_dump(mode="json") for a in found], table)


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_)
    app.command("deploy")(deploy)
    app.command("accounts")(accounts)
