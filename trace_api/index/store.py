"""Engine creation and schema set-up for the index."""

from __future__ import annotations

import functools
from pathlib import Path

from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import make_url

from trace_api.config import Settings
from trace_api.index.schema import metadata


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the API) never block the importer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to a table after an index was made (capturer, awaits, anchorer, owners): added in place,
    nullable or with their default, so an existing TRACE_HOME keeps working."""
    from sqlalchemy import inspect, text

    inspector = inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                default = column.default.arg if column.default is not None else None
                clause = f" NOT NULL DEFAULT '{default}'" if isinstance(default, str) else ""
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{clause}'))


@functools.cache
def _cached_engine(url: str) -> Engine:
    return make_engine(url)


def get_engine(settings: Settings) -> Engine:
    """One engine per database URL and process."""
    return _cached_engine(settings.effective_database_url)


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping those whose primary key exists (SQLite and PostgreSQL)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).on_conflict_do_nothing(), rows)
    else:
        conn.execute(insert(table).prefix_with("OR IGNORE"), rows)


def lock(conn: Connection, name: str) -> None:
    """Serialise writers across processes for the rest of this transaction: write a row of ``checkpoints`` first,
    which takes SQLite's write lock, and a row lock on PostgreSQL, until the transaction ends."""
    from sqlalchemy import update

    from trace_api.index.schema import checkpoints

    bump = update(checkpoints).where(checkpoints.c.name == name).values(block_number=checkpoints.c.block_number)
    if not conn.execute(bump).rowcount:
        insert_ignore(conn, checkpoints, [{"name": name, "block_number": 0}])
        conn.execute(bump)
