"""What the traceability rows share: the run's context, quick batch registration straight through JSON-RPC, and
small statistics."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_abi import encode
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, insert, select
from web3 import Web3
from web3.contract import Contract

from bench.common import BenchEnv
from bench.import_1m import with_check_digit
from trace_api.domain import BatchKey, canonical_json, metadata_hash
from trace_api.index import schema as t
from trace_api.services.context import TraceContext

ANCHOR_SIZE = 1024
REGISTER_GAS = 200_000  # registerBatch costs about 140k; a fixed limit skips one estimate per batch
RPC_BATCH = 250  # registrations per mined block: 250 × REGISTER_GAS fits the 60M block gas limit
PRODUCTS = tuple(with_check_digit(f"0950600013{i:03d}") for i in range(10))  # ten GTINs of one company
UOM = b"KGM".ljust(8, b"\0")


def log(message: str) -> None:
    print(f"[trace_bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Bench:
    env: BenchEnv
    ctx: TraceContext
    producer: LocalAccount
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def registry(self) -> Contract:
        return self.ctx.registry

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        log(f"{name}…")
        started = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - started, 1)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        log(f"{name}: {self.timings[name]} s (load average {load} on {os.cpu_count()} CPUs)")


def keys_of(prefix: str, count: int) -> list[BatchKey]:
    return [BatchKey(PRODUCTS[i % len(PRODUCTS)], f"{prefix}{i:06d}") for i in range(count)]


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


# ---- setup: many batches, fast ----
def rpc(url: str, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    """One JSON-RPC batch request; raises on any error."""
    replies = requests.post(
        url, json=[{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)], timeout=300
    ).json()
    errors = [r["error"] for r in replies if "error" in r]
    if errors:
        raise RuntimeError(f"{calls[0][0]} failed: {errors[:3]}")
    return [r["result"] for r in sorted(replies, key=lambda r: r["id"])]


def register(b: Bench, keys: Sequence[BatchKey]) -> None:
    """Register batches in blocks of RPC_BATCH: anvil signs for its unlocked dev account and one evm_mine mines
    each block (the service signs in Python and awaits each receipt, which would take many minutes for 20,000
    batches; 20,000 automined transactions sent at once also stalled anvil 1.7.1). Then index them and store
    their keys as register_batch does."""
    url = b.env.settings.effective_rpc_url
    selector = Web3.keccak(text="registerBatch(bytes32,bytes32,uint128,bytes8)")[:4]
    metas = [{"gtin": k.gtin, "lot": k.lot, "product": "chilled salmon fillets", "origin": "NO"} for k in keys]
    nonce = b.env.chain.w3.eth.get_transaction_count(b.producer.address, "pending")
    rpc(url, [("evm_setAutomine", [False])])
    try:
        for lo in range(0, len(keys), RPC_BATCH):
            calls = []
            for i in range(lo, min(lo + RPC_BATCH, len(keys))):
                args = encode(
                    ["bytes32", "bytes32", "uint128", "bytes8"], [keys[i].id, metadata_hash(metas[i]), 1_200_000, UOM]
                )
                calls.append(
                    (
                        "eth_sendTransaction",
                        [
                            {
                                "from": b.producer.address,
                                "to": b.registry.address,
                                "data": "0x" + (selector + args).hex(),
                                "gas": hex(REGISTER_GAS),
                                "nonce": hex(nonce + i),
                            }
                        ],
                    )
                )
            rpc(url, calls)
            rpc(url, [("evm_mine", [])])
            pending = int(rpc(url, [("txpool_status", [])])[0]["pending"], 16)
            if pending:
                raise RuntimeError(f"{pending} registrations left unmined")
    finally:
        rpc(url, [("evm_setAutomine", [True])])
    b.ctx.sync()
    with b.ctx.engine.begin() as conn:
        ids = [k.id_hex for k in keys]
        indexed = conn.execute(
            select(func.count()).select_from(t.chain_batches).where(t.chain_batches.c.batch_id.in_(ids))
        ).scalar()
        if indexed != len(set(ids)):
            raise RuntimeError(f"{len(ids) - int(indexed or 0)} registered batches are missing from the index")
        conn.execute(
            insert(t.batch_keys),
            [
                {"batch_id": k.id_hex, "gtin": k.gtin, "lot": k.lot, "metadata": canonical_json(m)}
                for k, m in zip(keys, metas, strict=True)
            ],
        )
