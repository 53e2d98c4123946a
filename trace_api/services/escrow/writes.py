"""Settlement writes on an open trade: release milestones, confirm, refund, dispute and evidence, the arbiter's
ruling or the timeout's, and withdrawals.

Every write checks its input first and raises :class:`ValidationError` before anything is signed; the sender's gas
estimate then decodes any revert the contract would raise, so a rejected call never reaches the chain.
"""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.types import TxReceipt

from trace_api.domain import hx
from trace_api.errors import ValidationError
from trace_api.services.context import TraceContext
from trace_api.services.devchain import follow_wall_clock
from trace_api.services.escrow.inputs import BPS, evidence_hash, format_amount, iso
from trace_api.services.escrow.read import nothing_due
from trace_api.services.escrow.results import (
    Confirmed,
    DisputeOpened,
    EvidenceAdded,
    PaidMilestone,
    Refunded,
    Released,
    Resolved,
    Withdrawal,
    Withdrawals,
)
from trace_api.services.escrow.tokens import NATIVE, TokenInfo, resolve_token, token_at
from trace_api.services.escrow.trades import (
    MILESTONE_NAMES,
    Trade,
    escrow_contract,
    events,
    get_trade,
    read,
    trade_state,
    tx,
)

__all__ = ["add_evidence", "confirm", "dispute", "refund", "release", "resolve", "resolve_by_timeout", "withdraw"]


def _prepare(ctx: TraceContext, trade_id: int) -> tuple[Contract, Trade, TokenInfo]:
    follow_wall_clock(ctx.chain)  # the preflight call judges deadlines by the latest block's time
    escrow = escrow_contract(ctx)
    trade = get_trade(ctx, escrow, trade_id)
    return escrow, trade, token_at(ctx, trade.token, {})


def release(ctx: TraceContext, *, account: LocalAccount, trade_id: int) -> Released:
    """Pay every milestone the registry shows as reached. When nothing is due, nothing is sent."""
    escrow, trade, token = _prepare(ctx, trade_id)
    sender = ctx.sender(account)
    fn = escrow.functions.release(trade_id)
    closed = trade.state_name == "closed"  # says how it ended, as `show` does, instead of the contract's refusal
    due = 0 if closed else int(sender.call(fn))  # decodes a revert (a disputed trade) before anything is sent
    if due == 0:
        state, due_at, note = nothing_due(ctx, escrow, trade, token)
        return Released(
            trade_id=trade_id,
            token=token,
            tx_hash=None,
            released="0",
            released_units="0",
            milestones=[],
            state=state,
            due_at=due_at,
            note=note,
        )
    receipt = sender.transact(fn)
    paid = events(escrow, receipt, "MilestoneReleased")
    total = sum(int(p["amount"]) for p in paid)
    return Released(
        trade_id=trade_id,
        token=token,
        **tx(receipt),
        released=format_amount(total, token.decimals),
        released_units=str(total),
        milestones=[
            PaidMilestone(
                name=MILESTONE_NAMES[int(p["milestone"])],
                amount=format_amount(p["amount"], token.decimals),
                fee=format_amount(p["fee"], token.decimals),
            )
            for p in paid
        ],
        state=trade_state(get_trade(ctx, escrow, trade_id)),
    )


def confirm(ctx: TraceContext, *, account: LocalAccount, trade_id: int) -> Confirmed:
    """The buyer releases everything still in escrow to the seller."""
    escrow, _, token = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.confirmReceipt(trade_id))
    (event,) = events(escrow, receipt, "ReceiptConfirmed")
    return Confirmed(
        trade_id=trade_id,
        **tx(receipt),
        token=token,
        state="paid",
        released=format_amount(event["amount"], token.decimals),
        fee=format_amount(event["fee"], token.decimals),
    )


def refund(ctx: TraceContext, *, account: LocalAccount, trade_id: int) -> Refunded:
    """Return the remainder of an undelivered trade to the buyer, once its delivery deadline has passed."""
    escrow, _, token = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.refund(trade_id))
    (event,) = events(escrow, receipt, "TradeRefunded")
    # A Shipped milestone the seller earned but nobody released is paid to the seller first.
    to_seller = sum(int(e["amount"]) for e in events(escrow, receipt, "MilestoneReleased"))
    return Refunded(
        trade_id=trade_id,
        **tx(receipt),
        token=token,
        state="refunded",
        buyer=event["buyer"],
        refunded=format_amount(event["amount"], token.decimals),
        released_to_seller=format_amount(to_seller, token.decimals),
    )


