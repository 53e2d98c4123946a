"""Reads of the index that services share: a batch, its events (the one "events of a batch" join), its on-chain
record, its lineage and its parties. Services call these; nothing above `trace_api/index/` builds SQL.

Each function takes an open ``Connection``, so a service reads everything one answer needs in one snapshot.
Events written ahead of their transaction (``awaits`` set) are not part of any story until recovery releases them:
every read of captured events here leaves them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import Connection, Row, Select, select, union

from trace_api.index import schema as t

AnyRow: TypeAlias = Row[*tuple[Any, ...]]  # a row of any columns

__all__ = [
    "AnyRow",
    "batch_event_bodies",
    "batch_events",
    "batch_metadata",
    "batch_row",
    "chain_events",
    "checkpoint_block",
    "chain_events_by_hash",
    "commissioning_events",
    "event_rows",
    "is_known",
    "keys_of",
    "lineage_step",
    "parties",
    "recall_of",
    "recalled_among",
    "registered_lots",
    "registrant",
    "released_events",
    "roots",
    "roots_sent",
]


def released_events(*columns: Any) -> Select[Any]:
    """Captured events (all columns, or ``columns``) that are part of the story: not awaiting their transaction."""
    return select(*(columns or (t.epcis_events,))).where(t.epcis_events.c.awaits.is_(None))


def of_batch(query: Select[Any], batch_id: str) -> Select[Any]:
    """``query`` over ``epcis_events`` narrowed to the events of one batch (any of its keys)."""
    return query.join(t.event_batches, t.event_batches.c.event_hash == t.epcis_events.c.event_hash).where(
        t.event_batches.c.batch_id == batch_id
    )


def _batch_ordered(query: Select[Any], batch_id: str) -> Select[Any]:
    return of_batch(query, batch_id).order_by(t.event_batches.c.event_time, t.epcis_events.c.created_seq)


def batch_events(conn: Connection, batch_id: str) -> Sequence[AnyRow]:
    """The captured events of a batch (whole rows), in event-time order."""
    return conn.execute(_batch_ordered(released_events(), batch_id)).all()


def batch_event_bodies(conn: Connection, batch_id: str) -> list[str]:
    """The stored JSON bodies of a batch's captured events, in event-time order."""
    return list(conn.execute(_batch_ordered(released_events(t.epcis_events.c.body), batch_id)).scalars())


def commissioning_events(conn: Connection, batch_id: str, uri: str) -> Sequence[AnyRow]:
    """(event_hash, body) of the batch's commissioning events whose body names ``uri`` (a JSON string)."""
    query = of_batch(select(t.epcis_events.c.event_hash, t.epcis_events.c.body), batch_id).where(
        t.epcis_events.c.biz_step == "commissioning", t.epcis_events.c.body.contains(uri)
    )
    return conn.execute(query).all()


def event_rows(conn: Connection, hashes: list[str]) -> dict[str, AnyRow]:
    """Captured events by hash."""
    rows = conn.execute(select(t.epcis_events).where(t.epcis_events.c.event_hash.in_(hashes)))
    return {r.event_hash: r for r in rows}


def batch_row(conn: Connection, batch_id: str) -> AnyRow | None:
    """The batch as registered on chain (indexed), or None."""
    return conn.execute(select(t.chain_batches).where(t.chain_batches.c.batch_id == batch_id)).first()


def registrant(conn: Connection, batch_id: str) -> str | None:
    """The account that registered a batch on chain (lower case), or None."""
    found = conn.execute(select(t.chain_batches.c.producer).where(t.chain_batches.c.batch_id == batch_id)).scalar()
    return str(found) if found is not None else None


def batch_metadata(conn: Connection, batch_id: str) -> str | None:
    """A batch's metadata as stored (JSON text), or None when this index never registered its key."""
    found = conn.execute(select(t.batch_keys.c.metadata).where(t.batch_keys.c.batch_id == batch_id)).scalar()
    return str(found) if found is not None else None


def is_known(conn: Connection, batch_id: str) -> bool:
    """Registered on chain (as indexed), or registered through this index and not yet confirmed."""
    return any(
        conn.execute(select(table.c.batch_id).where(table.c.batch_id == batch_id)).first()
        for table in (t.chain_batches, t.batch_keys)
    )


