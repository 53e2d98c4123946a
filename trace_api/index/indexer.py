"""Read the registry's logs into the index: confirmation depth, checkpoint, idempotent, reorg rollback.

Each sync reads blocks (checkpoint, head - confirmations] in chunks, writes the decoded rows, the hashes of
the blocks it saw and the new checkpoint in one transaction. Before reading, it compares the stored block
hashes with the chain's; on a mismatch it deletes every chain row above the highest block that still
matches (the fork point) and reads again from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import event_abi_to_log_topic
from sqlalchemy import Connection, Engine, delete, insert, select

from trace_api.chain.client import Chain, ContractRef
from trace_api.chain.reverts import canonical_type
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
        self.registry: ContractRef = chain.ref("TraceRegistry")
        self.start_block = record.contracts["TraceRegistry"].block
        self._events = {
            event_abi_to_log_topic(item): _EventAbi.of(item)  # type: ignore[arg-type]
            for item in self.registry.abi
            if item.get("type") == "event" and not item.get("anonymous")
        }

    # ---- public ----
    def checkpoint(self) -> int:
        with self.engine.connect() as conn:
            return self._checkpoint(conn)

    def unconfirmed(self, event: str) -> list[dict[str, Any]]:
        """The arguments of the registry's ``event`` logs in the blocks above the checkpoint: on chain, not yet
        confirmed deep enough to be indexed."""
        start, head = self.checkpoint() + 1, self.chain.block_number()
        logs = self.chain.logs(self.registry.address, start, head) if start <= head else []
        return [args for name, args in map(self._decode, logs) if name == event]

    def sync(self, *, confirmations: int | None = None) -> SyncResult:
        depth = self.chain.settings.confirmations if confirmations is None else confirmations
        head = self.chain.block_number()
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
                seen: dict[int, str] = {}
                for log in self.chain.logs(self.registry.address, lo, hi):
                    self._apply(conn, log)
                    seen[int(log["blockNumber"], 16)] = hx(log["blockHash"])
                    count += 1
                self._remember(conn, seen)
            if target >= first:
                block = self.chain.block(target)
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
        for i, (number, block_hash) in enumerate(stored):
            try:
                live_hash = hx(self.chain.block(int(number))["hash"])
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
    def _decode(self, log: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """A registry log's event name and arguments; (None, {}) for a log of no event in the ABI."""
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        event = self._events.get(topics[0]) if topics else None
        return (event.name, event.decode(topics, log["data"])) if event is not None else (None, {})

    def _apply(self, conn: Connection, log: dict[str, Any]) -> None:
        name, a = self._decode(log)
        if name is None:
            return
        block, tx = int(log["blockNumber"], 16), hx(log["transactionHash"])
        if name in ("BatchRegistered", "BatchDerived"):
            conn.execute(
                insert(t.chain_batches).values(
                    batch_id=hx(a["id"]),
                    producer=str(a["producer"] if "producer" in a else a["actor"]).lower(),
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


@dataclass(frozen=True)
class _EventAbi:
    """One event of the ABI, to decode its logs: indexed arguments from the topics, the others from the data."""

    name: str
    indexed: tuple[tuple[str, str], ...]
    plain: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, item: dict[str, Any]) -> _EventAbi:
        inputs = [(i["name"], canonical_type(i)) for i in item.get("inputs", [])]
        flags = [bool(i.get("indexed")) for i in item.get("inputs", [])]
        return cls(
            item["name"],
            tuple(x for x, f in zip(inputs, flags, strict=True) if f),
            tuple(x for x, f in zip(inputs, flags, strict=True) if not f),
        )

    def decode(self, topics: list[bytes], data: str) -> dict[str, Any]:
        if len(topics) != len(self.indexed) + 1:
            raise ValueError(f"{self.name}: {len(topics) - 1} indexed topics, the ABI has {len(self.indexed)}")
        args = {}
        for (name, kind), topic in zip(self.indexed, topics[1:], strict=True):
            # A dynamic indexed value is stored as its hash: the topic is all there is.
            args[name] = topic if _dynamic(kind) else abi_decode([kind], topic)[0]
        values = abi_decode([k for _, k in self.plain], bytes.fromhex(data[2:]))
        args.update(zip((n for n, _ in self.plain), values, strict=True))
        return args


def _dynamic(kind: str) -> bool:
    return kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("(")