def dispute(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    text: str | None = None,
    path: Path | None = None,
    digest: str | None = None,
) -> DisputeOpened:
    """Freeze the remainder and ask the arbiter to rule; the evidence goes on chain as its SHA-256 only."""
    evidence = evidence_hash(text=text, path=path, digest=digest, max_bytes=ctx.settings.max_document_bytes)
    escrow, _, _ = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.dispute(trade_id, evidence))
    (event,) = events(escrow, receipt, "DisputeOpened")
    return DisputeOpened(
        trade_id=trade_id,
        **tx(receipt),
        state="disputed",
        by=event["by"],
        evidence_sha256=hx(evidence),
        ruling_deadline=iso(int(event["rulingDeadline"])),
    )


def add_evidence(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    text: str | None = None,
    path: Path | None = None,
    digest: str | None = None,
) -> EvidenceAdded:
    """Reference more evidence (its SHA-256) for the arbiter."""
    evidence = evidence_hash(text=text, path=path, digest=digest, max_bytes=ctx.settings.max_document_bytes)
    escrow, _, _ = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.addEvidence(trade_id, evidence))
    return EvidenceAdded(trade_id=trade_id, **tx(receipt), evidence_sha256=hx(evidence))


def _resolution(
    escrow: Contract, receipt: TxReceipt, trade_id: int, token: TokenInfo, seller_bps: int | None
) -> Resolved:
    (event,) = events(escrow, receipt, "DisputeResolved")
    return Resolved(
        trade_id=trade_id,
        **tx(receipt),
        token=token,
        state="resolved",
        to_seller=format_amount(event["toSeller"], token.decimals),
        to_buyer=format_amount(event["toBuyer"], token.decimals),
        fee=format_amount(event["fee"], token.decimals),
        by_timeout=bool(event["byTimeout"]),
        seller_bps=seller_bps,
    )


def resolve(ctx: TraceContext, *, account: LocalAccount, trade_id: int, seller_bps: int) -> Resolved:
    """The arbiter's ruling: ``seller_bps`` of the frozen remainder to the seller, the rest back to the buyer."""
    if not 0 <= seller_bps <= BPS:
        raise ValidationError(f"seller share {seller_bps} bps: must be between 0 and {BPS} (0% and 100%)")
    escrow, _, token = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.resolve(trade_id, seller_bps))
    return _resolution(escrow, receipt, trade_id, token, seller_bps)


def resolve_by_timeout(ctx: TraceContext, *, account: LocalAccount, trade_id: int) -> Resolved:
    """Settle a dispute the arbiter did not rule on in time, by the registry's facts."""
    escrow, _, token = _prepare(ctx, trade_id)
    receipt = ctx.sender(account).transact(escrow.functions.resolveByTimeout(trade_id))
    return _resolution(escrow, receipt, trade_id, token, None)


def withdraw(ctx: TraceContext, *, account: LocalAccount, token: str | None = None) -> Withdrawals:
    """Pull ``account``'s credited balance of ``token``; with no token, of every token it has a balance in."""
    escrow = escrow_contract(ctx)
    if token is not None:
        wanted = [resolve_token(ctx, token)]
    else:
        wanted = [resolve_token(ctx, a) for a in [NATIVE, *ctx.chain.deployment().tokens.values()]]
        wanted = [w for w in wanted if read(escrow.functions.withdrawable(account.address, w.address))]
        if not wanted:
            raise ValidationError(f"{account.address} has nothing to withdraw")
    sender = ctx.sender(account)
    paid = []
    for info in wanted:
        receipt = sender.transact(escrow.functions.withdraw(info.address))
        (event,) = events(escrow, receipt, "Withdrawn")
        paid.append(
            Withdrawal(
                token=info,
                amount=format_amount(event["amount"], info.decimals),
                amount_units=str(event["amount"]),
                **tx(receipt),
            )
        )
    return Withdrawals(account=account.address, withdrawals=paid)
