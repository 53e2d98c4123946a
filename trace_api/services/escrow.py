"""Escrow settlement: open trades against registered batches, release milestones, dispute, resolve, withdraw.

Every write checks its input first (amount and decimals, balance, schedule, deadlines, parties) and raises
:class:`ValidationError` before anything is signed; the sender's gas estimate then decodes any revert the contract
would raise, so a rejected call never reaches the chain. Amounts cross this module as decimal strings in the
token's own unit ("1250.50" USDC); in results, ``*_units`` fields carry the integer amount as a string, since it
may not fit a JSON number.

Trades are read straight from the contract (``tradeCount`` and ``getTrade``): one call per trade, which suits the
local chain and small deployments. An index of ``TradeOpened`` events is the way to scale listing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from sqlalchemy import select
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception
from web3.logs import DISCARD
from web3.types import TxReceipt

from trace_api.chain.accounts import DEV_ACCOUNTS
from trace_api.chain.client import guarded
from trace_api.chain.sender import TxSender
from trace_api.domain import BatchKey, batch_key, hx, resolve_account
from trace_api.errors import NotFoundError, ValidationError
from trace_api.index import schema as t
from trace_api.services.context import TraceContext
from trace_api.services.devchain import follow_wall_clock
from trace_api.services.trade_terms import (
    MAX_LINES,
    Invoice,
    OrderLine,
    default_schedule,
    describe_terms,
    format_minor,
    parse_incoterm,
    parse_invoice,
    parse_place,
    parse_slippage,
    quote,
)

__all__ = [
    "STATES",
    "TRADE_STATES",
    "TokenInfo",
    "add_evidence",
    "balances",
    "confirm",
    "dispute",
    "evidence_hash",
    "format_amount",
    "list_trades",
    "open_trade",
    "parse_amount",
    "parse_deliver_by",
    "parse_duration",
    "parse_milestones",
    "parse_share",
    "refund",
    "release",
    "resolve",
    "resolve_by_timeout",
    "resolve_token",
    "show_trade",
    "trade_parties",
    "trade_state",
    "withdraw",
]

NATIVE = "0x" + "00" * 20  # the escrow's token address for the native coin
ZERO_ID = b"\0" * 32  # an order of several lines names no batch of its own
NATIVE_NAMES = ("ETH", "NATIVE")
NATIVE_DECIMALS = 18
BPS = 10_000
STATES = ("none", "open", "disputed", "closed")  # ITradeEscrow.State, by value
# What a trade is to people: a closed trade says how it ended (see trade_state).
TRADE_STATES = ("open", "disputed", "paid", "refunded", "resolved")
MILESTONES = ("shipped", "delivered")  # ITradeEscrow.Milestone, by value
DAY = 86_400
# Mirrors of the contract's limits, checked here so that a bad value is a ValidationError and nothing is sent.
MIN_RULING_PERIOD_S = 1 * DAY
MAX_RULING_PERIOD_S = 90 * DAY
MIN_DISPUTE_WINDOW_S = 1 * DAY  # TradeEscrow.MIN_DISPUTE_WINDOW
MAX_DISPUTE_WINDOW_S = 30 * DAY  # TradeEscrow.MAX_DISPUTE_WINDOW
# How long a buyer has to dispute a delivery it did not record itself (a carrier's); its own receipt pays at once.
DEFAULT_DISPUTE_WINDOW = "3d"
MAX_DELIVERY_WINDOW_S = 730 * DAY
MAX_AMOUNT = 2**96 - 1  # TradeEscrow stores amounts in 96 bits
PERMIT_TTL_S = 3600  # the permit only has to outlive the one transaction that carries it
DEFAULT_LIST_LIMIT = 100
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_TRADE_FIELDS = (
    "buyer",
    "deliver_by",
    "shipped_bps",
    "delivered_bps",
    "seller",
    "opened_at",
    "fee_bps",
    "state",
    "dispute_window",
    "arbiter",
    "disputed_at",
    "ruling_period",
    "token",
    "batch_id",
    "amount",
    "released",
)
_PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


# ---- input parsing (pure) ----
def parse_amount(value: str | int | Decimal, decimals: int) -> int:
    """A human amount ("1250.50") as token units, exactly: no rounding, at most ``decimals`` decimals."""
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(f"amount {text!r} is not a number") from exc
    if not number.is_finite() or number <= 0:
        raise ValidationError(f"amount {text!r} must be a positive number")
    # Integer arithmetic on the digits: Decimal arithmetic would round to its 28-digit context.
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    coefficient = list(digits)
    while coefficient and coefficient[-1] == 0:  # "1.50" has the same decimals as "1.5"
        coefficient.pop()
        exponent += 1
    if -exponent > decimals:
        raise ValidationError(f"amount {text} has more than {decimals} decimals, the token's precision")
    if len(coefficient) + exponent + decimals > 29:  # ≥ 10**29 cannot fit in uint96
        raise ValidationError(f"amount {text} is too large")
    units = int("".join(map(str, coefficient))) * 10 ** (exponent + decimals)
    if units > MAX_AMOUNT:
        raise ValidationError(f"amount {text} is too large")
    return int(units)


def format_amount(units: int, decimals: int) -> str:
    """Token units as an exact decimal string without trailing zeros: 1250500000, 6 -> "1250.5"."""
    whole, frac = divmod(int(units), 10**decimals)
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).zfill(decimals).rstrip('0')}"


def parse_duration(value: str) -> int:
    """ "30d", "12h", "2w", "90m", "45s" (or a bare "0") as seconds."""
    if value.strip() == "0":
        return 0
    match = _DURATION.match(value)
    if not match:
        raise ValidationError(f"duration {value!r}: use a number and a unit s, m, h, d or w, e.g. 30d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_deliver_by(value: str, *, now: int) -> int:
    """The delivery deadline as unix time: a duration from ``now`` ("30d"), an ISO datetime (UTC unless it has an
    offset) or an ISO date (the end of that day, UTC). Must lie in (now, now + 730 days], the contract's window."""
    text = value.strip()
    if _DURATION.match(text):
        deadline = now + parse_duration(text)
    else:
        try:
            try:
                day = dt.date.fromisoformat(text)
                moment = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)
            except ValueError:
                moment = dt.datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise ValidationError(
                f"deliver-by {value!r}: use a duration (30d), a date (2026-12-31) or an ISO datetime"
            ) from exc
        deadline = int(moment.timestamp())
    if deadline <= now:
        raise ValidationError(f"deliver-by {value}: {_iso(deadline)} is not in the future (chain time {_iso(now)})")
    if deadline > now + MAX_DELIVERY_WINDOW_S:
        raise ValidationError(f"deliver-by {value}: at most {MAX_DELIVERY_WINDOW_S // DAY} days ahead")
    return deadline


