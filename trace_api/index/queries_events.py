"""Captured events as the services store and settle them: writing them, forgetting those the chain refused, the
lifecycle events still to be recorded on chain, and the events written ahead of a derive or recall."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from trace_api.index import schema as t
from trace_api.index.queries import AnyRow
from trace_api.index.store import insert_ignore

__all__ = [
    "anchorers_of",
    "awaiting_rows",
    "delete_events",
    "delete_roots",
    "derived_by",
    "insert_captured",
    "of_source",
    "recalled_by",
    "release",
    "unsent_direct",
]


def insert_captured(conn: Connection, rows: list[dict[str, Any]], links: list[dict[str, Any]]) -> None:
    """Store events (one row each) and their links to batches; what the index already holds is left as it is."""
    insert_ignore(conn, t.epcis_events, rows)
    insert_ignore(conn, t.event_batches, links)


def delete_events(conn: Connection, hashes: list[str]) -> None:
    conn.execute(delete(t.event_batches).where(t.event_batches.c.event_hash.in_(hashes)))
    conn.execute(delete(t.epcis_events).where(t.epcis_events.c.event_hash.in_(hashes)))


def of_source(conn: Connection, source: str) -> Sequence[AnyRow]:
    """(event_hash, mode, root) of the events captured through ``source`` (one capture's name)."""
    e = t.epcis_events
    return conn.execute(select(e.c.event_hash, e.c.mode, e.c.root).where(e.c.source == source)).all()


def anchorers_of(conn: Connection, roots: set[str]) -> dict[str, str]:
    """The account that built each of these roots (and is to anchor it)."""
    if not roots:
        return {}
    a = t.anchor_roots
    return {r.root: r.anchorer for r in conn.execute(select(a.c.root, a.c.anchorer).where(a.c.root.in_(roots)))}


def delete_roots(conn: Connection, roots: list[str]) -> None:
    conn.execute(delete(t.anchor_roots).where(t.anchor_roots.c.root.in_(roots)))


def unsent_direct(conn: Connection, capturer: str) -> Sequence[AnyRow]:
    """(event_hash, body, batch_id) of the lifecycle events ``capturer`` (lower case) captured that the chain has not
    recorded, whose batch it has registered and that wait on nothing, in capture order."""
    e, b = t.epcis_events, t.event_batches
    query = (
        select(e.c.event_hash, e.c.body, b.c.batch_id)
        .join(b, b.c.event_hash == e.c.event_hash)
        .where(
            e.c.mode == "direct",
            e.c.event_hash.not_in(select(t.chain_events.c.event_hash)),
            e.c.capturer == capturer,
            e.c.awaits.is_(None),
            b.c.batch_id.in_(select(t.chain_batches.c.batch_id)),
        )
        .order_by(e.c.created_seq)
    )
    return conn.execute(query).all()


def awaiting_rows(conn: Connection) -> Sequence[AnyRow]:
    """(event_hash, awaits, capturer) of every event written ahead of a transaction's effect."""
    e = t.epcis_events
    return conn.execute(select(e.c.event_hash, e.c.awaits, e.c.capturer).where(e.c.awaits.is_not(None))).all()


def derived_by(conn: Connection) -> set[tuple[str, str]]:
    """(batch id, producer) of every batch registered or derived on chain."""
    b = t.chain_batches
    return {(r.batch_id, r.producer) for r in conn.execute(select(b.c.batch_id, b.c.producer))}


def recalled_by(conn: Connection) -> set[tuple[str, str]]:
    """(batch id, account) of every recall on chain."""
    r = t.chain_recalls
    return {(row.batch_id, row.actor) for row in conn.execute(select(r.c.batch_id, r.c.actor))}


def release(conn: Connection, hashes: list[str]) -> None:
    """These written-ahead events no longer wait: their transaction's effect is indexed."""
    e = t.epcis_events
    conn.execute(update(e).where(e.c.event_hash.in_(hashes)).values(awaits=None))
