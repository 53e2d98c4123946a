"""The index against a real anvil chain, on SQLite and PostgreSQL: idempotent syncs, confirmation depth, reorgs
(same height and shorter chain), resumable imports, and imports that write nothing when a row is bad."""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web3 import Web3

from tests.index.conftest import IndexEnv, chain_state, count
from trace_api.chain.accounts import dev_account
from trace_api.domain import batch_key
from trace_api.errors import ValidationError
from trace_api.index import schema as t
from trace_api.index.indexer import Indexer, hx
from trace_api.index.store import make_engine
from trace_api.services import anchoring, batches, events, importer
from trace_api.services.context import TraceContext
from trace_api.services.history import history_of

GTIN = "09506000134352"
BAD_GTIN = "09506000134353"  # wrong check digit: 2 is right
GLN = "9506000134352"
ROOT_ANCHORED = Web3.keccak(text="RootAnchored(bytes32,address,uint32,bytes32)")
ANCHORED_STEPS = ("holding", "storing", "packing", "sensor_reporting", "loading", "picking")
PRODUCER = dev_account("producer")


# ---- helpers ----
def register(ctx: TraceContext, lot: str) -> dict[str, Any]:
    return batches.register_batch(ctx, account=PRODUCER, gtin=GTIN, lot=lot, quantity="10", uom="KGM")


def record(ctx: TraceContext, lot: str, step: str) -> str:
    return str(batches.record_event(ctx, source="cli", account=PRODUCER, gtin=GTIN, lot=lot, step=step).event_hash)


def statuses(ctx: TraceContext, lot: str) -> dict[str, str]:
    return {e.event_hash: e.status for e in history_of(ctx, batch_key(GTIN, lot)).timeline}


def chain_event_hashes(env: IndexEnv) -> list[str]:
    with env.engine.connect() as conn:
        return list(conn.execute(select(t.chain_events.c.event_hash).order_by(t.chain_events.c.seq)).scalars())


def stored_blocks_match_chain(env: IndexEnv) -> bool:
    with env.engine.connect() as conn:
        stored = conn.execute(select(t.blocks.c.number, t.blocks.c.hash)).all()
    return bool(stored) and all(hx(env.node.w3.eth.get_block(n)["hash"]) == h for n, h in stored)


def root_anchored_logs(env: IndexEnv) -> int:
    registry = env.node.chain.contract("TraceRegistry")
    return len(
        env.node.w3.eth.get_logs(
            {
                "address": registry.address,
                "fromBlock": 0,
                "toBlock": "latest",
                "topics": [ROOT_ANCHORED],
            }
        )
    )


def event_count_on_chain(ctx: TraceContext, lot: str) -> int:
    return int(ctx.registry.functions.eventCount(batch_key(GTIN, lot).id).call())


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = ["gtin", "lot", "step", "event_time", "location", "to"]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows({c: row.get(c, "") for c in columns} for row in rows)
    return path