def parse_milestones(value: str | None) -> tuple[int, int]:
    """Milestone shares as (shippedBps, deliveredBps): "shipped:3000,delivered:7000" (bps),
    "shipped=30,delivered=70" (bare shares adding up to 100 are percent), or with units, "shipped:30%" and
    "shipped:2500bps". Empty means 100% on delivery; a milestone left out is 0."""
    if value is None or not value.strip():
        return 0, BPS
    given: dict[str, str] = {}
    for part in value.split(","):
        name, share = (re.split(r"[:=]", part, maxsplit=1) + [""])[:2]
        name, share = name.strip().lower(), share.strip().lower()
        if not share or name not in MILESTONES:
            raise ValidationError(
                f"milestone {part.strip()!r}: use shipped:BPS and delivered:BPS, e.g. "
                "shipped:3000,delivered:7000 or shipped=30%,delivered=70%"
            )
        if name in given:
            raise ValidationError(f"milestone {name} is given twice")
        given[name] = share
    bare_unit = "%" if _bare_percent(given.values()) else "bps"
    shares = {n: parse_share(s if s.endswith(("%", "bps")) else s + bare_unit) for n, s in given.items()}
    shipped, delivered = shares.get("shipped", 0), shares.get("delivered", 0)
    if shipped + delivered != BPS:
        raise ValidationError(f"milestones must add up to 10000 bps (100%); got {shipped + delivered} bps")
    return shipped, delivered


def _bare_percent(shares: Iterable[str]) -> bool:
    """Shares written without a unit are percent when they add up to 100, else basis points."""
    try:
        return sum(Decimal(s) for s in shares) == 100
    except InvalidOperation:  # a unit, or not a number: parse_share says which
        return False


def parse_share(value: str | int) -> int:
    """A share as basis points: an int is bps; text is "70%", "70.5%" or "7000bps". Must lie in [0, 10000]."""
    if isinstance(value, int):
        bps = value
    else:
        text = value.strip().lower().replace(" ", "")
        try:
            if text.endswith("%"):
                scaled = Decimal(text[:-1]) * 100
                if not scaled.is_finite() or scaled != scaled.to_integral_value():
                    raise ValidationError(f"share {value}: at most two decimals of a percent (1 bps)")
                bps = int(scaled)
            elif text.endswith("bps") and text[:-3].isdigit():
                bps = int(text[:-3])
            else:
                raise ValidationError(f"share {value!r}: write a percent (70%) or basis points (7000bps)")
        except InvalidOperation as exc:
            raise ValidationError(f"share {value!r} is not a number") from exc
    if not 0 <= bps <= BPS:
        raise ValidationError(f"share {value}: must be between 0% and 100%")
    return bps


def evidence_hash(
    *, text: str | None = None, path: Path | None = None, digest: str | None = None, max_bytes: int | None = None
) -> bytes:
    """SHA-256 of a statement, of a file, or a SHA-256 computed elsewhere (64 hex digits); exactly one of them."""
    given = [x is not None for x in (text, path, digest)]
    if sum(given) != 1:
        raise ValidationError("give the evidence as exactly one of: text, a file, or its SHA-256")
    if text is not None:
        if not text.strip():
            raise ValidationError("the evidence text is empty")
        return hashlib.sha256(text.encode()).digest()
    if path is not None:
        if not path.is_file():
            raise ValidationError(f"evidence file {path} does not exist")
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise ValidationError(f"evidence file {path} is over {max_bytes} bytes")
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
        return sha.digest()
    assert digest is not None
    hexed = digest.lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{64}", hexed):
        raise ValidationError("an evidence SHA-256 is 64 hex digits")
    return bytes.fromhex(hexed)


def _iso(timestamp: int) -> str | None:
    if not timestamp:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


# ---- chain reads ----
@dataclass(frozen=True)
class TokenInfo:
    address: str
    symbol: str
    decimals: int

    @property
    def native(self) -> bool:
        return self.address == NATIVE

    def to_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "address": self.address, "decimals": self.decimals}


@dataclass(frozen=True)
class _Trade:
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


def trade_state(trade: _Trade) -> str:
    """open, disputed, or how a closed trade ended: resolved (it was disputed: the arbiter ruled, or the ruling
    deadline passed), paid (everything went to the seller) or refunded (the remainder went back to the buyer)."""
    name = STATES[trade.state]
    if name != "closed":
        return name
    if trade.disputed_at:
        return "resolved"
    return "paid" if trade.released >= trade.amount else "refunded"


def _read(fn: ContractFunction) -> Any:
    return guarded(lambda: fn.call())


def _escrow(ctx: TraceContext) -> Contract:
    return ctx.chain.contract("TradeEscrow")


def _erc20(ctx: TraceContext, address: str) -> Contract:
    # MockStablecoin's ABI is a superset of what is called here: ERC-20, EIP-2612 and ERC-5267.
    return ctx.chain.contract("MockStablecoin", address)


