"""API keys: one or more per organisation, stored as SHA-256 hashes, each mapped to the account it signs with."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Engine, insert, select

from trace_api.errors import UnauthorizedError, ValidationError
from trace_api.index import schema as t

PREFIX = "trk_"


def _hash(key: str) -> str:
    return "0x" + hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, *, organisation: str, account: str) -> str:
    """Create a key; the plaintext is returned once and never stored."""
    if not organisation.strip() or not account.strip():
        raise ValidationError("an API key needs an organisation and an account")
    key = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(insert(t.api_keys).values(
            key_hash=_hash(key), organisation=organisation.strip(), account=account.strip(),
            created_at=dt.datetime.now(dt.UTC),
        ))
    return key


def authenticate(engine: Engine, key: str | None) -> tuple[str, str]:
    """(organisation, account) for a valid key; UnauthorizedError otherwise."""
    if not key:
        raise UnauthorizedError("missing API key: send `Authorization: Bearer <key>`")
    with engine.connect() as conn:
        row = conn.execute(
            select(t.api_keys.c.organisation, t.api_keys.c.account).where(t.api_keys.c.key_hash == _hash(key))
        ).first()
    if row is None:
        raise UnauthorizedError("invalid API key")
    return row.organisation, row.account
