"""The escrow's read model: a trade with human amounts, its milestones judged the way the contract judges them,
what `release` would pay now; trade lists; withdrawable balances.

Trades are read straight from the contract (``tradeCount`` and ``getTrade``): one call per trade, which suits the
local chain and small deployments. An index of ``TradeOpened`` events is the way to scale listing.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3.contract import Contract
from web3.exceptions import Web3Exception

from trace_api.domain import hx, resolve_account
from trace_api.errors import ValidationError
from trace_api.index.trade_queries import batch_label
from trace_api.services.context import TraceContext
from trace_api.services.escrow.inputs import format_amount, iso
from trace_api.services.escrow.results import (
    Balance,
    BatchLabel,
    MilestoneView,
    Parties,
    TradeDetail,
    TradeLine,
    TradeSummary,
)
from trace_api.services.escrow.terms import describe_terms
from trace_api.services.escrow.tokens import NATIVE, TokenInfo, resolve_token, token_at
from trace_api.services.escrow.trades import (
    TRADE_STATES,
    Trade,
    chain_now,
    escrow_contract,
    get_trade,
    read,
    trade_state,
    view_named,
)

__all__ = ["DEFAULT_LIST_LIMIT", "balances", "list_trades", "nothing_due", "show_trade", "trade_parties"]

DEFAULT_LIST_LIMIT = 100


def _releasable(escrow: Contract, trade: Trade) -> int:
    """What `release` would pay now, by simulating it: the contract is the authority on its own rules."""
    if trade.state_name != "open":
        return 0
    try:
        return int(read(escrow.functions.release(trade.id)))
    except (Web3Exception, ValueError):
        return 0


def _label(ctx: TraceContext, batch_id: bytes) -> BatchLabel | None:
    found = batch_label(ctx.engine, hx(batch_id))
    return BatchLabel(gtin=found[0], lot=found[1]) if found else None


def _summary(trade: Trade, token: TokenInfo) -> TradeSummary:
    return TradeSummary(
        trade_id=trade.id,
        state=trade_state(trade),
        buyer=trade.buyer,
        seller=trade.seller,
        arbiter=trade.arbiter,
        token=token,
        amount=format_amount(trade.amount, token.decimals),
        released=format_amount(trade.released, token.decimals),
        batch_id=hx(trade.batch_id),
        deliver_by=iso(trade.deliver_by),
    )


def _describe(
    ctx: TraceContext, escrow: Contract, trade: Trade, token: TokenInfo, *, now: int, siblings: bool = True
) -> TradeDetail:
    def amount(units: int) -> str:
        return format_amount(units, token.decimals)

    facts = _facts(ctx, trade)
    own, delivered_at = facts.own, facts.delivered_at if facts.own else 0
    received_at = delivered_at if own and facts.received else 0
    # Delivered is due at the buyer's own receipt, or when the window after a carrier's delivery closes.
    final_at = (received_at or facts.window_end(trade)) if delivered_at else 0
    closed = trade.state_name == "closed"
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
            MilestoneView(
                name=name,
                bps=bps,
                amount=amount(share),
                condition_met=met,
                met_at=iso(due_at),
                paid=paid,
                status=_milestone_status(trade, paid=paid, met=met, due_at=due_at),
            )
        )
    ruling_deadline = trade.disputed_at + trade.ruling_period if trade.disputed_at else 0
    releasable = _releasable(escrow, trade)
    batch = _label(ctx, trade.batch_id)
    terms = describe_terms(view_named(ctx, escrow, "getTerms", trade.id), trade_id=trade.id)
    own_line = TradeLine(
        trade_id=trade.id,
        batch_id=hx(trade.batch_id),
        batch=batch,
        amount=amount(trade.amount),
        amount_units=str(trade.amount),
        released=amount(trade.released),
        released_units=str(trade.released),
        state=trade_state(trade),
        invoice_amount=terms.invoice.amount if terms.invoice else None,
        milestones=milestones,
        releasable_now=amount(releasable),
    )
    # The order's lines, each its own trade: this one, and its siblings read the same way.
    ids = terms.order.trade_ids if terms.order and siblings else [trade.id]
    lines = [
        own_line
        if i == trade.id
        else _describe(ctx, escrow, get_trade(ctx, escrow, i), token, now=now, siblings=False).lines[0]
        for i in ids
    ]
    return TradeDetail(
        **_summary(trade, token).model_dump(exclude={"token"}),
        token=token,
        **terms.model_dump(exclude={"invoice", "order"}),
        invoice=terms.invoice,
        order=terms.order,
        lines=lines,
        batch=batch,
        amount_units=str(trade.amount),
        released_units=str(trade.released),
        in_escrow=amount(in_escrow),
        in_escrow_units=str(in_escrow),
        refunded_to_buyer=amount(trade.amount - trade.released) if closed else None,
        fee_bps=trade.fee_bps,
        opened_at=iso(trade.opened_at),
        deliver_by_unix=trade.deliver_by,
        overdue=now > trade.deliver_by and not delivered_at,
        shipped_by_seller=own,
        delivered_at=iso(delivered_at),
        received_by_buyer_at=iso(received_at),
        dispute_window_s=trade.dispute_window,
        ruling_period_s=trade.ruling_period,
        disputed_at=iso(trade.disputed_at),
        ruling_deadline=iso(ruling_deadline),
        milestones=milestones,
        batch_recalled=facts.recalled,
        releasable_now=amount(releasable),
        releasable_now_units=str(releasable),
        refundable_now=trade.state_name == "open" and now > trade.deliver_by and not delivered_at,
        resolvable_by_timeout=trade.state_name == "disputed" and now > ruling_deadline,
        chain_time=iso(now),
    )


def _milestone_status(trade: Trade, *, paid: bool, met: bool, due_at: int) -> str:
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
    return f"due {iso(due_at)}" if due_at else "pending"


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

    def window_end(self, trade: Trade) -> int:
        return max(self.delivered_at, trade.opened_at) + trade.dispute_window

    def shipped_since(self, trade: Trade) -> int:
        """When the Shipped condition started to hold for the trade: the shipment's start, or the opening for a
        shipment already under way then (or one the buyer has handed on, whose start the registry no longer
        keeps)."""
        return max(self.shipped_at, trade.opened_at)


def _facts(ctx: TraceContext, trade: Trade) -> _Facts:
    """One registry call: the same facts, read the same way, as the escrow's release, refund and default ruling."""
    latest = view_named(ctx, ctx.registry, "latestShipment", trade.batch_id, trade.buyer)
    shipment, recalled = latest["shipment"], latest["recalled"]
    shipper, delivered_at, handed_on_at = str(shipment["shipper"]), shipment["deliveredAt"], shipment["handedOnAt"]
    received, in_transit = shipment["received"], shipment["inTransit"]
    own = (
        shipper.lower() == trade.seller.lower()
        and not (received and delivered_at < trade.opened_at)
        and (handed_on_at == 0 or handed_on_at >= trade.opened_at)
    )
    current = own and handed_on_at == 0
    shipped_at = int(read(ctx.registry.functions.shippedAt(trade.batch_id))) if current else 0
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