def _chain_now(ctx: TraceContext) -> int:
    """The latest block's timestamp: deadlines are judged by chain time, which tests (and anvil) can move. On the
    idle local chain a block is mined first, so chain time follows the clock (a 1-minute deadline passes)."""
    follow_wall_clock(ctx.chain)
    return int(guarded(lambda: ctx.chain.w3.eth.get_block("latest"))["timestamp"])


def resolve_token(ctx: TraceContext, token: str) -> TokenInfo:
    """A token by symbol from the deployment ("USDC"), by address, or "ETH"/"native" for the native coin."""
    text = token.strip()
    if text.upper() in NATIVE_NAMES or text.lower() == NATIVE:
        return TokenInfo(NATIVE, "ETH", NATIVE_DECIMALS)
    known = ctx.chain.deployment().tokens
    by_symbol = {s.upper(): a for s, a in known.items()}
    if text.upper() in by_symbol:
        address = Web3.to_checksum_address(by_symbol[text.upper()])
    elif Web3.is_address(text):
        address = Web3.to_checksum_address(text)
    else:
        choices = ", ".join([*known, "ETH"])
        raise ValidationError(f"unknown token {text!r}: give an address or one of {choices}")
    contract = _erc20(ctx, address)
    try:
        decimals = int(_read(contract.functions.decimals()))
        symbol = str(_read(contract.functions.symbol()))
    except (Web3Exception, ValueError) as exc:
        raise ValidationError(f"{address} does not answer decimals() and symbol() like an ERC-20") from exc
    return TokenInfo(address, symbol, decimals)


def _token_at(ctx: TraceContext, address: str, cache: dict[str, TokenInfo]) -> TokenInfo:
    if address not in cache:
        cache[address] = resolve_token(ctx, address)
    return cache[address]


def _get_trade(escrow: Contract, trade_id: int) -> _Trade:
    if trade_id < 1:
        raise ValidationError("trade ids start at 1")
    raw = _read(escrow.functions.getTrade(trade_id))
    values = dict(zip(_TRADE_FIELDS, raw, strict=True))
    if values["state"] == 0:
        raise NotFoundError(f"no trade {trade_id}")
    values["batch_id"] = bytes(values["batch_id"])
    return _Trade(id=trade_id, **values)


def _batch_label(ctx: TraceContext, batch_id: bytes) -> dict[str, str] | None:
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(t.batch_keys.c.gtin, t.batch_keys.c.lot).where(t.batch_keys.c.batch_id == hx(batch_id))
        ).first()
    return {"gtin": row.gtin, "lot": row.lot} if row else None


def _releasable(escrow: Contract, trade: _Trade) -> int:
    """What `release` would pay now, by simulating it: the contract is the authority on its own rules."""
    if STATES[trade.state] != "open":
        return 0
    try:
        return int(_read(escrow.functions.release(trade.id)))
    except (Web3Exception, ValueError):
        return 0


def _describe(
    ctx: TraceContext,
    escrow: Contract,
    trade: _Trade,
    token: TokenInfo,
    *,
    now: int,
    detail: bool,
    siblings: bool = True,
) -> dict[str, Any]:
    def amount(units: int) -> str:
        return format_amount(units, token.decimals)

    summary: dict[str, Any] = {
        "trade_id": trade.id,
        "state": trade_state(trade),
        "buyer": trade.buyer,
        "seller": trade.seller,
        "arbiter": trade.arbiter,
        "token": token.to_json(),
        "amount": amount(trade.amount),
        "released": amount(trade.released),
        "batch_id": hx(trade.batch_id),
        "deliver_by": _iso(trade.deliver_by),
    }
    if not detail:
        return summary
    facts = _facts(ctx, trade)
    own, delivered_at = facts.own, facts.delivered_at if facts.own else 0
    received_at = delivered_at if own and facts.received else 0
    # Delivered is due at the buyer's own receipt, or when the window after a carrier's delivery closes.
    final_at = (received_at or facts.window_end(trade)) if delivered_at else 0
    closed = STATES[trade.state] == "closed"
    in_escrow = 0 if closed else trade.amount - trade.released
    milestones = []
    for name, bps, cumulative, due_at in (
        ("shipped", trade.shipped_bps, trade.shipped_share, facts.shipped_since(trade) if own else 0),
        ("delivered", trade.delivered_bps, trade.amount, final_at),
    ):
        if bps == 0:
            continue
        share = trade.shipped_share if name == "shipped" else trade.amount - trade.shipped_share
        paid, met = trade.released >= cumulative, bool(due_at) and due_at <= now
        milestones.append(
            {
                "name": name,
                "bps": bps,
                "amount": amount(share),
                "condition_met": met,
                "met_at": _iso(due_at),
                "paid": paid,
                "status": _milestone_status(trade, paid=paid, met=met, due_at=due_at),
            }
        )
    ruling_deadline = trade.disputed_at + trade.ruling_period if trade.disputed_at else 0
    releasable = _releasable(escrow, trade)
    batch = _batch_label(ctx, trade.batch_id)
    terms = describe_terms(_read(escrow.functions.getTerms(trade.id)), trade_id=trade.id, iso=_iso)
    own_line = {
        "trade_id": trade.id,
        "batch_id": hx(trade.batch_id),
        "batch": batch,
        "amount": amount(trade.amount),
        "amount_units": str(trade.amount),
        "released": amount(trade.released),
        "released_units": str(trade.released),
        "state": trade_state(trade),
        "invoice_amount": terms["invoice"]["amount"] if terms["invoice"] else None,
        "milestones": milestones,
        "releasable_now": amount(releasable),
    }
    # The order's lines, each its own trade: this one, and its siblings read the same way.
    ids = terms["order"]["trade_ids"] if terms["order"] and siblings else [trade.id]
    lines = [
        own_line
        if i == trade.id
        else _line_of(_describe(ctx, escrow, _get_trade(escrow, i), token, now=now, detail=True, siblings=False))
        for i in ids
    ]
    return {
        **summary,
        **terms,
        "lines": lines,
        "batch": batch,
        "amount_units": str(trade.amount),
        "released_units": str(trade.released),
        "in_escrow": amount(in_escrow),
        "in_escrow_units": str(in_escrow),
        "refunded_to_buyer": amount(trade.amount - trade.released) if closed else None,
        "fee_bps": trade.fee_bps,
        "opened_at": _iso(trade.opened_at),
        "deliver_by_unix": trade.deliver_by,
        "overdue": now > trade.deliver_by and not delivered_at,
        "shipped_by_seller": own,
        "delivered_at": _iso(delivered_at),
        "received_by_buyer_at": _iso(received_at),
        "dispute_window_s": trade.dispute_window,
        "ruling_period_s": trade.ruling_period,
        "disputed_at": _iso(trade.disputed_at),
        "ruling_deadline": _iso(ruling_deadline),
        "milestones": milestones,
        "batch_recalled": facts.recalled,
        "releasable_now": amount(releasable),
        "releasable_now_units": str(releasable),
        "refundable_now": STATES[trade.state] == "open" and now > trade.deliver_by and not delivered_at,
        "resolvable_by_timeout": STATES[trade.state] == "disputed" and now > ruling_deadline,
        "chain_time": _iso(now),
    }


