"""The escrow's rows in the index: batch labels for trades, and the trade-file write-ahead (a row per file, pending
until its transaction's hash is recorded)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from trace_api.index import schema as t

__all__ = ["add_pending_file", "batch_label", "complete_file", "drop_file", "trade_file_rows"]


def batch_label(engine: Engine, batch_id: str) -> tuple[str, str] | None:
    """(GTIN, lot) of a batch id (0x hex) the index knows; None for another."""
    with engine.connect() as conn:
        row = conn.execute(
            select(t.batch_keys.c.gtin, t.batch_keys.c.lot).where(t.batch_keys.c.batch_id == batch_id)
        ).first()
    return (row.gtin, row.lot) if row else None


def add_pending_file(
    engine: Engine, *, escrow: str, trade_id: int, sha256: str, kind: str, name: str, sender: str
) -> int:
    """A trade file written ahead of its transaction: its row id, with an empty ``tx_hash`` until completed."""
    with engine.begin() as conn:
        row_id = conn.execute(
            insert(t.trade_files).values(
                escrow=escrow.lower(),
                trade_id=trade_id,
                sha256=sha256,
                kind=kind,
                name=name,
                sender=sender.lower(),
                tx_hash="",
                created_at=dt.datetime.now(dt.UTC),
            )
        ).inserted_primary_key
    assert row_id is not None
    return int(row_id[0])


def complete_file(engine: Engine, row_id: int, tx_hash: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(t.trade_files).where(t.trade_files.c.id == row_id).values(tx_hash=tx_hash))


def drop_file(engine: Engine, row_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(t.trade_files).where(t.trade_files.c.id == row_id))


def trade_file_rows(engine: Engine, *, escrow: str, trade_id: int) -> list[dict[str, Any]]:
    """The trade's file rows, oldest first."""
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(t.trade_files)
                .where(t.trade_files.c.escrow == escrow.lower(), t.trade_files.c.trade_id == trade_id)
                .order_by(t.trade_files.c.id)
            ).mappings()
        ]
