"""Engine creation and schema set-up for the index."""

from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, delete, event, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn

from trace_api.config import Settings
from trace_api.index.schema import metadata, schema_state

SCHEMA_ATTEMPTS = 5  # processes started together on a database that needs bringing up


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
    for attempt in range(SCHEMA_ATTEMPTS):
        if _stored_fingerprint(engine) == _fingerprint():
            break
        try:
            _bring_up(engine)
            break
        except DBAPIError:  # another process was bringing the same database up ("table already exists")
            if attempt == SCHEMA_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return engine


def _bring_up(engine: Engine) -> None:
    """Create missing tables, add new columns and indexes, and record the schema as current."""
    metadata.create_all(engine)
    _add_new_columns(engine)
    _add_new_indexes(engine)
    with engine.begin() as conn:  # two first starts at once: the second one's row is skipped, not a failure
        conn.execute(delete(schema_state).where(schema_state.c.name == "index"))
        insert_ignore(conn, schema_state, [{"name": "index", "fingerprint": _fingerprint()}])


@functools.cache
def _fingerprint() -> str:
    """The schema this code expects: every table with its columns and indexes. Bringing a database up to it costs a
    query per table and column (create_all, inspection): on PostgreSQL that is dozens of round trips, so each
    command of a shell loop would pay them."""
    shape = [
        (table.name, [(c.name, repr(c.type), c.nullable, c.server_default is not None) for c in table.columns])
        for table in metadata.sorted_tables
    ] + sorted(str(index.name) for table in metadata.sorted_tables for index in table.indexes)
    return hashlib.sha256(repr(shape).encode()).hexdigest()


def _stored_fingerprint(engine: Engine) -> str | None:
    """The fingerprint the database was last brought up to; None for a new database or one made before it."""
    try:
        with engine.connect() as conn:
            found = conn.execute(select(schema_state.c.fingerprint).where(schema_state.c.name == "index")).scalar()
    except DBAPIError:  # no schema_state table yet
        return None
    return str(found) if found is not None else None


def _add_new_columns(engine: Engine) -> None:
    """Columns added to an existing table since the database was made (create_all only makes missing tables):
    nullable ones, or ones with a server default, which the rows already there take."""
    existing = inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have and (column.nullable or column.server_default is not None):
                    ddl = CreateColumn(column).compile(dialect=engine.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")


def _add_new_indexes(engine: Engine) -> None:
    """Indexes added to an existing table since the database was made (create_all makes them only with a new
    table)."""
    existing = inspect(engine)
    for table in metadata.sorted_tables:
        have = {i["name"] for i in existing.get_indexes(table.name)}
        columns = {c["name"] for c in existing.get_columns(table.name)}
        for index in table.indexes:
            if index.name not in have and {c.name for c in index.columns} <= columns:
                index.create(engine, checkfirst=True)


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