def _line_of(described: dict[str, Any]) -> dict[str, Any]:
    """A sibling trade's detail as one line of its order."""
    (line,) = described["lines"]
    return dict(line)


def _milestone_status(trade: _Trade, *, paid: bool, met: bool, due_at: int) -> str:
    """paid, reached (release pays it now), due <date>, pending, or for a closed trade how the share ended."""
    if paid:
        return "paid"
    state = trade_state(trade)
    if state == "resolved":
        return "settled by the ruling"
    if state == "refunded":
        return "refunded to the buyer"
    if met:
        return "reached"
    return f"due {_iso(due_at)}" if due_at else "pending"


@dataclass(frozen=True)
class _Facts:
    """The latest shipment of a trade's batch to its buyer (``ITraceRegistry.Shipment``), judged for the trade the
    way ``TradeEscrow`` judges it: ``own`` mirrors its ``_isOwn``, ``window_end`` its ``_windowEnd``."""

    shipper: str
    delivered_at: int
    handed_on_at: int
    received: bool
    in_transit: bool
    recalled: bool
    own: bool
    shipped_at: int  # of the batch's current shipment if it is this one, else 0

    def window_end(self, trade: _Trade) -> int:
        return max(self.delivered_at, trade.opened_at) + trade.dispute_window

    def shipped_since(self, trade: _Trade) -> int:
        """When the Shipped condition started to hold for the trade: the shipment's start, or the opening for a
        shipment already under way then (or one the buyer has handed on, whose start the registry no longer
        keeps)."""
        return max(self.shipped_at, trade.opened_at)


def _facts(ctx: TraceContext, trade: _Trade) -> _Facts:
    """One registry call: the same facts, read the same way, as the escrow's release, refund and default ruling."""
    shipment, recalled = _read(ctx.registry.functions.latestShipment(trade.batch_id, trade.buyer))
    shipper, delivered_at, handed_on_at, received, in_transit = shipment
    own = (
        shipper.lower() == trade.seller.lower()
        and not (received and delivered_at < trade.opened_at)
        and (handed_on_at == 0 or handed_on_at >= trade.opened_at)
    )
    current = own and handed_on_at == 0
    shipped_at = int(_read(ctx.registry.functions.shippedAt(trade.batch_id))) if current else 0
    return _Facts(
        shipper=shipper,
        delivered_at=int(delivered_at),
        handed_on_at=int(handed_on_at),
        received=bool(received),
        in_transit=bool(in_transit),
        recalled=bool(recalled),
        own=own,
        shipped_at=shipped_at,
    )


def show_trade(ctx: TraceContext, *, trade_id: int) -> dict[str, Any]:
    """A trade with human amounts, its state, its milestones and what `release` would pay now."""
    escrow = _escrow(ctx)
    trade = _get_trade(escrow, trade_id)
    token = _token_at(ctx, trade.token, {})
    return _describe(ctx, escrow, trade, token, now=_chain_now(ctx), detail=True)


def trade_parties(ctx: TraceContext, *, trade_id: int) -> dict[str, str]:
    """The buyer, seller and arbiter of a trade, by role (NotFoundError for an unknown trade)."""
    trade = _get_trade(_escrow(ctx), trade_id)
    return {"buyer": trade.buyer, "seller": trade.seller, "arbiter": trade.arbiter}


def list_trades(
    ctx: TraceContext, *, account: str | None = None, state: str | None = None, limit: int = DEFAULT_LIST_LIMIT
) -> list[dict[str, Any]]:
    """Trades, newest first; ``account`` matches buyer, seller or arbiter. Scans ``getTrade`` from the newest id
    down, one call per trade, until ``limit`` match: fine for the local chain, not for a busy mainnet escrow."""
    wanted = {"closed": TRADE_STATES[2:]}.get((state or "").lower(), ((state or "").lower(),))
    if state is not None and not set(wanted) <= set(TRADE_STATES):
        raise ValidationError(f"unknown state {state!r}; choose one of {', '.join(TRADE_STATES)} or closed")
    if limit < 1:
        raise ValidationError("limit must be at least 1")
    who = resolve_account(account, dev_names=ctx.dev_chain).lower() if account else None
    escrow = _escrow(ctx)
    count = int(_read(escrow.functions.tradeCount()))
    now = _chain_now(ctx)
    tokens: dict[str, TokenInfo] = {}
    found: list[dict[str, Any]] = []
    for trade_id in range(count, 0, -1):
        trade = _get_trade(escrow, trade_id)
        if who and who not in (trade.buyer.lower(), trade.seller.lower(), trade.arbiter.lower()):
            continue
        if state and trade_state(trade) not in wanted:
            continue
        found.append(_describe(ctx, escrow, trade, _token_at(ctx, trade.token, tokens), now=now, detail=False))
        if len(found) >= limit:
            break
    return found


