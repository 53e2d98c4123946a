"""The ``api_keys`` table: keys stored as their SHA-256 hashes, each named by the first digits of its hash."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, insert, select, update

from trace_api.index import schema as t

__all__ = ["add_key", "key_row", "key_rows", "revoke", "touch"]


def add_key(
    conn: Connection,
    *,
    key_hash: str,
    organisation: str,
    account: str,
    created_at: dt.datetime,
    expires_at: dt.datetime | None,
) -> None:
    conn.execute(
        insert(t.api_keys).values(
            key_hash=key_hash,
            organisation=organisation,
            account=account,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def key_rows(conn: Connection, organisation: str | None = None) -> Sequence[RowMapping]:
    """Every key (of ``organisation``, when given), by organisation and age."""
    query = select(t.api_keys).order_by(t.api_keys.c.organisation, t.api_keys.c.created_at)
    if organisation is not None:
        query = query.where(t.api_keys.c.organisation == organisation)
    return conn.execute(query).mappings().all()


def key_row(conn: Connection, key_hash: str) -> RowMapping | None:
    return conn.execute(select(t.api_keys).where(t.api_keys.c.key_hash == key_hash)).mappings().first()


def revoke(conn: Connection, key_id: str, at: dt.datetime) -> None:
    """Revoke the key named ``key_id`` (the first digits of its hash) unless it is revoked already."""
    conn.execute(
        update(t.api_keys)
        .where(t.api_keys.c.key_hash.like(f"0x{key_id}%"))
        .where(t.api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def touch(conn: Connection, key_hash: str, at: dt.datetime) -> None:
    """Note that the key was used ``at``."""
    conn.execute(update(t.api_keys).where(t.api_keys.c.key_hash == key_hash).values(last_used_at=at))
