"""Scans of a unit are counted without a request waiting on a database write: queued, written in batches by a
background writer, flushed at shutdown; every scan becomes one row."""

from __future__ import annotations

import sqlite3
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.index import schema as t
from trace_api.index.store import get_engine
from trace_api.services.batches import batch_key
from trace_api.services.demo import ROASTED, UNITS

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def settings(demo_env) -> Settings:  # type: ignore[no-untyped-def]
    env, _ = demo_env
    return Settings(
        home=env["TRACE_HOME"],
        node_port=int(env["TRACE_NODE_PORT"]),
        resolver_rate_per_minute=0,
        index_poll_seconds=3600.0,
    )


def rows_of(settings: Settings, serial: str) -> int:
    key = batch_key(*ROASTED)
    with get_engine(settings).connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(t.scans)
                .where(t.scans.c.batch_id == key.id_hex, t.scans.c.serial == serial)
            ).scalar_one()
        )


def url(serial: str) -> str:
    return f"/01/{ROASTED[0]}/10/{ROASTED[1]}/21/{serial}"


def test_n_scans_are_n_rows_once_the_server_stops(settings: Settings) -> None:
    serial, n = UNITS[7], 40
    before = rows_of(settings, serial)
    with TestClient(create_app(settings)) as client:
        for i in range(n):
            accept = JSON if i % 2 else {"Accept": "text/html"}
            assert client.get(url(serial), headers=accept).status_code == 200
        assert client.head(url(serial), headers=JSON).status_code == 200  # a HEAD is a scan too, as before
    # shutting down wrote what was queued; nothing was counted twice, nothing lost
    assert rows_of(settings, serial) == before + n + 1


def test_the_page_counts_recorded_scans_and_this_one(settings: Settings) -> None:
    serial = UNITS[8]
    with TestClient(create_app(settings)) as client:
        first = client.get(url(serial), headers=JSON).json()["unit"]["scans"]["count"]
        client.app.state.ctx.scans.flush()  # type: ignore[attr-defined]
        assert client.get(url(serial), headers=JSON).json()["unit"]["scans"]["count"] == first + 1


def test_a_locked_database_does_not_delay_the_answer(settings: Settings) -> None:
    serial, n = UNITS[9], 10
    before = rows_of(settings, serial)
    with TestClient(create_app(settings)) as client:
        assert client.get(url(serial), headers=JSON).status_code == 200  # the index read once, the page built
        client.app.state.ctx.scans.flush()  # type: ignore[attr-defined]
        locker = sqlite3.connect(str(get_engine(settings).url.database), timeout=1)
        locker.execute("BEGIN EXCLUSIVE")  # every writer waits (busy_timeout) until this ends
        try:
            started = time.monotonic()
            for _ in range(n):
                assert client.get(url(serial), headers=JSON).status_code == 200
            took = time.monotonic() - started
            assert took < 2.0, f"{n} answers took {took:.1f} s while the database was locked"
            assert rows_of(settings, serial) == before + 1  # nothing written while locked
        finally:
            locker.rollback()
            locker.close()
        assert client.app.state.ctx.scans.flush()  # type: ignore[attr-defined]
        assert rows_of(settings, serial) == before + 1 + n


def test_no_scan_is_counted_for_a_batch_page_or_its_events(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        with get_engine(settings).connect() as conn:
            before = conn.execute(select(func.count()).select_from(t.scans)).scalar_one()
        client.get(f"/01/{ROASTED[0]}/10/{ROASTED[1]}", headers=JSON)
        client.get(url(UNITS[3]), headers={"Accept": "application/ld+json"})
        client.app.state.ctx.scans.flush()  # type: ignore[attr-defined]
        with get_engine(settings).connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.scans)).scalar_one() == before