def balances(ctx: TraceContext, *, account: str) -> list[dict[str, Any]]:
    """What ``account`` can withdraw, per token: the native coin and the deployment's tokens."""
    who = resolve_account(account, dev_names=ctx.dev_chain)
    escrow = _escrow(ctx)
    result = []
    for address in [NATIVE, *ctx.chain.deployment().tokens.values()]:
        token = resolve_token(ctx, address)
        units = int(_read(escrow.functions.withdrawable(who, token.address)))
        result.append(
            {"token": token.to_json(), "amount": format_amount(units, token.decimals), "amount_units": str(units)}
        )
    return result


# ---- writes ----
def _tx(receipt: TxReceipt) -> dict[str, Any]:
    return {"tx_hash": hx(receipt["transactionHash"]), "block": receipt["blockNumber"], "gas_used": receipt["gasUsed"]}


def _events(escrow: Contract, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    logs = getattr(escrow.events, name)().process_receipt(receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs if log["address"] == escrow.address]


def _domain_separator(domain: dict[str, Any]) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _DOMAIN_TYPEHASH,
                keccak(text=domain["name"]),
                keccak(text=domain["version"]),
                domain["chainId"],
                domain["verifyingContract"],
            ],
        )
    )


def _permit_domain(ctx: TraceContext, token: Contract) -> dict[str, Any] | None:
    """The token's EIP-712 domain if it supports EIP-2612 in a form we can sign; None otherwise.

    The domain comes from ERC-5267 ``eip712Domain()``, else from ``name()`` with version "1"; it is used only if
    it reproduces the token's own ``DOMAIN_SEPARATOR()``, so a token with another domain falls back to approve.
    """
    try:
        separator = bytes(_read(token.functions.DOMAIN_SEPARATOR()))
        _read(token.functions.nonces(NATIVE))
    except (Web3Exception, ValueError):
        return None
    try:
        _, name, version, chain_id, verifying, _, _ = _read(token.functions.eip712Domain())
    except (Web3Exception, ValueError):
        name, version, chain_id, verifying = _read(token.functions.name()), "1", ctx.chain.chain_id, token.address
    domain = {"name": name, "version": version, "chainId": int(chain_id), "verifyingContract": verifying}
    return domain if _domain_separator(domain) == separator else None