def csv_rows(lot: str, n: int, *, start: int = 0) -> list[dict[str, str]]:
    base = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
    return [
        {
            "gtin": GTIN,
            "lot": lot,
            "step": ANCHORED_STEPS[i % len(ANCHORED_STEPS)],
            "location": GLN,
            "event_time": (base + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        }
        for i in range(start, start + n)
    ]


# ---- 1. idempotence ----
def test_sync_twice_gives_the_same_rows_and_reads_nothing_new(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "IDEM-1")
    recorded = [record(ctx, "IDEM-1", "commissioning"), record(ctx, "IDEM-1", "packing")]
    first = chain_state(env.engine)
    assert first["checkpoint"] == env.node.head()
    assert [row[3] for row in first["chain_events"]] == recorded  # (batch_id, seq, step, event_hash, ...)
    assert len(first["chain_batches"]) == 1

    again = ctx.sync()
    assert (again.logs, again.rolled_back_to) == (0, None)
    assert again.from_block == first["checkpoint"] + 1 and again.to_block == first["checkpoint"]  # empty range
    assert chain_state(env.engine) == first

    env.node.mine(2)  # blocks without logs still move the checkpoint
    moved = ctx.sync()
    assert (moved.logs, moved.from_block, moved.to_block) == (0, first["checkpoint"] + 1, first["checkpoint"] + 2)
    assert chain_state(env.engine) == {**first, "checkpoint": first["checkpoint"] + 2}

    recorded.append(record(ctx, "IDEM-1", "storing"))
    after = chain_state(env.engine)
    assert after["checkpoint"] == env.node.head() > first["checkpoint"] + 2
    assert [row[3] for row in after["chain_events"]] == recorded
    assert after == env.reference()
    assert set(statuses(ctx, "IDEM-1").values()) == {"verified"}


def test_two_indexers_syncing_at_once_on_one_database(env: IndexEnv) -> None:
    ctx = env.context()
    others = [make_engine(env.db_url) for _ in range(2)]
    indexers = [Indexer(chain=ctx.chain, engine=engine) for engine in others]
    errors: list[BaseException] = []
    try:
        for round_ in range(8):
            scratch = make_engine(f"sqlite:///{env.tmp_path / f'writer-{round_}.sqlite'}")
            register(env.context(engine=scratch), f"RACE-{round_}")  # mined, not yet in our index
            scratch.dispose()
            barrier = threading.Barrier(len(indexers))

            def sync(indexer: Indexer, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                try:
                    indexer.sync()
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)

            threads = [threading.Thread(target=sync, args=(i,)) for i in indexers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        for engine in others:
            engine.dispose()
    assert errors == []
    assert chain_state(env.engine) == env.reference()


# ---- 2. confirmation depth ----
def test_events_count_only_after_the_confirmation_depth(env: IndexEnv) -> None:
    ctx = env.context(confirmations=3)
    register(ctx, "CONF-1")
    assert count(env.engine, t.chain_batches) == 0  # mined, but in the last 3 blocks
    env.node.mine(3)
    ctx.sync()
    assert count(env.engine, t.chain_batches) == 1

    event_hash = record(ctx, "CONF-1", "commissioning")
    assert event_hash not in chain_event_hashes(env)
    assert statuses(ctx, "CONF-1") == {event_hash: "pending"}
    env.node.mine(2)
    ctx.sync()
    assert statuses(ctx, "CONF-1") == {event_hash: "pending"}  # 2 blocks on top are not enough
    env.node.mine(1)
    ctx.sync()
    assert chain_event_hashes(env) == [event_hash]
    assert statuses(ctx, "CONF-1") == {event_hash: "verified"}
    assert history_of(ctx, batch_key(GTIN, "CONF-1")).hash_chain.ok is True
    assert chain_state(env.engine) == env.reference(confirmations=3)


def test_hash_chain_is_intact_while_an_event_awaits_confirmation(env: IndexEnv) -> None:
    ctx = env.context(confirmations=3)
    register(ctx, "CONF-2")
    env.node.mine(3)
    record(ctx, "CONF-2", "commissioning")
    env.node.mine(3)
    ctx.sync()
    record(ctx, "CONF-2", "packing")  # pending for 3 more blocks
    data = history_of(ctx, batch_key(GTIN, "CONF-2"))
    assert sorted(e.status for e in data.timeline) == ["pending", "verified"]
    assert data.hash_chain.ok is True


def test_reorg_shallower_than_the_confirmation_depth_never_reaches_the_index(env: IndexEnv) -> None:
    ctx = env.context(confirmations=2)
    register(ctx, "CONF-3")
    env.node.mine(2)
    ctx.sync()
    snapshot = env.node.snapshot()
    dropped = record(ctx, "CONF-3", "commissioning")
    env.node.revert(snapshot)
    ctx = env.context(confirmations=2)
    kept = record(ctx, "CONF-3", "commissioning")
    env.node.mine(2)
    result = ctx.sync()
    assert result.rolled_back_to is None
    assert chain_event_hashes(env) == [kept]
    assert statuses(ctx, "CONF-3") == {dropped: "pending", kept: "verified"}


# ---- 3. reorgs ----
def test_reorg_replacing_blocks_at_the_same_heights(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "REORG-1")
    first = record(ctx, "REORG-1", "commissioning")
    fork = env.node.head()
    snapshot = env.node.snapshot()
    dropped = [record(ctx, "REORG-1", "packing"), record(ctx, "REORG-1", "storing")]
    old_head = env.node.head()
    old_hashes = {n: hx(env.node.w3.eth.get_block(n)["hash"]) for n in range(fork + 1, old_head + 1)}
    assert chain_event_hashes(env) == [first, *dropped]

    env.node.revert(snapshot)
    # Another writer (its own index) records different events at the same heights while ours is not looking.
    scratch = make_engine(f"sqlite:///{env.tmp_path / 'writer.sqlite'}")
    try:
        writer = env.context(engine=scratch)
        replaced = [record(writer, "REORG-1", "holding"), record(writer, "REORG-1", "packing")]
        with scratch.connect() as conn:
            bodies = (
                conn.execute(select(t.epcis_events.c.body).where(t.epcis_events.c.event_hash.in_(replaced)))
                .scalars()
                .all()
            )
    finally:
        scratch.dispose()
    assert env.node.head() == old_head
    assert all(hx(env.node.w3.eth.get_block(n)["hash"]) != h for n, h in old_hashes.items())

    result = ctx.sync()
    assert result.rolled_back_to == fork
    assert (result.from_block, result.to_block, result.logs) == (fork + 1, old_head, 2)
    assert chain_event_hashes(env) == [first, *replaced]
    state = chain_state(env.engine)
    assert state["checkpoint"] == env.node.head()
    assert state == env.reference()
    assert stored_blocks_match_chain(env)

    data = history_of(ctx, batch_key(GTIN, "REORG-1"))
    assert {e.event_hash: e.status for e in data.timeline} == {
        first: "verified",
        dropped[0]: "pending",
        dropped[1]: "pending",
    }  # captured rows stay, unverified
    assert (data.hash_chain.ok, data.hash_chain.events_on_chain) == (True, 3)

    events.insert_events(
        env.engine,
        [(json.loads(b), [batch_key(GTIN, "REORG-1").id_hex]) for b in bodies],
        mode="direct",
        source="cli",
        capturer=PRODUCER.address,
    )
    assert statuses(ctx, "REORG-1") == {
        first: "verified",
        dropped[0]: "pending",
        dropped[1]: "pending",
        replaced[0]: "verified",
        replaced[1]: "verified",
    }


@pytest.mark.parametrize("replacements", [0, 1], ids=["no-new-blocks", "one-new-block"])
def test_reorg_to_a_chain_shorter_than_the_checkpoint(env: IndexEnv, replacements: int) -> None:
    ctx = env.context()
    register(ctx, "REORG-2")
    first = record(ctx, "REORG-2", "commissioning")
    fork = env.node.head()
    snapshot = env.node.snapshot()
    # Dropped blocks that fill every chain table: events, a derived batch (lineage), a shipment, a recall, a root.
    dropped = [record(ctx, "REORG-2", step) for step in ("packing", "storing")]
    batches.derive_batch(ctx, account=PRODUCER, gtin=GTIN, lot="REORG-2B", parents=[(GTIN, "REORG-2")], source="cli")
    batches.record_event(ctx, source="cli", account=PRODUCER, gtin=GTIN, lot="REORG-2B", step="shipping", to="retailer")
    batches.recall_batch(ctx, account=PRODUCER, gtin=GTIN, lot="REORG-2B", reason="test", source="cli")
    anchoring.anchor(ctx, account=PRODUCER)
    old = chain_state(env.engine)
    assert all(old[table.name] for table in t.CHAIN_TABLES)
    assert old["checkpoint"] == env.node.head() >= fork + 6

    env.node.revert(snapshot)
    ctx = env.context()  # fresh senders: the old nonce counter is ahead of the shortened chain
    if replacements:
        kept = [record(ctx, "REORG-2", "holding")]  # its own sync meets the reorg
    else:
        kept = []
        result = ctx.sync()
        assert result.rolled_back_to == fork
        assert (result.from_block, result.to_block, result.logs) == (fork + 1, fork, 0)
    assert env.node.head() == fork + replacements < old["checkpoint"]
    assert chain_event_hashes(env) == [first, *kept]
    state = chain_state(env.engine)
    assert state["checkpoint"] == env.node.head()
    assert state == env.reference()
    assert len(state["chain_batches"]) == 1
    assert not any(state[table] for table in ("chain_lineage", "chain_transfers", "chain_recalls", "chain_roots"))
    assert stored_blocks_match_chain(env)
    assert ctx.sync().rolled_back_to is None  # settled

    data = history_of(ctx, batch_key(GTIN, "REORG-2"))
    assert {e.event_hash: e.status for e in data.timeline if e.type == "ObjectEvent"} == {
        first: "verified",
        **{h: "pending" for h in dropped},
        **{h: "verified" for h in kept},
    }
    assert {e.status for e in data.timeline if e.type == "TransformationEvent"} == {"pending"}
    assert data.hash_chain.ok is True
    assert data.hash_chain.events_on_chain == 1 + replacements
    assert (data.children, data.recalled) == ([], False)
    child = history_of(ctx, batch_key(GTIN, "REORG-2B"))
    assert (child.registered, child.recalled, child.parents) == (False, False, [])


def test_anchor_rerecords_a_direct_event_a_reorg_dropped(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "REORG-3")
    first = record(ctx, "REORG-3", "commissioning")
    snapshot = env.node.snapshot()
    dropped = record(ctx, "REORG-3", "packing")
    env.node.revert(snapshot)
    ctx = env.context()
    ctx.sync()
    assert statuses(ctx, "REORG-3") == {first: "verified", dropped: "pending"}
    assert anchoring.anchor(ctx, account=PRODUCER).direct_events == 1
    assert statuses(ctx, "REORG-3") == {first: "verified", dropped: "verified"}
    assert history_of(ctx, batch_key(GTIN, "REORG-3")).hash_chain.ok is True


def test_anchor_reanchors_a_root_a_reorg_dropped(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "REORG-4")
    path = write_csv(env.tmp_path / "anchored.csv", csv_rows("REORG-4", 3))
    snapshot = env.node.snapshot()
    assert importer.import_file(ctx, account=PRODUCER, path=path).anchored_roots == 1
    assert set(statuses(ctx, "REORG-4").values()) == {"verified"}
    env.node.revert(snapshot)
    ctx = env.context()
    ctx.sync()
    assert set(statuses(ctx, "REORG-4").values()) == {"pending"}
    anchoring.anchor(ctx, account=PRODUCER)  # `trace anchor`: finish anything pending
    assert set(statuses(ctx, "REORG-4").values()) == {"verified"}


def test_import_succeeds_after_a_reorg_dropped_another_batch(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "REORG-5")
    snapshot = env.node.snapshot()
    register(ctx, "REORG-5B")
    record(ctx, "REORG-5B", "commissioning")
    env.node.revert(snapshot)
    ctx = env.context()
    path = write_csv(env.tmp_path / "other.csv", csv_rows("REORG-5", 3))
    report = importer.import_file(ctx, account=PRODUCER, path=path)
    assert (report.new_events, report.anchored_roots) == (3, 1)
    assert set(statuses(ctx, "REORG-5").values()) == {"verified"}


def test_an_import_records_the_channel_its_events_came_through(env: IndexEnv) -> None:
    """Each stored event says how it came in: a file import as ``import:<file>``, never as the CLI or HTTP."""
    ctx = env.context()
    register(ctx, "CHANNEL-1")
    typed = record(ctx, "CHANNEL-1", "commissioning")
    path = write_csv(env.tmp_path / "channel.csv", csv_rows("CHANNEL-1", 3))
    assert importer.import_file(ctx, account=PRODUCER, path=path).new_events == 3
    with env.engine.connect() as conn:
        sources = dict(
            conn.execute(
                select(t.epcis_events.c.event_hash, t.epcis_events.c.source)
                .join(t.event_batches, t.event_batches.c.event_hash == t.epcis_events.c.event_hash)
                .where(t.event_batches.c.batch_id == batch_key(GTIN, "CHANNEL-1").id_hex)
            ).all()
        )
    assert sources.pop(typed) == "cli"
    assert list(sources.values()) == ["import:channel.csv"] * 3


# ---- 4. resume ----
def test_an_event_hash_is_stored_once(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "ONCE-1")
    event_hash = record(ctx, "ONCE-1", "commissioning")
    with env.engine.connect() as conn:
        body = conn.execute(select(t.epcis_events.c.body).where(t.epcis_events.c.event_hash == event_hash)).scalar()
    event = json.loads(body)
    batch_id = batch_key(GTIN, "ONCE-1").id_hex
    before = count(env.engine, t.epcis_events), count(env.engine, t.event_batches)
    again = events.insert_events(
        env.engine,
        [(event, [batch_id]), (event, [batch_id, batch_id])],
        mode="anchor",
        source="again",
        capturer=PRODUCER.address,
    )
    assert again == [event_hash, event_hash]
    assert (count(env.engine, t.epcis_events), count(env.engine, t.event_batches)) == before
    with env.engine.connect() as conn:
        mode, source = conn.execute(
            select(t.epcis_events.c.mode, t.epcis_events.c.source).where(t.epcis_events.c.event_hash == event_hash)
        ).one()
    assert (mode, source) == ("direct", "cli")  # the first capture wins
    assert statuses(ctx, "ONCE-1") == {event_hash: "verified"}


def test_importing_the_same_csv_twice_adds_nothing(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "CSV-1")
    rows = csv_rows("CSV-1", 6)
    rows.append(
        {
            "gtin": GTIN,
            "lot": "CSV-1",
            "step": "shipping",
            "event_time": "2025-03-02T08:00:00Z",
            "location": GLN,
            "to": "retailer",
        }
    )
    path = write_csv(env.tmp_path / "events.csv", rows)

    first = importer.import_file(ctx, account=PRODUCER, path=path)
    assert (first.rows, first.new_events, first.anchored_roots, first.direct_events) == (7, 7, 1, 1)
    tables = (t.epcis_events, t.event_batches, t.anchor_roots)
    counts = [count(env.engine, table) for table in tables]
    state = chain_state(env.engine)
    logs, on_chain = root_anchored_logs(env), event_count_on_chain(ctx, "CSV-1")
    assert set(statuses(ctx, "CSV-1").values()) == {"verified"}

    second = importer.import_file(ctx, account=PRODUCER, path=path)
    assert (second.rows, second.new_events, second.anchored_roots, second.direct_events) == (7, 0, 0, 0)
    assert [count(env.engine, table) for table in tables] == counts
    assert root_anchored_logs(env) == logs
    assert event_count_on_chain(ctx, "CSV-1") == on_chain == 1
    assert {k: v for k, v in chain_state(env.engine).items() if k != "checkpoint"} == {
        k: v for k, v in state.items() if k != "checkpoint"
    }


class Interrupted(Exception):
    pass


def test_an_interrupted_import_resumes_without_duplicates(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "CSV-2")
    path = write_csv(env.tmp_path / "big.csv", csv_rows("CSV-2", 600))
    logs = root_anchored_logs(env)

    def stop_at(number: int) -> None:
        raise Interrupted(number)

    # Roots of 100 leaves: rows 2-101 and 102-201 are stored and their roots sent when progress(256) stops us.
    with pytest.raises(Interrupted):
        importer.import_file(ctx, account=PRODUCER, path=path, batch_size=100, progress=stop_at)
    assert count(env.engine, t.epcis_events) == 200
    assert count(env.engine, t.anchor_roots) == 2

    resumed = importer.import_file(ctx, account=PRODUCER, path=path, batch_size=100)
    assert (resumed.rows, resumed.new_events, resumed.anchored_roots) == (600, 400, 4)
    assert count(env.engine, t.epcis_events) == 600
    assert root_anchored_logs(env) == logs + 6
    with env.engine.connect() as conn:
        assert set(conn.execute(select(t.anchor_roots.c.status)).scalars()) == {"anchored"}
        roots = conn.execute(select(t.epcis_events.c.root)).scalars().all()
    assert None not in roots and len(set(roots)) == 6
    assert count(env.engine, t.chain_roots) == 6
    assert set(statuses(ctx, "CSV-2").values()) == {"verified"}


def test_anchor_does_not_rerecord_an_event_awaiting_confirmation(env: IndexEnv) -> None:
    ctx = env.context(confirmations=3)
    register(ctx, "ONCE-2")
    env.node.mine(3)
    ctx.sync()
    event_hash = record(ctx, "ONCE-2", "commissioning")
    assert event_count_on_chain(ctx, "ONCE-2") == 1
    anchoring.anchor(ctx, account=PRODUCER)  # `trace anchor`: finish anything pending
    env.node.mine(3)
    ctx.sync()
    assert event_count_on_chain(ctx, "ONCE-2") == 1
    assert chain_event_hashes(env) == [event_hash]


# ---- 5. bad input writes nothing ----
def test_one_bad_row_among_2000_writes_nothing(env: IndexEnv) -> None:
    ctx = env.context()
    register(ctx, "BAD-1")
    rows = csv_rows("BAD-1", 2000)
    bad_index = 1234
    rows[bad_index]["gtin"] = BAD_GTIN
    bad_line = bad_index + 2  # the header is line 1
    path = write_csv(env.tmp_path / "bad.csv", rows)
    before = {table.name: count(env.engine, table) for table in (t.epcis_events, t.event_batches, t.anchor_roots)}
    head, logs = env.node.head(), root_anchored_logs(env)

    with pytest.raises(ValidationError) as caught:
        importer.import_file(ctx, account=PRODUCER, path=path)
    message = str(caught.value)
    assert "1 invalid row(s), nothing imported" in message
    assert f"row {bad_line}: GTIN {BAD_GTIN}: invalid check digit" in message
    assert message.count("row ") == 1  # only the bad row is named

    assert {
        table.name: count(env.engine, table) for table in (t.epcis_events, t.event_batches, t.anchor_roots)
    } == before
    assert env.node.head() == head
    assert root_anchored_logs(env) == logs
    assert count(env.engine, t.chain_roots) == 0
