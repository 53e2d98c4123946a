"""Escrow gas rows: open (with a permit), release, refund, dispute + resolve, withdraw; an order of two lines and an
open invoiced in EUR.

Baselines, measured in the same run:
- open with permit against the two-transaction path a token without EIP-2612 needs (approve, then open);
- an order of two lines against two single-batch opens; an invoiced open (feed read, terms recorded) against a
  plain open;
- every payout (release, refund, dispute + resolve, withdraw) against a plain ERC-20 transfer of the same amount,
  what paying the other side directly, with no escrow, would cost.
"""

from __future__ import annotations

from typing import Any

from bench.common import BenchEnv, row
from trace_api.chain.accounts import dev_account
from trace_api.services import batches, escrow
from trace_api.services.context import TraceContext
from trace_api.services.escrow.terms import OrderLine

GTIN = "09506000134352"
AMOUNT = "1250.50"


def _trade(ctx: TraceContext, lot: str, *, use_permit: bool) -> tuple[int, int]:
    """Open a USDC trade for a new batch; returns (trade id, total gas of the transactions sent)."""
    batches.register_batch(ctx, account=dev_account("seller"), gtin=GTIN, lot=lot)
    opened = escrow.open_trade(
        ctx,
        account=dev_account("buyer"),
        order=escrow.TradeOrder(
            seller="seller",
            arbiter="arbiter",
            token="USDC",
            amount=AMOUNT,
            gtin=GTIN,
            lot=lot,
            deliver_by="30d",
            use_permit=use_permit,
        ),
    )
    w3 = ctx.chain.w3
    gas = sum(int(w3.eth.get_transaction_receipt(h)["gasUsed"]) for h in opened.tx_hashes)
    return opened.trade_id, gas


def _order(ctx: TraceContext, lots: tuple[str, ...]) -> int:
    """Open one order of a line per lot (new batches), with a permit; returns its gas."""
    for lot in lots:
        batches.register_batch(ctx, account=dev_account("seller"), gtin=GTIN, lot=lot)
    opened = escrow.open_trade(
        ctx,
        account=dev_account("buyer"),
        order=escrow.TradeOrder(
            seller="seller",
            arbiter="arbiter",
            token="USDC",
            amount=None,
            lines=[OrderLine(GTIN, lot, AMOUNT) for lot in lots],
            deliver_by="30d",
        ),
    )
    return opened.gas_used


def _invoiced(ctx: TraceContext, lot: str) -> int:
    """Open a trade invoiced in EUR at the local EUR/USD feed, DAP Shanghai, with a permit; returns its gas."""
    batches.register_batch(ctx, account=dev_account("seller"), gtin=GTIN, lot=lot)
    opened = escrow.open_trade(
        ctx,
        account=dev_account("buyer"),
        order=escrow.TradeOrder(
            seller="seller",
            arbiter="arbiter",
            token="USDC",
            amount=None,
            invoice_amount="1157.87",
            invoice_currency="EUR",
            incoterm="DAP",
            place="CNSHA",
            gtin=GTIN,
            lot=lot,
            deliver_by="30d",
        ),
    )
    return opened.gas_used


def _later(ctx: TraceContext, seconds: int) -> None:
    """Move the local chain's clock forward and mine a block."""
    ctx.chain.w3.provider.make_request("evm_increaseTime", [seconds])
    ctx.chain.w3.provider.make_request("evm_mine", [])


def run(env: BenchEnv) -> list[dict[str, Any]]:
    ctx = TraceContext.on(env.settings, env.chain)
    # Warm-up: the first trade pays for storage that starts at zero once per deployment (trade counter, the
    # escrow's token balance, the buyer's permit nonce, the fee recipient's credited balance: fees accrue on every
    # payout and are collected now and then); the rows measure the steady state. The seller withdraws after the
    # warm-up, so the measured release still credits a seller balance that starts at zero.
    seller = dev_account("seller")
    warmup, _ = _trade(ctx, "BENCH-ESCROW-WARMUP", use_permit=True)
    batches.record_event(
        ctx, source="bench", account=seller, gtin=GTIN, lot="BENCH-ESCROW-WARMUP", step="shipping", to="buyer"
    )
    batches.record_event(
        ctx, source="bench", account=dev_account("buyer"), gtin=GTIN, lot="BENCH-ESCROW-WARMUP", step="receiving"
    )
    escrow.release(ctx, account=seller, trade_id=warmup)
    escrow.withdraw(ctx, account=seller, token="USDC")
    trade_id, permit_gas = _trade(ctx, "BENCH-ESCROW-PERMIT", use_permit=True)
    _, approve_gas = _trade(ctx, "BENCH-ESCROW-APPROVE", use_permit=False)

    batches.record_event(
        ctx, source="bench", account=seller, gtin=GTIN, lot="BENCH-ESCROW-PERMIT", step="shipping", to="buyer"
    )
    batches.record_event(
        ctx, source="bench", account=dev_account("buyer"), gtin=GTIN, lot="BENCH-ESCROW-PERMIT", step="receiving"
    )
    released = escrow.release(ctx, account=seller, trade_id=trade_id)
    withdrawn = escrow.withdraw(ctx, account=seller, token="USDC")["withdrawals"][0]

    buyer, arbiter = dev_account("buyer"), dev_account("arbiter")
    disputed, _ = _trade(ctx, "BENCH-ESCROW-DISPUTE", use_permit=True)
    opened_dispute = escrow.dispute(ctx, account=buyer, trade_id=disputed, text="the roast is not as agreed")
    ruled = escrow.resolve(ctx, account=arbiter, trade_id=disputed, seller_share="60%")
    order_gas = _order(ctx, ("BENCH-ESCROW-LINE-1", "BENCH-ESCROW-LINE-2"))
    fx_gas = _invoiced(ctx, "BENCH-ESCROW-FX")
    late, _ = _trade(ctx, "BENCH-ESCROW-REFUND", use_permit=True)
    _later(ctx, 31 * 86_400)  # past deliverBy (30 days)
    refunded = escrow.refund(ctx, account=buyer, trade_id=late)

    usdc = ctx.chain.contract("MockStablecoin", ctx.chain.deployment().tokens["USDC"])
    units = escrow.parse_amount(AMOUNT, 6)
    transfer = int(
        ctx.sender(dev_account("retailer")).transact(usdc.functions.transfer(seller.address, units))["gasUsed"]
    )
    w3 = ctx.chain.w3
    withdraw_gas = int(w3.eth.get_transaction_receipt(withdrawn["tx_hash"])["gasUsed"])
    return [
        row("gas.escrow.open", permit_gas, "gas", approve_gas),
        row("gas.escrow.open_2_lines", order_gas, "gas", 2 * permit_gas),
        row("gas.escrow.open_fx", fx_gas, "gas", permit_gas),
        row("gas.escrow.release", int(released["gas_used"]), "gas", transfer),
        row("gas.escrow.refund", int(refunded["gas_used"]), "gas", transfer),
        row("gas.escrow.dispute_resolve", int(opened_dispute["gas_used"]) + int(ruled["gas_used"]), "gas", transfer),
        row("gas.escrow.withdraw", withdraw_gas, "gas", transfer),
    ]
