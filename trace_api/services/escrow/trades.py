"""A trade as the escrow holds it: ``getTrade`` decoded by the ABI's own field names, its state by the contract's
enum, and the few helpers every escrow read and write shares (the contract, chain time, receipts and events)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from trace_api.chain.artifacts import load_enums
from trace_api.chain.client import guarded
from trace_api.domain import hx
from trace_api.errors import NotFoundError, ValidationError
from trace_api.services.context import TraceContext
from trace_api.services.devchain import follow_wall_clock
from trace_api.services.escrow.inputs import BPS

__all__ = [
    "STATES",
    "TRADE_STATES",
    "Trade",
    "chain_now",
    "escrow_contract",
    "events",
    "get_trade",
    "named_outputs",
    "read",
    "view_named",
]

STATES = tuple(name.lower() for name in load_enums()["ITradeEscrow.State"])  # none, open, disputed, closed
MILESTONE_NAMES = tuple(name.lower() for name in load_enums()["ITradeEscrow.Milestone"])  # shipped, delivered
# What a trade is to people: a closed trade says how it ended (see trade_state).
TRADE_STATES = ("open", "disputed", "paid", "refunded", "resolved")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True)
class Trade:
    """``ITradeEscrow.Trade`` with its fields in snake case, and the trade's id."""

    id: int
    buyer: str
    deliver_by: int
    shipped_bps: int
    delivered_bps: int
    seller: str
    opened_at: int
    fee_bps: int
    state: int
    dispute_window: int
    arbiter: str
    disputed_at: int
    ruling_period: int
    token: str
    batch_id: bytes
    amount: int
    released: int

    @property
    def shipped_share(self) -> int:
        return self.amount * self.shipped_bps // BPS  # rounds like the contract's _shippedShare

    @property
    def state_name(self) -> str:
        return STATES[self.state]


def trade_state(trade: Trade) -> str:
    """open, disputed, or how a closed trade ended: resolved (it was disputed: the arbiter ruled, or the ruling
    deadline passed), paid (everything went to the seller) or refunded (the remainder went back to the buyer)."""
    name = trade.state_name
    if name != "closed":
        return name
    if trade.disputed_at:
        return "resolved"
    return "paid" if trade.released >= trade.amount else "refunded"


def read(fn: ContractFunction) -> Any:
    return guarded(lambda: fn.call())


def escrow_contract(ctx: TraceContext) -> Contract:
    return ctx.chain.contract("TradeEscrow")


def chain_now(ctx: TraceContext) -> int:
    """The latest block's timestamp: deadlines are judged by chain time, which tests (and anvil) can move. On the
    idle local chain a block is mined first, so chain time follows the clock (a 1-minute deadline passes)."""
    follow_wall_clock(ctx.chain)
    return int(guarded(lambda: ctx.chain.w3.eth.get_block("latest"))["timestamp"])


_FIELDS = frozenset(f.name for f in fields(Trade)) - {"id"}


def get_trade(ctx: TraceContext, escrow: Contract, trade_id: int) -> Trade:
    """The trade, by the names ``getTrade``'s ABI gives its fields (NotFoundError for an unknown id)."""
    if trade_id < 1:
        raise ValidationError("trade ids start at 1")
    raw = view_named(ctx, escrow, "getTrade", trade_id)
    values = {_CAMEL.sub("_", name).lower(): value for name, value in raw.items()}
    if set(values) != _FIELDS:  # the contract's struct changed: say so, never misread it
        raise ValueError(f"getTrade returns {sorted(values)}, expected {sorted(_FIELDS)}")
    if values["state"] == 0:
        raise NotFoundError(f"no trade {trade_id}")
    for role in ("buyer", "seller", "arbiter", "token"):
        values[role] = Web3.to_checksum_address(values[role])
    values["batch_id"] = bytes(values["batch_id"])
    return Trade(id=trade_id, **values)


def view_named(ctx: TraceContext, contract: Contract, name: str, *args: Any) -> dict[str, Any]:
    """A view's outputs by the names its ABI gives them (structs as dicts of their fields, nested alike): one
    struct is its fields, several outputs are keyed by their names."""
    raw = guarded(lambda: ctx.chain.view(contract, name, *args))
    return raw if isinstance(raw, dict) else named_outputs(contract, name, raw)


def named_outputs(contract: Contract, name: str, raw: Any) -> dict[str, Any]:
    """Decoded outputs of ``contract.name`` (a tuple for several, the value for one) keyed by the ABI's names."""
    abi: list[dict[str, Any]] = [dict(f) for f in contract.abi]
    (function,) = [f for f in abi if f.get("type") == "function" and f.get("name") == name]
    outputs: list[dict[str, Any]] = function["outputs"]
    values = raw if len(outputs) > 1 else (raw,)
    return {output["name"]: _named(output, value) for output, value in zip(outputs, values, strict=True)}


def _named(output: dict[str, Any], value: Any) -> Any:
    if output["type"] == "tuple":
        return {c["name"]: _named(c, v) for c, v in zip(output["components"], value, strict=True)}
    return value


def tx(receipt: TxReceipt) -> dict[str, Any]:
    return {"tx_hash": hx(receipt["transactionHash"]), "block": receipt["blockNumber"], "gas_used": receipt["gasUsed"]}


def events(escrow: Contract, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    """The escrow's ``name`` events in ``receipt``, as dicts of their arguments."""
    logs = getattr(escrow.events, name)().process_receipt(receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs if log["address"] == escrow.address]
