"""Custody gas rows: each step of a batch's lifecycle as the service sends it, and their mean.

One batch goes through commissioning, inspecting, packing, storing, shipping and arriving (a carrier's delivery);
a second through shipping and receiving (the consignee's own). Every step carries a read point, as
``trace event record --gln`` sends it. The baseline of each row is ``NaiveSupplyChain.addStep`` on an existing
batch, measured in the same run: a tutorial-style contract storing a struct of strings per step.

``gas.lifecycle_mean`` is the mean over the six steps of the first batch (targets: shipping ≤ 50,000, arriving and
receiving ≤ 45,000, mean ≤ 41,400). Run only these rows with ``python -m bench custody``.
"""

from __future__ import annotations

from typing import Any

from bench.common import BenchEnv, row
from bench.import_1m import READ_POINTS
from bench.registry_gas import NAIVE_STEPS
from trace_api.chain.accounts import dev_account
from trace_api.chain.sender import TxSender
from trace_api.services import batches
from trace_api.services.context import TraceContext

GTIN = "09506000134352"
LIFECYCLE = (
    ("commissioning", "producer"),
    ("inspecting", "inspector"),
    ("packing", "producer"),
    ("storing", "producer"),
    ("shipping", "producer"),
    ("arriving", "carrier"),
)


def _naive_step_gas(env: BenchEnv) -> int:
    """A later step of the naive contract on an existing batch (it overwrites the slots the first one wrote)."""
    artifact = env.chain.artifacts["NaiveSupplyChain"]
    factory = env.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sender = TxSender(env.chain, dev_account("seller"))
    address = sender.transact(factory.constructor())["contractAddress"]
    naive = env.chain.w3.eth.contract(address=address, abi=artifact.abi)
    sender.transact(naive.functions.addStep(f"{GTIN}-NAIVE", *NAIVE_STEPS[0]))
    return int(sender.transact(naive.functions.addStep(f"{GTIN}-NAIVE", *NAIVE_STEPS[1]))["gasUsed"])


def _step(ctx: TraceContext, lot: str, step: str, actor: str, n: int) -> int:
    to = "buyer" if step == "shipping" else None
    done = batches.record_event(
        ctx,
        source="bench",
        account=dev_account(actor),
        gtin=GTIN,
        lot=lot,
        step=step,
        gln=READ_POINTS[n % len(READ_POINTS)],
        to=to,
    )
    return int(done["gas_used"])


def run(env: BenchEnv) -> list[dict[str, Any]]:
    ctx = TraceContext.on(env.settings, env.chain)
    naive = _naive_step_gas(env)
    # Warm-up: one lifecycle first, so that the rows measure batches, not a fresh contract's first writes.
    for lot in ("CUSTODY-WARMUP", "CUSTODY-LIFECYCLE", "CUSTODY-RECEIVING"):
        batches.register_batch(ctx, account=dev_account("producer"), gtin=GTIN, lot=lot)
    for n, (step, actor) in enumerate(LIFECYCLE):
        _step(ctx, "CUSTODY-WARMUP", step, actor, n)
    gas = {step: _step(ctx, "CUSTODY-LIFECYCLE", step, actor, n) for n, (step, actor) in enumerate(LIFECYCLE)}
    _step(ctx, "CUSTODY-RECEIVING", "shipping", "producer", 0)
    gas["receiving"] = _step(ctx, "CUSTODY-RECEIVING", "receiving", "buyer", 1)
    mean = sum(gas[step] for step, _ in LIFECYCLE) / len(LIFECYCLE)
    return [
        *(row(f"gas.step.{step}", value, "gas", naive) for step, value in gas.items()),
        row("gas.lifecycle_mean", round(mean, 1), "gas", naive),
    ]