def _sign_permit(
    account: LocalAccount, token: Contract, domain: dict[str, Any], *, spender: str, value: int, deadline: int
) -> tuple[int, bytes, bytes]:
    nonce = int(_read(token.functions.nonces(account.address)))
    message = {"owner": account.address, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline}
    signed = account.sign_typed_data(domain_data=domain, message_types=_PERMIT_TYPES, message_data=message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def _party(ctx: TraceContext, value: str, role: str) -> str:
    """A trade party's address. Dev account names stand for keys anyone can read, so off the local chain they
    are refused: money escrowed for such an address could be taken by anyone."""
    if value in DEV_ACCOUNTS and not ctx.dev_chain:
        raise ValidationError(
            f"{role} {value!r}: dev account names are accepted on the local chain only; give an address"
        )
    return resolve_account(value, dev_names=ctx.dev_chain)


def open_trade(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    seller: str,
    arbiter: str,
    token: str,
    amount: str | None,
    gtin: str | None = None,
    lot: str | None = None,
    deliver_by: str,
    ruling_period: str = "7d",
    milestones: str | None = None,
    lines: list[OrderLine] | None = None,
    dispute_window: str = DEFAULT_DISPUTE_WINDOW,
    use_permit: bool = True,
    incoterm: str | None = None,
    place: str | None = None,
    port: bool = False,
    invoice_amount: str | None = None,
    invoice_currency: str | None = None,
    max_slippage: str | int | None = None,
) -> dict[str, Any]:
    """Open and fund a trade as ``account`` (the buyer).

    The price is either ``amount`` in the token, or an invoice (``invoice_amount`` in ``invoice_currency``) that
    the escrow converts at its price feed's latest round, refusing a round that moved more than ``max_slippage``
    from the quote read here. ``incoterm`` and ``place`` (a UN/LOCODE; ``port`` confirms a sea rule's port) are
    recorded on chain; the rule sets the schedule unless ``milestones`` are given.

    One batch is ``gtin`` and ``lot``; an order of several is ``lines``, each a batch and its share of the price
    (in the token, or in the invoice's currency), adding up to ``amount`` or the invoice when those are given. Each
    line becomes its own trade (consecutive ids in ``trade_ids``), paid, refunded or disputed on its own.

    ERC-20s with EIP-2612 are approved by a permit signed here and carried in the one ``openWithPermit``
    transaction; other ERC-20s get an ``approve`` first when the allowance is short; the native coin is sent as
    the value. ``funding`` in the result says which path was taken, ``tx_hashes`` lists what was sent.
    """
    # Every check that needs no transaction comes first: a rejected open sends nothing.
    if lines and (gtin is not None or lot is not None):
        raise ValidationError("give either one batch (GTIN and lot) or order lines, not both")
    if not lines and (gtin is None or lot is None):
        raise ValidationError("name the batch (GTIN and lot), or give order lines")
    if lines is not None and len(lines) == 1:  # one batch: its line's amount, if any, is the price
        (only,) = lines
        if only.amount and (amount is not None or invoice_amount is not None):
            raise ValidationError(
                "one batch takes its price from the amount or the invoice; give the lot without "
                "=AMOUNT, or add more lines"
            )
        gtin, lot, amount, lines = (
            only.gtin,
            only.lot,
            amount if amount is not None or invoice_amount else (only.amount or None),
            None,
        )
    keys = [batch_key(line.gtin, line.lot) for line in lines] if lines else [batch_key(gtin or "", lot or "")]
    if len({k.id for k in keys}) != len(keys):
        raise ValidationError("a batch appears on two order lines; give each batch once")
    if len(keys) > MAX_LINES:
        raise ValidationError(f"an order has at most {MAX_LINES} lines, not {len(keys)}")
    buyer = account.address
    seller_address, arbiter_address = _party(ctx, seller, "seller"), _party(ctx, arbiter, "arbiter")
    if int(seller_address, 16) == 0 or seller_address == buyer:
        raise ValidationError("the seller must be an account other than the buyer")
    if int(arbiter_address, 16) == 0 or arbiter_address in (buyer, seller_address):
        raise ValidationError("the arbiter must be an account other than the buyer and the seller")
    rule = parse_incoterm(incoterm)
    place_code = parse_place(place, incoterm=rule, port=port)
    # Without explicit milestones a rule's default applies on chain: (0, 0) asks the contract for it.
    explicit = milestones is not None and bool(milestones.strip())
    shipped_bps, delivered_bps = parse_milestones(milestones) if explicit or not rule else default_schedule(rule)
    sent_schedule = (shipped_bps, delivered_bps) if explicit or not rule else (0, 0)
    if amount is not None and invoice_amount is not None:
        raise ValidationError(
            "give the price either in the token (amount) or as an invoice (amount and currency), not both"
        )
    if amount is None and invoice_amount is None and not lines:
        raise ValidationError("give the price: an amount in the token, or an invoice (amount and currency)")
    invoice = parse_invoice(invoice_amount, invoice_currency or "") if invoice_amount is not None else None
    slippage = parse_slippage(max_slippage)
    ruling = parse_duration(ruling_period)
    if not MIN_RULING_PERIOD_S <= ruling <= MAX_RULING_PERIOD_S:
        raise ValidationError(f"ruling period {ruling_period}: must be between 1 and 90 days")
    window = parse_duration(dispute_window)
    if not MIN_DISPUTE_WINDOW_S <= window <= MAX_DISPUTE_WINDOW_S:
        raise ValidationError(
            f"dispute window {dispute_window}: must be between 1 and 30 days (the buyer's time to "
            f"dispute a carrier's delivery before it pays)"
        )
    info = resolve_token(ctx, token)
    now = _chain_now(ctx)
    deadline = parse_deliver_by(deliver_by, now=now)
    registry, escrow = ctx.registry, _escrow(ctx)
    if not _read(escrow.functions.isTokenAllowed(info.address)):
        raise ValidationError(f"{info.symbol} ({info.address}) is not allowed by the escrow")
    sender = ctx.sender(account)
    quoted = _quote(escrow, invoice, info, sender)
    # With an invoice the escrow computes the amount; the buyer funds up to the quote plus its slippage.
    units = parse_amount(amount, info.decimals) if invoice is None and amount is not None else 0
    shares = _line_shares(lines, invoice, info, units) if lines else []
    units = units or sum(shares) if invoice is None else quoted["amount_units"]
    funds = units if invoice is None else units * (BPS + slippage) // BPS + 1
    for key in keys:
        if not _read(registry.functions.exists(key.id)):
            raise NotFoundError(f"batch {key.gtin}/{key.lot} is not registered")
        if _read(registry.functions.isRecalled(key.id)):
            raise ValidationError(f"batch {key.gtin}/{key.lot} is recalled; it cannot be traded")
    invoice_terms = (
        (invoice.amount, invoice.code, quoted["rate"], slippage) if invoice is not None else (0, b"\0" * 3, 0, 0)
    )
    order = [(key.id, share) for key, share in zip(keys, shares, strict=True)] if lines else []
    params = (
        seller_address,
        arbiter_address,
        info.address,
        ZERO_ID if lines else keys[0].id,
        0 if invoice else units,
        deadline,
        ruling,
        *sent_schedule,
        window,
        rule,
        place_code,
        invoice_terms,
        order,
    )
    warnings = [w for key in keys for w in _open_warnings(registry, key, buyer)]

    shown = f"{format_amount(funds, info.decimals)} {info.symbol}"
    sent: list[dict[str, Any]] = []
    if info.native:
        balance = int(guarded(lambda: ctx.chain.w3.eth.get_balance(buyer)))
        if balance < units:
            raise ValidationError(f"the buyer holds {format_amount(balance, NATIVE_DECIMALS)} ETH, needs {shown}")
        funding, value, fn = "native", units, escrow.functions.open(params)
    else:
        erc20 = _erc20(ctx, info.address)
        balance = int(_read(erc20.functions.balanceOf(buyer)))
        if balance < funds:
            raise ValidationError(
                f"the buyer holds {format_amount(balance, info.decimals)} {info.symbol}, needs {shown}"
            )
        allowance = int(_read(erc20.functions.allowance(buyer, escrow.address)))
        domain = _permit_domain(ctx, erc20) if use_permit and allowance < funds else None
        value = 0
        if allowance >= funds:
            funding, fn = "allowance", escrow.functions.open(params)
        elif domain is not None:
            v, r, s = _sign_permit(
                account, erc20, domain, spender=escrow.address, value=funds, deadline=now + PERMIT_TTL_S
            )
            funding, fn = "permit", escrow.functions.openWithPermit(params, funds, now + PERMIT_TTL_S, v, r, s)
        else:
            funding = "approve"
            sent.append(_tx(sender.transact(erc20.functions.approve(escrow.address, funds))))
            fn = escrow.functions.open(params)
    receipt = sender.transact(fn, value=value)
    sent.append(_tx(receipt))
    opened = _events(escrow, receipt, "TradeOpened")
    units = sum(int(o["amount"]) for o in opened)  # with an invoice, what the escrow converted at its round
    first = int(opened[0]["tradeId"])
    terms = describe_terms(_read(escrow.functions.getTerms(first)), trade_id=first, iso=_iso)
    key = keys[0]
    return {
        "trade_id": first,
        "trade_ids": [int(o["tradeId"]) for o in opened],
        **_tx(receipt),
        "funding": funding,
        "tx_hashes": [s["tx_hash"] for s in sent],
        "buyer": buyer,
        "seller": seller_address,
        "arbiter": arbiter_address,
        "token": info.to_json(),
        "amount": format_amount(units, info.decimals),
        "amount_units": str(units),
        "batch_id": key.id_hex,
        "gtin": key.gtin,
        "lot": key.lot,
        "lines": [
            {
                "trade_id": int(o["tradeId"]),
                "batch_id": k.id_hex,
                "gtin": k.gtin,
                "lot": k.lot,
                "amount": format_amount(int(o["amount"]), info.decimals),
                "amount_units": str(int(o["amount"])),
            }
            for o, k in zip(opened, keys, strict=True)
        ],
        "deliver_by": _iso(deadline),
        "ruling_period_s": ruling,
        "dispute_window_s": window,
        "milestones": {"shipped_bps": shipped_bps, "delivered_bps": delivered_bps},
        "fee_bps": int(opened[0]["feeBps"]),
        "warnings": warnings,
        **terms,
    }


def _line_shares(lines: list[OrderLine], invoice: Invoice | None, info: TokenInfo, total: int) -> list[int]:
    """Each line's share as the contract takes it: minor units of the invoice's currency, or token units; they must
    add up to the invoice, or to the amount when one was given."""
    if invoice is not None:
        shares = [parse_invoice(line.amount, invoice.currency).amount for line in lines]
        expected, shown = invoice.amount, invoice.shown()
        if sum(shares) != expected:
            got = format_minor(sum(shares), invoice.decimals)
            raise ValidationError(f"the lines add up to {got} {invoice.currency}, not to the invoice's {shown}")
        return shares
    shares = [parse_amount(line.amount, info.decimals) for line in lines]
    if total and sum(shares) != total:
        raise ValidationError(
            f"the lines add up to {format_amount(sum(shares), info.decimals)} {info.symbol}, "
            f"not to the amount {format_amount(total, info.decimals)} {info.symbol}"
        )
    return shares


def _quote(escrow: Contract, invoice: Invoice | None, info: TokenInfo, sender: TxSender) -> dict[str, Any]:
    """The feed's quote for an invoice, read before anything is signed; an empty quote without one."""
    if invoice is None:
        return {}
    if info.native:
        raise ValidationError(
            f"an invoice in {invoice.currency} is settled in a stablecoin: give --token (e.g. "
            f"USDC), not the native coin"
        )
    return quote(escrow, invoice, token_address=info.address, token_symbol=info.symbol, call=sender.call)


def _open_warnings(registry: Contract, key: BatchKey, buyer: str) -> list[str]:
    """What the buyer should know before funding: goods it already holds, or that were delivered to it before,
    never pay this trade (the escrow pays only for a shipment from the seller that the buyer had not completed
    when the trade opened), so such a trade ends by `trace escrow confirm` or a refund."""
    label = f"batch {key.gtin}/{key.lot}"
    if str(_read(registry.functions.custodian(key.id))).lower() == buyer.lower():
        return [
            f"{label} is already in the buyer's custody: only a new shipment from the seller to the buyer can "
            f"pay this trade; for goods already received, pay with `trace escrow confirm`"
        ]
    shipment, _ = _read(registry.functions.latestShipment(key.id, buyer))
    if shipment[1]:  # delivered to the buyer, which no longer holds it
        return [
            f"{label} was already delivered to the buyer ({_iso(int(shipment[1]))}) and has left it since: "
            f"that delivery does not pay this trade, only a new shipment from the seller does"
        ]
    return []


def _prepare(ctx: TraceContext, trade_id: int) -> tuple[Contract, _Trade, TokenInfo]:
    follow_wall_clock(ctx.chain)  # the preflight call judges deadlines by the latest block's time
    escrow = _escrow(ctx)
    trade = _get_trade(escrow, trade_id)
    return escrow, trade, _token_at(ctx, trade.token, {})


def release(ctx: TraceContext, *, account: LocalAccount, trade_id: int) -> dict[str, Any]:
    """Pay every milestone the registry shows as reached. When nothing is due, nothing is sent."""
    escrow, trade, token = _prepare(ctx, trade_id)
    sender = ctx.sender(account)
    fn = escrow.functions.release(trade_id)
    closed = STATES[trade.state] == "closed"  # says how it ended, as `show` does, instead of the contract's refusal
    due = 0 if closed else int(sender.call(fn))  # decodes a revert (a disputed trade) before anything is sent
    result: dict[str, Any] = {"trade_id": trade_id, "token": token.to_json()}
    if due == 0:
        return {
            **result,
            "released": "0",
            "released_units": "0",
            "milestones": [],
            "tx_hash": None,
            **_nothing_due(ctx, escrow, trade, token),
        }
    receipt = sender.transact(fn)
    paid = _events(escrow, receipt, "MilestoneReleased")
    total = sum(int(p["amount"]) for p in paid)
    return {
        **result,
        **_tx(receipt),
        "released": format_amount(total, token.decimals),
        "released_units": str(total),
        "milestones": [
            {
                "name": MILESTONES[int(p["milestone"])],
                "amount": format_amount(p["amount"], token.decimals),
                "fee": format_amount(p["fee"], token.decimals),
            }
            for p in paid
        ],
        "state": trade_state(_get_trade(escrow, trade_id)),
    }


def _nothing_due(ctx: TraceContext, escrow: Contract, trade: _Trade, token: TokenInfo) -> dict[str, Any]:
    """Why release pays nothing now, in the words `trace escrow show` uses: closed, due later, or not reached."""
    state = trade_state(trade)
    if state not in ("open", "disputed"):
        return {"state": state, "due_at": None, "note": f"nothing due: the trade is {state}, nothing is left in escrow"}
    shown = _describe(ctx, escrow, trade, token, now=_chain_now(ctx), detail=True)
    later = [m for m in shown["milestones"] if not m["paid"] and m["met_at"] and not m["condition_met"]]
    if later:
        first = later[0]
        return {
            "state": state,
            "due_at": first["met_at"],
            "note": f"nothing due yet: the {first['name']} milestone ({first['amount']} {token.symbol}) is due "
            f"{first['met_at']}, when the buyer's dispute window after the carrier's delivery closes",
        }
    return {
        "state": state,
        "due_at": None,
        "note": "nothing due: the registry shows no new shipment by the seller or delivery to the buyer",
    }


def confirm(ctx: TraceContext, *, account: LocalAccount, trade_id: int) -> dict[str, Any]:
    """The buyer releases everything still in escrow to the seller."""
    escrow, trade, token = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.confirmReceipt(trade_id))
    (event,) = _events(escrow, receipt, "ReceiptConfirmed")
    return {
        "trade_id": trade_id,
        **_tx(receipt),
        "token": token.to_json(),
        "state": "paid",
        "released": format_amount(event["amount"], token.decimals),
        "fee": format_amount(event["fee"], token.decimals),
    }