def show_trade(ctx: TraceContext, *, trade_id: int) -> TradeDetail:
    """A trade with human amounts, its state, its milestones and what `release` would pay now."""
    escrow = escrow_contract(ctx)
    trade = get_trade(ctx, escrow, trade_id)
    token = token_at(ctx, trade.token, {})
    return _describe(ctx, escrow, trade, token, now=chain_now(ctx))


def nothing_due(ctx: TraceContext, escrow: Contract, trade: Trade, token: TokenInfo) -> tuple[str, str | None, str]:
    """Why release pays nothing now, in the words `trace escrow show` uses: (state, due_at, note)."""
    state = trade_state(trade)
    if state not in ("open", "disputed"):
        return state, None, f"nothing due: the trade is {state}, nothing is left in escrow"
    shown = _describe(ctx, escrow, trade, token, now=chain_now(ctx))
    later = [m for m in shown.milestones if not m.paid and m.met_at and not m.condition_met]
    if later:
        first = later[0]
        return (
            state,
            first.met_at,
            f"nothing due yet: the {first.name} milestone ({first.amount} {token.symbol}) is due "
            f"{first.met_at}, when the buyer's dispute window after the carrier's delivery closes",
        )
    return state, None, "nothing due: the registry shows no new shipment by the seller or delivery to the buyer"


def trade_parties(ctx: TraceContext, *, trade_id: int) -> Parties:
    """The buyer, seller and arbiter of a trade (NotFoundError for an unknown trade)."""
    trade = get_trade(ctx, escrow_contract(ctx), trade_id)
    return Parties(buyer=trade.buyer, seller=trade.seller, arbiter=trade.arbiter)


def list_trades(
    ctx: TraceContext, *, account: str | None = None, state: str | None = None, limit: int = DEFAULT_LIST_LIMIT
) -> list[TradeSummary]:
    """Trades, newest first; ``account`` matches buyer, seller or arbiter. Scans ``getTrade`` from the newest id
    down, one call per trade, until ``limit`` match: fine for the local chain, not for a busy mainnet escrow."""
    wanted = {"closed": TRADE_STATES[2:]}.get((state or "").lower(), ((state or "").lower(),))
    if state is not None and not set(wanted) <= set(TRADE_STATES):
        raise ValidationError(f"unknown state {state!r}; choose one of {', '.join(TRADE_STATES)} or closed")
    if limit < 1:
        raise ValidationError("limit must be at least 1")
    who = resolve_account(account, dev_names=ctx.dev_chain).lower() if account else None
    escrow = escrow_contract(ctx)
    count = int(read(escrow.functions.tradeCount()))
    chain_now(ctx)  # the idle local chain's clock catches up, as before every read of deadlines
    tokens: dict[str, TokenInfo] = {}
    found: list[TradeSummary] = []
    for trade_id in range(count, 0, -1):
        trade = get_trade(ctx, escrow, trade_id)
        if who and who not in (trade.buyer.lower(), trade.seller.lower(), trade.arbiter.lower()):
            continue
        if state and trade_state(trade) not in wanted:
            continue
        found.append(_summary(trade, token_at(ctx, trade.token, tokens)))
        if len(found) >= limit:
            break
    return found


def balances(ctx: TraceContext, *, account: str) -> list[Balance]:
    """What ``account`` can withdraw, per token: the native coin and the deployment's tokens."""
    who = resolve_account(account, dev_names=ctx.dev_chain)
    escrow = escrow_contract(ctx)
    result = []
    for address in [NATIVE, *ctx.chain.deployment().tokens.values()]:
        token = resolve_token(ctx, address)
        units = int(read(escrow.functions.withdrawable(who, token.address)))
        result.append(Balance(token=token, amount=format_amount(units, token.decimals), amount_units=str(units)))
    return result
