"""Reads and writes of the EPCIS interface's own tables: the simple event query of ``GET /events``, the named
queries of the REST bindings (``/queries``) and the bookkeeping of ``POST /capture``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from trace_api.index import schema as t
from trace_api.index.queries import AnyRow, of_batch, released_events

__all__ = [
    "add_named_query",
    "candidate_events",
    "capture",
    "delete_named_query",
    "event_page",
    "insert_capture",
    "named_queries",
    "named_query",
    "set_capture",
    "unfinished_captures",
]


def event_page(
    conn: Connection,
    *,
    batch_id: str | None = None,
    biz_step: str | None = None,
    since: dt.datetime | None = None,
    before: dt.datetime | None = None,
    limit: int,
    offset: int,
) -> Sequence[AnyRow]:
    """(body, event_hash) of the captured events matching every given filter, by event time then hash; at most
    ``limit`` from ``offset``."""
    query = released_events(t.epcis_events.c.body, t.epcis_events.c.event_hash)
    if batch_id is not None:
        query = of_batch(query, batch_id)
    if biz_step is not None:
        query = query.where(t.epcis_events.c.biz_step == biz_step)
    if since is not None:
        query = query.where(t.epcis_events.c.event_time >= since)
    if before is not None:
        query = query.where(t.epcis_events.c.event_time < before)
    query = query.order_by(t.epcis_events.c.event_time, t.epcis_events.c.event_hash).limit(limit).offset(offset)
    return conn.execute(query).all()


def candidate_events(
    conn: Connection,
    *,
    types: list[str],
    hashes: list[str],
    texts: list[str],
    biz_steps: list[str],
    since: dt.datetime | None,
    before: dt.datetime | None,
    limit: int,
) -> Iterator[AnyRow]:
    """(body, event_hash) of the captured events an EPCIS query may match (those released from their
    transaction), by event time then hash, at most
    ``limit``: of one of ``types`` and ``biz_steps`` (when given), with one of ``hashes`` or a body holding one of
    ``texts`` (JSON strings; when either is given), in the time range. The caller checks the rest on each body."""
    query = released_events(t.epcis_events.c.body, t.epcis_events.c.event_hash)
    if types:
        query = query.where(t.epcis_events.c.event_type.in_(types))
    if hashes or texts:
        query = query.where(
            or_(t.epcis_events.c.event_hash.in_(hashes), *(t.epcis_events.c.body.contains(x) for x in texts))
        )
    if biz_steps:
        query = query.where(t.epcis_events.c.biz_step.in_(biz_steps))
    if since is not None:
        query = query.where(t.epcis_events.c.event_time >= since)
    if before is not None:
        query = query.where(t.epcis_events.c.event_time < before)
    query = query.order_by(t.epcis_events.c.event_time, t.epcis_events.c.event_hash).limit(limit)
    yield from conn.execute(query)


def named_query(conn: Connection, name: str) -> str | None:
    """The stored parameters (JSON text) of a named query, or None."""
    found = conn.execute(select(t.epcis_queries.c.query).where(t.epcis_queries.c.name == name)).scalar()
    return str(found) if found is not None else None


def named_queries(conn: Connection) -> list[tuple[str, str]]:
    """(name, parameters as JSON text) of every named query, by name."""
    rows = conn.execute(select(t.epcis_queries.c.name, t.epcis_queries.c.query).order_by(t.epcis_queries.c.name))
    return [(r.name, r.query) for r in rows]


def add_named_query(conn: Connection, *, name: str, query: str, organisation: str) -> None:
    conn.execute(
        insert(t.epcis_queries).values(
            name=name, query=query, organisation=organisation, created_at=dt.datetime.now(dt.UTC)
        )
    )


def delete_named_query(conn: Connection, name: str) -> int:
    """Delete a named query; how many rows went (0 or 1)."""
    return conn.execute(delete(t.epcis_queries).where(t.epcis_queries.c.name == name)).rowcount


def capture(conn: Connection, capture_id: str) -> AnyRow | None:
    return conn.execute(select(t.captures).where(t.captures.c.capture_id == capture_id)).first()


def insert_capture(conn: Connection, **values: Any) -> None:
    conn.execute(insert(t.captures).values(**values))


def set_capture(conn: Connection, capture_id: str, **values: Any) -> None:
    conn.execute(update(t.captures).where(t.captures.c.capture_id == capture_id).values(**values))


def unfinished_captures(conn: Connection, account: str, unfinished: Sequence[str]) -> Sequence[AnyRow]:
    """(capture_id, document) of ``account``'s captures still in one of the ``unfinished`` states, oldest first."""
    return conn.execute(
        select(t.captures.c.capture_id, t.captures.c.document)
        .where(
            t.captures.c.status.in_(unfinished),
            t.captures.c.account == account,
            t.captures.c.document.is_not(None),
        )
        .order_by(t.captures.c.created_at)
    ).all()
