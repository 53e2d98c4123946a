"""The escrow's logs for one trade, read from the chain with ``eth_getLogs``: what the trade's files and statement
are built from. Each log comes with its block, time, transaction and position, oldest first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from web3.contract import Contract

from trace_api.chain.client import guarded
from trace_api.domain import hx
from trace_api.services.context import TraceContext

__all__ = ["Log", "escrow_contract", "fee_updates", "trade_logs", "withdrawals"]


@dataclass(frozen=True)
class Log:
    name: str
    args: dict[str, Any]
    block: int
    log_index: int
    tx_hash: str
    time: int  # the block's timestamp

    @property
    def position(self) -> tuple[int, int]:
        return self.block, self.log_index


def escrow_contract(ctx: TraceContext) -> Contract:
    return ctx.chain.contract("TradeEscrow")


def _first_block(ctx: TraceContext) -> int:
    return int(ctx.chain.deployment().contracts["TradeEscrow"].block)


def _read(ctx: TraceContext, names: Iterable[str], filters: dict[str, Any], from_block: int) -> list[Log]:
    escrow = escrow_contract(ctx)
    times: dict[int, int] = {}
    found: list[Log] = []
    for name in names:
        event = getattr(escrow.events, name)
        raw = guarded(lambda event=event: event().get_logs(from_block=from_block, argument_filters=filters))
        for log in raw:
            block = int(log["blockNumber"])
            if block not in times:
                times[block] = int(guarded(lambda b=block: ctx.chain.w3.eth.get_block(b))["timestamp"])
            found.append(
                Log(name, dict(log["args"]), block, int(log["logIndex"]), hx(log["transactionHash"]), times[block])
            )
    return sorted(found, key=lambda log: log.position)


def trade_logs(ctx: TraceContext, *, trade_id: int, names: Iterable[str]) -> list[Log]:
    """The escrow's ``names`` events of one trade (every one of them indexes ``tradeId``)."""
    return _read(ctx, names, {"tradeId": trade_id}, _first_block(ctx))


def withdrawals(ctx: TraceContext, *, accounts: Iterable[str], token: str, from_block: int) -> list[Log]:
    """``Withdrawn`` logs of ``accounts`` for ``token`` since ``from_block``. The escrow pools an account's credits
    per token, so a withdrawal may also carry credits from other trades."""
    found = [
        log
        for account in dict.fromkeys(accounts)
        for log in _read(ctx, ["Withdrawn"], {"account": account, "token": token}, from_block)
    ]
    return sorted(found, key=lambda log: log.position)


def fee_updates(ctx: TraceContext) -> list[Log]:
    """Every ``FeeUpdated`` log (the constructor's first): who was credited with fees from which block on."""
    return _read(ctx, ["FeeUpdated"], {}, _first_block(ctx))