def chain_events(conn: Connection, batch_id: str) -> Sequence[AnyRow]:
    """A batch's steps recorded on chain, in order."""
    return conn.execute(
        select(t.chain_events).where(t.chain_events.c.batch_id == batch_id).order_by(t.chain_events.c.seq)
    ).all()


def chain_events_by_hash(conn: Connection, event_hash: str) -> dict[str, AnyRow]:
    """The on-chain record of one event hash (keyed by it; empty when it is not on chain)."""
    rows = conn.execute(select(t.chain_events).where(t.chain_events.c.event_hash == event_hash))
    return {r.event_hash: r for r in rows}


def roots(conn: Connection, root_ids: list[str]) -> Sequence[AnyRow]:
    """Every on-chain anchoring of these Merkle roots, earliest first (anyone may anchor a copy of a root)."""
    return conn.execute(
        select(t.chain_roots).where(t.chain_roots.c.root.in_(root_ids)).order_by(t.chain_roots.c.block_number)
    ).all()


def roots_sent(conn: Connection, root_ids: list[str]) -> dict[str, str | None]:
    """The ``anchor_roots`` transaction this index sent for each of these roots (None while unsent)."""
    if not root_ids:
        return {}
    query = select(t.anchor_roots.c.root, t.anchor_roots.c.tx_hash).where(t.anchor_roots.c.root.in_(root_ids))
    return {root: tx_hash for root, tx_hash in conn.execute(query).all()}


def recall_of(conn: Connection, batch_id: str) -> AnyRow | None:
    return conn.execute(select(t.chain_recalls).where(t.chain_recalls.c.batch_id == batch_id)).first()


def recalled_among(conn: Connection, batch_ids: list[str]) -> list[str]:
    """Which of these batches are recalled on chain (as indexed)."""
    query = select(t.chain_recalls.c.batch_id).where(t.chain_recalls.c.batch_id.in_(batch_ids))
    return [str(b) for b in conn.execute(query).scalars()]


def lineage_step(conn: Connection, batch_ids: list[str], *, upstream: bool) -> list[str]:
    """The direct parents (``upstream``) or children of these batches."""
    mine, other = (t.chain_lineage.c.child_id, t.chain_lineage.c.parent_id)
    if not upstream:
        mine, other = other, mine
    return [str(b) for b in conn.execute(select(other).where(mine.in_(batch_ids))).scalars()]


def keys_of(conn: Connection, batch_ids: list[str]) -> dict[str, tuple[str, str]]:
    """(gtin, lot) of each batch this index knows the key of."""
    if not batch_ids:
        return {}
    rows = conn.execute(select(t.batch_keys).where(t.batch_keys.c.batch_id.in_(batch_ids))).all()
    return {r.batch_id: (r.gtin, r.lot) for r in rows}


def registered_lots(conn: Connection, gtin: str) -> Sequence[AnyRow]:
    """(lot, metadata JSON) of each lot of ``gtin`` registered on chain (as indexed), by lot."""
    return conn.execute(
        select(t.batch_keys.c.lot, t.batch_keys.c.metadata)
        .join(t.chain_batches, t.chain_batches.c.batch_id == t.batch_keys.c.batch_id)
        .where(t.batch_keys.c.gtin == gtin)
        .order_by(t.batch_keys.c.lot)
    ).all()


def parties(conn: Connection, batch_id: str) -> set[str]:
    """The accounts the index knows as parties of a batch: its producer, the recorders of its steps, and every
    account custody was handed to (lower case)."""
    query = union(
        select(t.chain_batches.c.producer).where(t.chain_batches.c.batch_id == batch_id),
        select(t.chain_events.c.actor).where(t.chain_events.c.batch_id == batch_id),
        select(t.chain_transfers.c.to_account).where(t.chain_transfers.c.batch_id == batch_id),
    )
    return {str(a).lower() for a in conn.execute(query).scalars()}


def checkpoint_block(conn: Connection, name: str) -> tuple[int | None, str | None]:
    """(block number, block hash) the checkpoint ``name`` has reached; (None, None) before the first sync, and
    a None hash when the block row is gone."""
    row = conn.execute(
        select(t.checkpoints.c.block_number, t.blocks.c.hash)
        .select_from(t.checkpoints.outerjoin(t.blocks, t.blocks.c.number == t.checkpoints.c.block_number))
        .where(t.checkpoints.c.name == name)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)
