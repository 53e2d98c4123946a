"""The ``scans`` table: one row per scan of a unit (batch id, serial) and the place it came from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select

from trace_api.index import schema as t

__all__ = ["add_scans", "scan_counts"]


def add_scans(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write scans (batch_id, serial, place, scanned_at) in one statement."""
    conn.execute(insert(t.scans), rows)


def scan_counts(conn: Connection, batch_id: str, serial: str, *, at_most: int) -> tuple[int, int, list[str]]:
    """A unit's scans: how many, from how many distinct places, and up to ``at_most`` of those places."""
    s = t.scans
    mine = (s.c.batch_id == batch_id) & (s.c.serial == serial)
    count, distinct = conn.execute(select(func.count(), func.count(func.distinct(s.c.place))).where(mine)).one()
    seen = conn.execute(select(s.c.place).where(mine).distinct().limit(at_most)).scalars().all()
    return int(count), int(distinct), list(seen)
