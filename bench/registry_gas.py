"""Gas rows against a naive contract (one string-keyed step per transaction, as tutorials write it), and the naive
one-transaction-per-event throughput that the import is compared with."""

from __future__ import annotations

import random
import time
from typing import Any

from web3.contract import Contract

from bench.common import row
from bench.import_1m import READ_POINTS
from bench.trace_setup import ANCHOR_SIZE, Bench, keys_of, log, register
from trace_api.chain.accounts import dev_account
from trace_api.chain.sender import TxSender
from trace_api.domain import BatchKey
from trace_api.epcis import event_hash_bytes
from trace_api.epcis.vocab import STEP_CODES
from trace_api.merkle import MerkleTree
from trace_api.services.batches import build_event
from trace_api.services.roots import ANCHOR_META

NAIVE_EVENTS = 300
BATCH_EVENTS = 50
# Realistic naive steps: 30-character name, 40-character location, 80-character description.
NAIVE_STEPS = (
    (
        "Cold storage intake inspection",
        "Rotterdam Cold Store 3, Dock 12, Bay 07A",
        "Pallet checked at intake: seal intact, core temperature 3.8 C, no visible damage",
    ),
    (
        "Dispatch to regional warehouse",
        "Antwerp Logistics Park, Gate 4, Ramp 19B",
        "Reefer loaded at 2.9 C, doors sealed with seal 004512, driver and plate recorded",
    ),
)
assert all(tuple(map(len, s)) == (30, 40, 80) for s in NAIVE_STEPS)


def deploy_naive(b: Bench) -> Contract:
    artifact = b.env.chain.artifacts["NaiveSupplyChain"]
    factory = b.env.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = TxSender(b.env.chain, dev_account("admin")).transact(factory.constructor())
    return b.env.chain.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def _naive_batch_id(key: BatchKey) -> str:
    return f"{key.gtin}-{key.lot}"  # the string id a tutorial contract keys its mapping by


def gas_rows(b: Bench, naive: Contract) -> list[dict[str, Any]]:
    sender = b.ctx.sender(b.producer)
    keys = keys_of("G", BATCH_EVENTS + 1)
    register(b, keys)

    # Naive: the first step of a batch writes fresh slots; every later step overwrites them (the fair comparison
    # with recordEvent on an existing batch, and the cheaper of the two).
    naive_sender = TxSender(b.env.chain, dev_account("seller"))
    bid = _naive_batch_id(keys[0])
    first = naive_sender.transact(naive.functions.addStep(bid, *NAIVE_STEPS[0]))["gasUsed"]
    naive_gas = int(naive_sender.transact(naive.functions.addStep(bid, *NAIVE_STEPS[1]))["gasUsed"])
    log(f"naive addStep: first step of a batch {first} gas, later steps {naive_gas} gas")

    # One plain event (Storing by the custodian, with its read point) on an existing batch, as the service sends it.
    key = keys[0]
    storing: list[int] = []
    for n in range(3):
        event = build_event(key=key, step="storing", gln=READ_POINTS[n % len(READ_POINTS)])
        fn = b.registry.functions.recordEvent(
            key.id,
            STEP_CODES["storing"],
            event_hash_bytes(event),
            int(READ_POINTS[n % len(READ_POINTS)]),
            "0x" + "00" * 20,
        )
        storing.append(int(sender.transact(fn)["gasUsed"]))
    event = build_event(key=key, step="inspecting", gln=READ_POINTS[0])
    fn = b.registry.functions.recordEvent(
        key.id, STEP_CODES["inspecting"], event_hash_bytes(event), int(READ_POINTS[0]), "0x" + "00" * 20
    )
    inspecting = int(b.ctx.sender(dev_account("inspector")).transact(fn)["gasUsed"])
    log(f"recordEvent: storing {storing}, inspecting {inspecting}")
    record_gas = max(storing)

    # 50 events on 50 batches that have no event yet, in one transaction.
    inputs = []
    for n, k in enumerate(keys[1:]):
        step = "storing" if n % 2 else "sensor_reporting"
        gln = READ_POINTS[n % len(READ_POINTS)]
        inputs.append(
            (
                k.id,
                STEP_CODES[step],
                event_hash_bytes(build_event(key=k, step=step, gln=gln)),
                int(gln),
                "0x" + "00" * 20,
            )
        )
    batch_gas = int(sender.transact(b.registry.functions.recordEvents(inputs))["gasUsed"])

    rng = random.Random(7)
    anchor: dict[int, int] = {}
    for leaves in (ANCHOR_SIZE, 10_000):
        tree = MerkleTree.from_event_hashes([rng.randbytes(32) for _ in range(leaves)])
        fn = b.registry.functions.anchorRoot(tree.root, leaves, ANCHOR_META)
        anchor[leaves] = int(sender.transact(fn)["gasUsed"])
    log(f"anchorRoot: {anchor}")
    return [
        row("gas.naive_step", naive_gas, "gas", None),
        row("gas.record_event", record_gas, "gas", naive_gas),
        row(f"gas.record_events_per_event@{BATCH_EVENTS}", batch_gas / BATCH_EVENTS, "gas", naive_gas),
        row(f"gas.anchor_per_event@{ANCHOR_SIZE}", anchor[ANCHOR_SIZE] / ANCHOR_SIZE, "gas", naive_gas),
        row("gas.anchor_per_event@10000", anchor[10_000] / 10_000, "gas", naive_gas),
    ]


def naive_events_per_s(b: Bench, naive: Contract) -> float:
    """One transaction per event, as a tutorial client sends them: locally signed, each receipt awaited. The
    baseline is given its best case: the nonce is counted locally and the gas limit estimated once, so each event
    costs one send and one receipt poll."""
    w3 = b.env.chain.w3
    account = dev_account("seller")
    keys = keys_of("N", 30)
    fixed = {
        "from": account.address,
        "chainId": b.env.chain.chain_id,
        "value": 0,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
    }
    probe = naive.functions.addStep(_naive_batch_id(keys[0]), *NAIVE_STEPS[0])
    gas = int(w3.eth.estimate_gas(probe.build_transaction({**fixed, "gas": 1_000_000})) * 1.2)
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    started = time.perf_counter()
    for i in range(NAIVE_EVENTS):
        fn = naive.functions.addStep(_naive_batch_id(keys[i % len(keys)]), *NAIVE_STEPS[i % 2])
        tx = fn.build_transaction({**fixed, "gas": gas, "nonce": nonce + i})
        tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
        if w3.eth.wait_for_transaction_receipt(tx_hash, 30, 0.005)["status"] != 1:
            raise RuntimeError("naive addStep reverted")
    return NAIVE_EVENTS / (time.perf_counter() - started)
