"""API key lifecycle: list, revoke, rotate, expiry, last use (issue 16: keys could not be listed, revoked,
rotated or set to expire). Revoked and expired keys get 401 before any body is read."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.conftest import run_trace
from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.index import schema as t
from trace_api.index.store import get_engine, make_engine
from trace_api.services import apikeys

GTIN = "09506000134352"


@pytest.fixture(scope="module")
def client(trace_session_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(trace_session_settings)) as c:
        yield c


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _register(client: TestClient, key: str) -> int:
    return client.post(
        "/batches", json={"gtin": GTIN, "lot": "K" + uuid.uuid4().hex[:8]}, headers=_bearer(key)
    ).status_code


def test_a_revoked_key_gets_401(client: TestClient, trace_session_settings: Settings) -> None:
    engine = get_engine(trace_session_settings)
    key = apikeys.create_key(engine, organisation="Revoke Co", account="producer")
    assert _register(client, key) == 201
    revoked = apikeys.revoke_key(engine, ident=apikeys.key_id(key))
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    response = client.post("/capture", content=b"{}", headers=_bearer(key))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert _register(client, key) == 401


def test_an_expired_key_gets_401(client: TestClient, trace_session_settings: Settings) -> None:
    engine = get_engine(trace_session_settings)
    key = apikeys.create_key(
        engine, organisation="Expiry Co", account="producer", expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=90)
    )
    assert _register(client, key) == 201
    with engine.begin() as conn:  # ninety days later
        conn.execute(
            update(t.api_keys)
            .where(t.api_keys.c.key_hash == apikeys._hash(key))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    response = client.post("/batches", json={"gtin": GTIN, "lot": "EXPIRED"}, headers=_bearer(key))
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    (listed,) = [k for k in apikeys.list_keys(engine) if k.id == apikeys.key_id(key)]
    assert listed.status == "expired"


def test_rotation_replaces_the_key(client: TestClient, trace_session_settings: Settings) -> None:
    engine = get_engine(trace_session_settings)
    old = apikeys.create_key(engine, organisation="Rotate Co", account="producer")
    new, info = apikeys.rotate_key(engine, ident=apikeys.key_id(old)[:8])
    assert info.organisation == "Rotate Co" and info.account == "producer" and info.status == "active"
    assert _register(client, old) == 401 and _register(client, new) == 201


def test_last_use_is_recorded(client: TestClient, trace_session_settings: Settings) -> None:
    engine = get_engine(trace_session_settings)
    key = apikeys.create_key(engine, organisation="Used Co", account="producer")
    (before,) = apikeys.list_keys(engine, organisation="Used Co")
    assert before.last_used_at is None
    assert _register(client, key) == 201
    (after,) = apikeys.list_keys(engine, organisation="Used Co")
    assert after.last_used_at is not None and after.last_used_at >= after.created_at


def test_an_expiry_in_the_past_and_an_unknown_id_are_refused(trace_session_settings: Settings) -> None:
    from trace_api.errors import NotFoundError, ValidationError

    engine = get_engine(trace_session_settings)
    with pytest.raises(ValidationError):
        apikeys.create_key(
            engine, organisation="X", account="producer", expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        )
    with pytest.raises(NotFoundError):
        apikeys.revoke_key(engine, ident="0123456789ab")
    with pytest.raises(ValidationError):
        apikeys.revoke_key(engine, ident="nothex!!")


def test_the_cli_lists_revokes_and_rotates(tmp_path: Path) -> None:
    env = {"TRACE_HOME": str(tmp_path / "home")}
    created = run_trace("--json", "apikey", "create", "Cli Co", "--account", "producer", "--expires", "90d", env=env)
    assert created.code == 0, created.stderr
    made = json.loads(created.stdout)
    key, ident = made["api_key"], made["id"]
    expires = dt.datetime.fromisoformat(made["expires_at"])
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)

    listed = run_trace("--json", "apikey", "list", env=env)
    assert listed.code == 0 and key not in listed.stdout  # the key itself is never shown again
    (row,) = json.loads(listed.stdout)
    assert row["id"] == ident and row["status"] == "active" and row["last_used_at"] is None

    rotated = run_trace("--json", "apikey", "rotate", ident, env=env)
    assert rotated.code == 0, rotated.stderr
    replacement = json.loads(rotated.stdout)
    assert replacement["replaces"] == ident and replacement["api_key"] != key
    statuses = {r["id"]: r["status"] for r in json.loads(run_trace("--json", "apikey", "list", env=env).stdout)}
    assert statuses == {ident: "revoked", replacement["id"]: "active"}

    revoked = run_trace("apikey", "revoke", replacement["id"], env=env)
    assert revoked.code == 0 and "revoked" in revoked.stdout
    assert run_trace("apikey", "rotate", replacement["id"], env=env).code != 0  # a revoked key cannot be rotated
    unknown = run_trace("apikey", "revoke", "0123456789ab", env=env)
    assert unknown.code == 1 and unknown.stderr.count("\n") == 1  # one line on stderr
    bad = run_trace("apikey", "create", "Cli Co", "--account", "producer", "--expires", "soon", env=env)
    assert bad.code != 0 and "duration" in bad.stderr


def test_an_index_made_before_expiry_existed_gets_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE api_keys (key_hash VARCHAR(66) PRIMARY KEY, organisation VARCHAR(120) NOT NULL, "
            "account VARCHAR(120) NOT NULL, created_at DATETIME NOT NULL)"
        )
        db.execute(
            "INSERT INTO api_keys VALUES ('0x' || printf('%064d', 1), 'Old Co', 'producer', '2026-01-01 00:00:00')"
        )
    engine = make_engine(f"sqlite:///{path}")
    (old,) = apikeys.list_keys(engine)
    assert old.organisation == "Old Co" and old.status == "active" and old.expires_at is None