def refund(ctx: TraceContext, *, account: LocalAccount, trade_id: int) -> dict[str, Any]:
    """Return the remainder of an undelivered trade to the buyer, once its delivery deadline has passed."""
    escrow, trade, token = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.refund(trade_id))
    (event,) = _events(escrow, receipt, "TradeRefunded")
    # A Shipped milestone the seller earned but nobody released is paid to the seller first.
    to_seller = sum(int(e["amount"]) for e in _events(escrow, receipt, "MilestoneReleased"))
    return {
        "trade_id": trade_id,
        **_tx(receipt),
        "token": token.to_json(),
        "state": "refunded",
        "buyer": event["buyer"],
        "refunded": format_amount(event["amount"], token.decimals),
        "released_to_seller": format_amount(to_seller, token.decimals),
    }


def dispute(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    text: str | None = None,
    path: Path | None = None,
    digest: str | None = None,
) -> dict[str, Any]:
    """Freeze the remainder and ask the arbiter to rule; the evidence goes on chain as its SHA-256 only."""
    evidence = evidence_hash(text=text, path=path, digest=digest, max_bytes=ctx.settings.max_document_bytes)
    escrow, _, _ = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.dispute(trade_id, evidence))
    (event,) = _events(escrow, receipt, "DisputeOpened")
    return {
        "trade_id": trade_id,
        **_tx(receipt),
        "state": "disputed",
        "by": event["by"],
        "evidence_sha256": hx(evidence),
        "ruling_deadline": _iso(int(event["rulingDeadline"])),
    }


