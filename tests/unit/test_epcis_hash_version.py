"""Events anchored with hash algorithm 1 keep verifying: the index records each event's algorithm, and a
database made before the column existed gets it, with 1 for the rows already there."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select

from trace_api.domain import hx
from trace_api.epcis import HASH_ALGORITHM, LEGACY_ALGORITHM, event_hash_bytes
from trace_api.index import schema as t
from trace_api.index.store import make_engine
from trace_api.services.history import event_status

EVENT = {"type": "ObjectEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
         "epcList": ["urn:epc:id:sgtin:4012345.011111.1"], "action": "OBSERVE", "bizStep": "inspecting",
         "sensorElementList": [{"sensorReport": [{"type": "Temperature", "booleanValue": True}]}]}  # fmt: skip


def _row(algorithm: int) -> SimpleNamespace:
    return SimpleNamespace(event_hash=hx(event_hash_bytes(EVENT, algorithm=algorithm)), hash_algorithm=algorithm,
                           mode="anchor", root=None, proof=None)  # fmt: skip


def test_each_row_is_checked_with_its_own_algorithm() -> None:
    assert event_hash_bytes(EVENT, algorithm=LEGACY_ALGORITHM) != event_hash_bytes(EVENT)
    for algorithm in (LEGACY_ALGORITHM, HASH_ALGORITHM):
        assert event_status(EVENT, _row(algorithm), {}, {}).status == "pending"  # not "mismatch"
    wrong = _row(LEGACY_ALGORITHM)
    wrong.hash_algorithm = HASH_ALGORITHM
    assert event_status(EVENT, wrong, {}, {}).status == "mismatch"


def test_old_database_gets_the_column_with_algorithm_1(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as conn:  # epcis_events as the first release made it
        conn.execute(
            "CREATE TABLE epcis_events (event_hash VARCHAR(66) PRIMARY KEY, event_type VARCHAR(32) NOT NULL,"
            " biz_step VARCHAR(64), event_time DATETIME NOT NULL, body TEXT NOT NULL, mode VARCHAR(8) NOT NULL,"
            " root VARCHAR(66), proof TEXT, source VARCHAR(64) NOT NULL, created_seq BIGINT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO epcis_events VALUES ('0x01', 'ObjectEvent', NULL, '2024-01-01 00:00:00', '{}',"
            " 'anchor', NULL, NULL, '', 1)"
        )
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.execute(select(t.epcis_events.c.hash_algorithm)).scalar_one() == LEGACY_ALGORITHM
    make_engine(f"sqlite:///{path}").dispose()  # a second start adds nothing twice
    engine.dispose()
