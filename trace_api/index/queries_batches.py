"""Writes ahead of a batch's transactions: the key and metadata of a batch about to be registered, and the events a
transaction's earlier attempt left waiting."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from trace_api.index import schema as t

__all__ = ["awaiting", "replace_key"]


def replace_key(conn: Connection, *, batch_id: str, gtin: str, lot: str, metadata: str) -> None:
    """Write a batch's key and metadata (canonical JSON), replacing what the batch had."""
    conn.execute(delete(t.batch_keys).where(t.batch_keys.c.batch_id == batch_id))
    conn.execute(insert(t.batch_keys).values(batch_id=batch_id, gtin=gtin, lot=lot, metadata=metadata))


def awaiting(conn: Connection, awaits: str, capturer: str) -> list[str]:
    """The events ``capturer`` (lower case) wrote ahead that wait on ``awaits`` (a transaction's effect)."""
    e = t.epcis_events
    return list(conn.execute(select(e.c.event_hash).where(e.c.awaits == awaits, e.c.capturer == capturer)).scalars())
