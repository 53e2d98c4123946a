"""Read the registry's logs into the index: confirmation depth, checkpoint, idempotent, reorg rollback.

Each sync reads blocks (checkpoint, head - confirmations] in chunks, writes the decoded rows, the hashes of
the blocks it saw and the new checkpoint in one transaction. Before reading, it compares the stored block
hashes with the chain's; on a mismatch it deletes every chain row above the highest block that still
matches (the fork point) and reads again from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from sqlalchemy import Connection, Engine, delete, insert, select
from web3.contract import Contract

from trace_api.chain.client import Chain, guarded
from trace_api.domain import hx
from trace_api.errors import ChainUnavailableError
from trace_api.index import schema as t
from trace_api.index.store import lock

CHECKPOINT = "registry"
CHUNK_BLOCKS = 2000
KEEP_BLOCK_HASHES = 512


@dataclass(frozen=True)
class SyncResult:
    from_block: int
    to_block: int
    logs: int
    rolled_back_to: int | None


class Indexer:
    def __init__(self, *, chain: Chain, engine: Engine) -> None:
        self.chain = chain
        self.engine = engine
        record = chain.deployment()
        self.registry: Contract = chain.contract("TraceRegistry")
        self.start_block = record.contracts["TraceRegistry"].block
        abi: list[dict[str, Any]] = list(self.registry.abi)  # type: ignore[arg-type]
        self._events = {
            event_abi_to_log_topic(item): getattr(self.registry.events, item["name"])()  # type: ignore[arg-type]
            for item in abi
            if item.get("type") == "event" and hasattr(self.registry.events, item["name"])
        }

    # ---- public ----
    def checkpoint(self) -> int:
        with self.engine.connect() as conn:
            return self._checkpoint(conn)

    def sync(self, *, confirmations: int | None = None) -> SyncResult:
        depth = self.chain.settings.confirmations if confirmations is None else confirmations
        w3 = self.chain.w3
        head = int(guarded(lambda: w3.eth.block_number))
        target = head - depth
        with self.engine.begin() as conn:
            # One sync at a time per database (API workers, a CLI import): lock the checkpoint row first.
            lock(conn, CHECKPOINT)
            last = self._checkpoint(conn)
            fork = self._find_fork(conn, last)
            if fork is not None:
                self._rollback(conn, fork)
                last = fork
            first = last + 1
            count = 0
            for lo in range(first, target + 1, CHUNK_BLOCKS):
                hi = min(lo + CHUNK_BLOCKS - 1, target)
                logs = guarded(
                    lambda lo=lo, hi=hi: w3.eth.get_logs(
                        {"address": self.registry.address, "fromBlock": lo, "toBlock": hi}
                    )
                )
                seen: dict[int, str] = {}
                for log in logs:
                    self._apply(conn, log)
                    seen[int(log["blockNumber"])] = hx(log["blockHash"])
                    count += 1
                self._remember(conn, seen)
            if target >= first:
                block = guarded(lambda: w3.eth.get_block(target))
                self._remember(conn, {target: hx(block["hash"])})
                self._set_checkpoint(conn, target)
                conn.execute(delete(t.blocks).where(t.blocks.c.number < target - KEEP_BLOCK_HASHES))
        return SyncResult(first, max(target, last), count, fork)

    # ---- checkpoint and reorgs ----
    def _checkpoint(self, conn: Connection) -> int:
        value = conn.execute(select(t.checkpoints.c.block_number).where(t.checkpoints.c.name == CHECKPOINT)).scalar()
        # a row made by lock() before the first sync holds 0: nothing has been read yet
        return int(value) if value else self.start_block - 1

    def _set_checkpoint(self, conn: Connection, number: int) -> None:
        conn.execute(delete(t.checkpoints).where(t.checkpoints.c.name == CHECKPOINT))
        conn.execute(insert(t.checkpoints).values(name=CHECKPOINT, block_number=number))

    def _remember(self, conn: Connection, hashes: dict[int, str]) -> None:
        if not hashes:
            return
        conn.execute(delete(t.blocks).where(t.blocks.c.number.in_(list(hashes))))
        conn.execute(insert(t.blocks), [{"number": n, "hash": h} for n, h in hashes.items()])

    def _find_fork(self, conn: Connection, last: int) -> int | None:
        """None if the stored blocks still match the chain, else the highest block that does."""
        stored = conn.execute(
            select(t.blocks.c.number, t.blocks.c.hash)
            .where(t.blocks.c.number <= last)
            .order_by(t.blocks.c.number.desc())
        ).all()
        w3 = self.chain.w3
        for i, (number, block_hash) in enumerate(stored):
            try:
                live = guarded(lambda n=number: w3.eth.get_block(n))
                live_hash = hx(live["hash"])
            except ChainUnavailableError:
                raise  # a node that is down says nothing about reorgs
            except Exception:  # noqa: BLE001 - a block above the new head is as good as replaced
                live_hash = ""
            if live_hash == block_hash:
                return None if i == 0 else int(number)
        return self.start_block - 1 if stored else None

    def _rollback(self, conn: Connection, fork: int) -> None:
        for table in t.CHAIN_TABLES:
            conn.execute(delete(table).where(table.c.block_number > fork))
        conn.execute(delete(t.blocks).where(t.blocks.c.number > fork))
        self._set_checkpoint(conn, fork)

    # ---- decoding ----
    def _apply(self, conn: Connection, log: Any) -> None:
        topic = bytes(log["topics"][0]) if log["topics"] else b""
        event = self._events.get(topic)
        if event is None:
            return
        decoded = event.process_log(log)
        name, a = decoded["event"], decoded["args"]
        block, tx = int(log["blockNumber"]), hx(log["transactionHash"])
        if name in ("BatchRegistered", "BatchDerived"):
            conn.execute(
                insert(t.chain_batches).values(
                    batch_id=hx(a["id"]),
                    producer=a.get("producer", a.get("actor")).lower(),
                    metadata_hash=hx(a["metadataHash"]),
                    quantity=str(a["quantity"]),
                    uom=bytes(a["uom"]).rstrip(b"\0").decode(errors="replace"),
                    derived=name == "BatchDerived",
                    block_number=block,
                    tx_hash=tx,
                )
            )
            if name == "BatchDerived":
                conn.execute(
                    insert(t.chain_lineage),
                    [{"child_id": hx(a["id"]), "parent_id": hx(p), "block_number": block} for p in a["parentIds"]],
                )
        elif name == "EventRecorded":
            conn.execute(
                insert(t.chain_events).values(
                    batch_id=hx(a["id"]),
                    seq=int(a["seq"]),
                    step=int(a["step"]),
                    event_hash=hx(a["eventHash"]),
                    actor=a["actor"].lower(),
                    block_number=block,
                    tx_hash=tx,
                )
            )
        elif name in ("BatchShipped", "CustodyTransferred"):
            src = a["shipper"] if name == "BatchShipped" else a["from"]
            dst = a["consignee"] if name == "BatchShipped" else a["to"]
            conn.execute(
                insert(t.chain_transfers).values(
                    batch_id=hx(a["id"]),
                    kind="shipped" if name == "BatchShipped" else "custody",
                    from_account=src.lower(),
                    to_account=dst.lower(),
                    block_number=block,
                )
            )
        elif name == "BatchRecalled":
            conn.execute(
                insert(t.chain_recalls).values(
                    batch_id=hx(a["id"]),
                    actor=a["actor"].lower(),
                    reason_hash=hx(a["reasonHash"]),
                    block_number=block,
                )
            )
        elif name == "RootAnchored":
            conn.execute(
                insert(t.chain_roots).values(
                    root=hx(a["root"]),
                    anchorer=a["anchorer"].lower(),
                    count=int(a["count"]),
                    meta_hash=hx(a["metaHash"]),
                    block_number=block,
                )
            )
