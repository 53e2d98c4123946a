"""Merkle roots over captured events: the ``anchor_roots`` this index built, each event's place under one, and
which roots the chain already holds (``chain_roots``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, Select, bindparam, select, update

from trace_api.index import schema as t
from trace_api.index.queries import AnyRow
from trace_api.index.store import insert_ignore

__all__ = ["add_root", "mark_anchored", "place_under", "set_root", "unanchored", "unrooted", "unrooted_among"]


def place_under(conn: Connection, root: str, proofs: dict[str, str]) -> None:
    """Put events under ``root``: each event hash with its proof (a JSON list of hex hashes)."""
    conn.execute(
        update(t.epcis_events)
        .where(t.epcis_events.c.event_hash == bindparam("h"))
        .values(root=root, proof=bindparam("p")),
        [{"h": h, "p": p} for h, p in proofs.items()],
    )


def add_root(conn: Connection, *, root: str, count: int, meta_hash: str, anchorer: str) -> None:
    """Store a root just built (status built), unless it is stored already."""
    row = {
        "root": root,
        "count": count,
        "meta_hash": meta_hash,
        "tx_hash": None,
        "status": "built",
        "anchorer": anchorer,
    }
    insert_ignore(conn, t.anchor_roots, [row])


def _waiting(capturer: str) -> list[ColumnElement[bool]]:
    """Conditions of an event ``capturer`` captured to be anchored, released, and under no root yet."""
    e = t.epcis_events
    return [e.c.mode == "anchor", e.c.root.is_(None), e.c.capturer == capturer, e.c.awaits.is_(None)]


def unrooted(conn: Connection, capturer: str, limit: int) -> list[str]:
    """Up to ``limit`` events waiting for a root that ``capturer`` (lower case) captured, in capture order."""
    e = t.epcis_events
    query = select(e.c.event_hash).where(*_waiting(capturer)).order_by(e.c.created_seq, e.c.event_hash).limit(limit)
    return list(conn.execute(query).scalars())


def unrooted_among(conn: Connection, hashes: list[str], capturer: str) -> list[str]:
    """Which of these events wait for a root and were captured by ``capturer`` (lower case), by hash."""
    e = t.epcis_events
    query = select(e.c.event_hash).where(e.c.event_hash.in_(hashes), *_waiting(capturer)).order_by(e.c.event_hash)
    return list(conn.execute(query).scalars())


def _anchored_by(anchorer: str) -> Select[tuple[str]]:
    # Roots are anchored per anchorer: only this account's anchoring of a root counts as ours, so a copy of it
    # anchored first by someone else neither stops nor replaces ours.
    return select(t.chain_roots.c.root).where(t.chain_roots.c.anchorer == anchorer)


def mark_anchored(conn: Connection, anchorer: str) -> None:
    """Mark anchored the roots of ``anchorer`` (lower case) that the chain holds as theirs."""
    # Not "status != anchored": a reorg can drop an anchored root; the index says what the chain has.
    r = t.anchor_roots
    conn.execute(
        update(r)
        .where(r.c.root.in_(_anchored_by(anchorer)), r.c.anchorer == anchorer, r.c.status != "anchored")
        .values(status="anchored")
    )


def unanchored(conn: Connection, anchorer: str) -> Sequence[AnyRow]:
    """(root, count, meta_hash) of the roots ``anchorer`` (lower case) built that the chain does not hold as theirs."""
    r = t.anchor_roots
    query = select(r.c.root, r.c.count, r.c.meta_hash).where(
        r.c.root.not_in(_anchored_by(anchorer)), r.c.anchorer == anchorer
    )
    return conn.execute(query).all()


def set_root(conn: Connection, root: str, status: str, tx_hash: str | None = None) -> None:
    """Set a root's status (and the transaction that sent it, when given)."""
    values = {"status": status, "tx_hash": tx_hash} if tx_hash else {"status": status}
    conn.execute(update(t.anchor_roots).where(t.anchor_roots.c.root == root).values(**values))
