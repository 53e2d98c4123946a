"""`trace node start|stop|status`: the embedded local chain."""

import dataclasses

import typer
from rich.table import Table

from cli.context import emit, state
from trace_api.chain import node
from trace_api.chain.rpc import JsonRpc
from trace_api.errors import ChainUnavailableError
from trace_api.services import devchain
from trace_api.services.escrow import parse_duration

node_app = typer.Typer(help="Manage the embedded local chain (anvil).", no_args_is_help=True)


@node_app.command("start")
def start() -> None:
    """Start anvil on 127.0.0.1 with chain id 31337; state persists under TRACE_HOME."""
    info = node.start(state().settings)
    emit(dataclasses.asdict(info), f"node started: pid {info.pid}, {info.rpc_url}, state {info.state_file}")


@node_app.command("stop")
def stop() -> None:
    """Stop the node; its state is dumped to TRACE_HOME first."""
    info = node.stop(state().settings)
    if info is None:
        emit({"stopped": False}, "node is not running")
    else:
        emit({"stopped": True, "pid": info.pid}, f"node stopped (pid {info.pid})")


@node_app.command("status")
def status() -> None:
    """Show pid, block number, chain id and state file; exit 4 when not running."""
    info = node.running_node(state().settings)
    if info is None:
        raise ChainUnavailableError("node is not running; `trace node start`")
    node.keep_good_state(state().settings)
    rpc = JsonRpc(info.rpc_url)
    data = {
        **dataclasses.asdict(info),
        "chain_id": int(rpc.call("eth_chainId"), 16),
        "block": int(rpc.call("eth_blockNumber"), 16),
    }
    table = Table(show_header=False, box=None)
    for key in ("pid", "rpc_url", "chain_id", "block", "state_file", "log_file"):
        table.add_row(key, str(data[key]))
    emit(data, table)


@node_app.command("mine")
def mine(blocks: int = typer.Option(1, "--blocks", "-n", help="How many blocks to mine.")) -> None:
    """Mine empty blocks on the local chain (refused on any other chain)."""
    now = devchain.mine(chain=state().chain(), blocks=blocks)
    emit(
        now.model_dump(mode="json"),
        f"mined {blocks} block(s): block {now.block}, chain time {now.time}",
    )


@node_app.command("warp")
def warp(duration: str = typer.Argument(..., help="How far ahead: 90s, 30m, 12h, 30d, 2w.")) -> None:
    """Move the local chain's time ahead and mine a block there, e.g. past an escrow deadline (local chain only)."""
    now = devchain.warp(chain=state().chain(), seconds=parse_duration(duration))
    emit(now.model_dump(mode="json"), f"chain time is now {now.time} (block {now.block})")


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")
