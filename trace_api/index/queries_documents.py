"""The ``documents`` table: what is stored of each document attached to an event (its content lives on disk)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, select, update

from trace_api.index import schema as t
from trace_api.index.store import insert_ignore

__all__ = ["add_owner", "add_recipients", "document", "drop", "insert"]


def document(conn: Connection, sha256: str) -> RowMapping | None:
    return conn.execute(select(t.documents).where(t.documents.c.sha256 == sha256)).mappings().first()


def add_recipients(conn: Connection, sha256: str, recipients: list[str]) -> None:
    conn.execute(update(t.documents).where(t.documents.c.sha256 == sha256).values(recipients=json.dumps(recipients)))


def insert(conn: Connection, row: dict[str, Any]) -> None:
    """Insert a document's row unless one with its hash exists."""
    insert_ignore(conn, t.documents, [row])


def add_owner(conn: Connection, sha256: str, owner: str) -> None:
    """Record that ``owner`` attached the document too (whoever attached the same content first)."""
    owners = json.loads(
        conn.execute(select(t.documents.c.owners).where(t.documents.c.sha256 == sha256)).scalar() or "[]"
    )
    if owner not in owners:
        conn.execute(
            update(t.documents).where(t.documents.c.sha256 == sha256).values(owners=json.dumps([*owners, owner]))
        )


def drop(conn: Connection, sha256: str) -> None:
    conn.execute(delete(t.documents).where(t.documents.c.sha256 == sha256))
