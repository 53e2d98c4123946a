"""The index store on SQLite and PostgreSQL: schema creation and insert-or-skip (no chain needed)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, insert, inspect, select, text, update
from sqlalchemy.exc import OperationalError

from tests.index.conftest import count
from trace_api.config import Settings
from trace_api.index import schema as t
from trace_api.index.store import get_engine, insert_ignore, make_engine

WHEN = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


def _hash(n: int) -> str:
    return "0x" + f"{n:064x}"


def test_make_engine_creates_the_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        found = inspect(engine)
        assert set(found.get_table_names()) == set(t.metadata.tables)
        assert {i["name"] for i in found.get_indexes("epcis_events")} >= {
            "ix_epcis_events_pending",
            "ix_epcis_events_biz_step",
            "ix_epcis_events_time",
        }
        assert {c["name"] for c in found.get_unique_constraints("batch_keys")} == {"uq_batch_keys_gtin_lot"}
        assert found.get_pk_constraint("chain_events")["constrained_columns"] == ["batch_id", "seq"]
        with engine.begin() as conn:
            conn.execute(insert(t.checkpoints).values(name="registry", block_number=7))
    finally:
        engine.dispose()

    again = make_engine(db_url)  # on an existing schema: nothing to create, nothing lost
    try:
        with again.connect() as conn:
            assert conn.execute(select(t.checkpoints.c.block_number)).scalar() == 7
    finally:
        again.dispose()


def test_a_current_schema_costs_one_query_and_a_changed_one_is_brought_up_again(db_url: str) -> None:
    """Every command opens the index: on a database already brought up to this code's schema that is one query (not
    the hundred of create_all and inspection, each a round trip on PostgreSQL); a database whose recorded schema
    differs (older code made it) is brought up again."""
    make_engine(db_url).dispose()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        make_engine(db_url).dispose()
        assert len(statements) == 1 and "schema_state" in statements[0]
        engine = make_engine(db_url)
        with engine.begin() as conn:
            conn.execute(update(t.schema_state).values(fingerprint="made by an older release"))
            conn.execute(text("DROP TABLE scans"))
            conn.execute(text("DROP INDEX ix_epcis_events_time"))  # an index added to a table that exists
        engine.dispose()
        statements.clear()
        engine = make_engine(db_url)
        assert len(statements) > 20
        assert "scans" in inspect(engine).get_table_names()
        assert "ix_epcis_events_time" in {i["name"] for i in inspect(engine).get_indexes("epcis_events")}
        engine.dispose()
    finally:
        event.remove(Engine, "before_cursor_execute", seen)


def test_two_first_starts_at_once_both_open_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index made by an older release has every table but schema_state. Processes started together after the
    upgrade all find no fingerprint and create the table; the one that loses the race (SQLite: "table schema_state
    already exists") must open the index all the same."""
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    older = create_engine(url)
    t.metadata.create_all(older, tables=[table for table in t.metadata.sorted_tables if table is not t.schema_state])
    older.dispose()
    real, calls = t.metadata.create_all, []

    def racing(bind: Engine, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 1:  # the other process creates it between our check and our CREATE TABLE
            real(bind, **kwargs)  # type: ignore[arg-type]
            raise OperationalError("CREATE TABLE schema_state", {}, sqlite3.OperationalError("table exists"))
        real(bind, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(t.metadata, "create_all", racing)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(t.schema_state.c.fingerprint)).scalar_one()
    engine.dispose()


def test_insert_ignore_skips_rows_whose_key_exists(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        links = [
            {"batch_id": _hash(1), "event_time": WHEN + dt.timedelta(seconds=i), "event_hash": _hash(100 + i)}
            for i in range(3)
        ]
        with engine.begin() as conn:
            insert_ignore(conn, t.checkpoints, [{"name": "registry", "block_number": 5}])
            insert_ignore(conn, t.event_batches, links[:2])
            insert_ignore(conn, t.event_batches, [])
        with engine.begin() as conn:  # one transaction: a skipped row must not abort it (PostgreSQL would)
            insert_ignore(
                conn, t.checkpoints, [{"name": "registry", "block_number": 9}, {"name": "other", "block_number": 1}]
            )
            insert_ignore(conn, t.event_batches, [*links, links[2]])  # overlaps the table and itself
            conn.execute(insert(t.checkpoints).values(name="after", block_number=2))
        with engine.connect() as conn:
            checkpoints = dict(conn.execute(select(t.checkpoints.c.name, t.checkpoints.c.block_number)).all())
            hashes = conn.execute(select(t.event_batches.c.event_hash).order_by(t.event_batches.c.event_time))
            assert list(hashes.scalars()) == [link["event_hash"] for link in links]
        assert checkpoints == {"registry": 5, "other": 1, "after": 2}  # the first row wins, never overwritten
        assert count(engine, t.event_batches) == 3
    finally:
        engine.dispose()


def test_get_engine_is_one_engine_per_url(tmp_path: Path) -> None:
    first = Settings(home=tmp_path / "a")
    assert get_engine(first) is get_engine(Settings(home=tmp_path / "a"))
    assert get_engine(first) is not get_engine(Settings(home=tmp_path / "b"))
    assert (tmp_path / "a" / "index.sqlite").is_file()


def test_an_index_made_before_attribution_gains_the_new_columns(db_url: str) -> None:
    """An existing TRACE_HOME keeps working: capturer, awaits, anchorer and owners are added in place."""
    from sqlalchemy import Column, MetaData, String, Table, create_engine

    old = MetaData()
    Table("epcis_events", old, Column("event_hash", String(66), primary_key=True), Column("body", String(10)))
    Table("documents", old, Column("sha256", String(66), primary_key=True))
    engine = create_engine(db_url)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(old.tables["epcis_events"].insert().values(event_hash=_hash(1), body="{}"))
    engine.dispose()
    upgraded = make_engine(db_url)
    try:
        found = inspect(upgraded)
        assert {"capturer", "awaits"} <= {c["name"] for c in found.get_columns("epcis_events")}
        assert "owners" in {c["name"] for c in found.get_columns("documents")}
        with upgraded.connect() as conn:
            row = conn.execute(select(t.epcis_events.c.capturer, t.epcis_events.c.awaits)).one()
        assert tuple(row) == ("", None)  # unknown capturer, nothing awaited
    finally:
        upgraded.dispose()