def add_evidence(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    text: str | None = None,
    path: Path | None = None,
    digest: str | None = None,
) -> dict[str, Any]:
    """Reference more evidence (its SHA-256) for the arbiter."""
    evidence = evidence_hash(text=text, path=path, digest=digest, max_bytes=ctx.settings.max_document_bytes)
    escrow, _, _ = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.addEvidence(trade_id, evidence))
    return {"trade_id": trade_id, **_tx(receipt), "evidence_sha256": hx(evidence)}


def _resolution(escrow: Contract, receipt: TxReceipt, trade_id: int, token: TokenInfo) -> dict[str, Any]:
    (event,) = _events(escrow, receipt, "DisputeResolved")
    return {
        "trade_id": trade_id,
        **_tx(receipt),
        "token": token.to_json(),
        "state": "resolved",
        "to_seller": format_amount(event["toSeller"], token.decimals),
        "to_buyer": format_amount(event["toBuyer"], token.decimals),
        "fee": format_amount(event["fee"], token.decimals),
        "by_timeout": bool(event["byTimeout"]),
    }


def resolve(ctx: TraceContext, *, account: LocalAccount, trade_id: int, seller_share: str | int) -> dict[str, Any]:
    """The arbiter's ruling: ``seller_share`` of the frozen remainder to the seller ("70%", "7000bps" or an int
    in bps), the rest back to the buyer."""
    bps = parse_share(seller_share)
    escrow, _, token = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.resolve(trade_id, bps))
    return {**_resolution(escrow, receipt, trade_id, token), "seller_bps": bps}


def resolve_by_timeout(ctx: TraceContext, *, account: LocalAccount, trade_id: int) -> dict[str, Any]:
    """Settle a dispute the arbiter did not rule on in time, by the registry's facts."""
    escrow, _, token = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.resolveByTimeout(trade_id))
    return _resolution(escrow, receipt, trade_id, token)


def withdraw(ctx: TraceContext, *, account: LocalAccount, token: str | None = None) -> dict[str, Any]:
    """Pull ``account``'s credited balance of ``token``; with no token, of every token it has a balance in."""
    escrow = _escrow(ctx)
    if token is not None:
        wanted = [resolve_token(ctx, token)]
    else:
        wanted = [resolve_token(ctx, a) for a in [NATIVE, *ctx.chain.deployment().tokens.values()]]
        wanted = [w for w in wanted if _read(escrow.functions.withdrawable(account.address, w.address))]
        if not wanted:
            raise ValidationError(f"{account.address} has nothing to withdraw")
    sender = ctx.sender(account)
    paid = []
    for info in wanted:
        receipt = sender.transact(escrow.functions.withdraw(info.address))
        (event,) = _events(escrow, receipt, "Withdrawn")
        paid.append(
            {
                "token": info.to_json(),
                "amount": format_amount(event["amount"], info.decimals),
                "amount_units": str(event["amount"]),
                **_tx(receipt),
            }
        )
    return {"account": account.address, "withdrawals": paid}
