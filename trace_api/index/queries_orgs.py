"""The ``organisations`` table: each account's organisation profile (canonical JSON), its hash and how far its
``setOrganisation`` transaction got."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, select, update

from trace_api.index import schema as t
from trace_api.index.store import insert_ignore

__all__ = ["org_row", "org_rows", "replace_profile", "set_status"]


def replace_profile(conn: Connection, row: dict[str, Any]) -> None:
    """Write an account's profile row (keyed by ``account``, lower case), replacing the one it had."""
    conn.execute(delete(t.organisations).where(t.organisations.c.account == row["account"]))
    insert_ignore(conn, t.organisations, [row])


def set_status(
    conn: Connection, account: str, status: str, *, tx_hash: str | None = None, updated_at: dt.datetime | None = None
) -> None:
    """Set the status of ``account``'s profile (and its transaction or update time, when given)."""
    values: dict[str, Any] = {"status": status}
    if tx_hash is not None:
        values["tx_hash"] = tx_hash
    if updated_at is not None:
        values["updated_at"] = updated_at
    conn.execute(update(t.organisations).where(t.organisations.c.account == account).values(**values))


def org_row(conn: Connection, account: str) -> RowMapping | None:
    """The profile row of ``account`` (lower case), or None."""
    return conn.execute(select(t.organisations).where(t.organisations.c.account == account)).mappings().first()


def org_rows(conn: Connection, accounts: list[str] | None = None) -> Sequence[RowMapping]:
    """The profile rows of these accounts (lower case), or of every account, by account."""
    query = select(t.organisations).order_by(t.organisations.c.account)
    if accounts is not None:
        query = query.where(t.organisations.c.account.in_(accounts))
    return conn.execute(query).mappings().all()
