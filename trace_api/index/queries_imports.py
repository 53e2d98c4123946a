"""Reads an import runs: which batches an event's items and SSCCs belong to (from earlier events), and which of
its events and batches the index already holds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, select

from trace_api.index import schema as t
from trace_api.index.queries import AnyRow

__all__ = ["captured_by", "item_candidates", "recorded_among", "registered_among", "sscc_candidates", "stored_among"]

CANDIDATES = 1000  # events read per item or SSCC; the caller keeps those that really name it


def _candidates() -> Select[tuple[str, str, str]]:
    e, b, k = t.epcis_events, t.event_batches, t.batch_keys
    return select(k.c.gtin, k.c.lot, e.c.body).select_from(
        b.join(e, e.c.event_hash == b.c.event_hash).join(k, k.c.batch_id == b.c.batch_id)
    )


def item_candidates(conn: Connection, gtin: str, serial: str) -> Sequence[AnyRow]:
    """(gtin, lot, body) of events about batches of ``gtin`` whose body holds ``serial``: its commissioning, as a
    rule."""
    e, k = t.epcis_events, t.batch_keys
    return conn.execute(_candidates().where(k.c.gtin == gtin, e.c.body.contains(serial)).limit(CANDIDATES)).all()


def sscc_candidates(conn: Connection, digits: str) -> Sequence[AnyRow]:
    """(gtin, lot, body) of aggregations whose body holds ``digits`` (of an SSCC), with the batches they name."""
    e = t.epcis_events
    query = _candidates().where(e.c.event_type == "AggregationEvent", e.c.body.contains(digits))
    return conn.execute(query.limit(CANDIDATES)).all()


def stored_among(conn: Connection, hashes: list[str]) -> set[str]:
    """Which of these events the index holds (whoever captured them)."""
    e = t.epcis_events
    return set(conn.execute(select(e.c.event_hash).where(e.c.event_hash.in_(hashes))).scalars())


def captured_by(conn: Connection, event_hash: str, account: str) -> bool:
    """Whether ``account`` captured this event."""
    e = t.epcis_events
    query = select(e.c.event_hash).where(e.c.event_hash == event_hash, e.c.capturer == account.lower())
    return conn.execute(query).first() is not None


def registered_among(conn: Connection, batch_ids: list[str]) -> set[str]:
    """Which of these batches are registered on chain (as indexed)."""
    b = t.chain_batches
    return set(conn.execute(select(b.c.batch_id).where(b.c.batch_id.in_(batch_ids))).scalars())


def recorded_among(conn: Connection, hashes: list[str]) -> set[str]:
    """Which of these events the chain recorded as lifecycle steps (as indexed)."""
    c = t.chain_events
    return set(conn.execute(select(c.c.event_hash).where(c.c.event_hash.in_(hashes))).scalars())
