"""Escrow gas rows: opening a trade with a permit, and releasing a milestone.

Baselines, measured in the same run:
- open with permit against the two-transaction path a token without EIP-2612 needs (approve, then open);
- release against a plain ERC-20 transfer of the same amount, what paying the seller directly would cost.
"""

from __future__ import annotations

from typing import Any

from bench.common import BenchEnv, row
from trace_api.chain.accounts import dev_account
from trace_api.index.store import get_engine
from trace_api.services import batches, escrow
from trace_api.services.context import TraceContext

GTIN = "09506000134352"
AMOUNT = "1250.50"


def _trade(ctx: TraceContext, lot: str, *, use_permit: bool) -> tuple[int, int]:
    """Open a USDC trade for a new batch; returns (trade id, total gas of the transactions sent)."""
    batches.register_batch(ctx, account=dev_account("seller"), gtin=GTIN, lot=lot)
    opened = escrow.open_trade(ctx, account=dev_account("buyer"), seller="seller", arbiter="arbiter", token="USDC",
                               amount=AMOUNT, gtin=GTIN, lot=lot, deliver_by="30d", use_permit=use_permit)
    w3 = ctx.chain.w3
    gas = sum(int(w3.eth.get_transaction_receipt(h)["gasUsed"]) for h in opened["tx_hashes"])
    return opened["trade_id"], gas


def run(env: BenchEnv) -> list[dict[str, Any]]:
    ctx = TraceContext(settings=env.settings, chain=env.chain, engine=get_engine(env.settings))
    # Warm-up: the first trade pays for storage that starts at zero (trade counter, the escrow's token balance,
    # the buyer's permit nonce); the rows measure the steady state.
    _trade(ctx, "BENCH-ESCROW-WARMUP", use_permit=True)
    trade_id, permit_gas = _trade(ctx, "BENCH-ESCROW-PERMIT", use_permit=True)
    _, approve_gas = _trade(ctx, "BENCH-ESCROW-APPROVE", use_permit=False)

    seller = dev_account("seller")
    batches.record_event(ctx, account=seller, gtin=GTIN, lot="BENCH-ESCROW-PERMIT", step="shipping", to="buyer")
    batches.record_event(ctx, account=dev_account("buyer"), gtin=GTIN, lot="BENCH-ESCROW-PERMIT", step="receiving")
    released = escrow.release(ctx, account=seller, trade_id=trade_id)

    usdc = ctx.chain.contract("MockStablecoin", ctx.chain.deployment().tokens["USDC"])
    units = escrow.parse_amount(AMOUNT, 6)
    transfer = ctx.sender(dev_account("retailer")).transact(usdc.functions.transfer(seller.address, units))
    return [
        row("gas.escrow.open_permit", permit_gas, "gas", approve_gas),
        row("gas.escrow.release", int(released["gas_used"]), "gas", int(transfer["gasUsed"])),
    ]
