"""API keys: one or more per organisation, stored as SHA-256 hashes, each mapped to the account it signs with.

A key is shown once, when it is made. It is named afterwards by its id, the first 12 hex digits of its hash, which
tells nothing about the key. A key can expire (``expires_at``) and be revoked; either way it then gets 401. Its
last use is recorded, at most once a minute, so that a forgotten key can be found and revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from trace_api.errors import NotFoundError, UnauthorizedError, ValidationError
from trace_api.index import queries_keys as qk

PREFIX = "trk_"
ID_DIGITS = 12
LAST_USED_EVERY = dt.timedelta(minutes=1)  # a write per request would be a write per request


class ApiKeyPublic(BaseModel):
    """An API key as anyone may see it: never the key, only its id (the first digits of its hash)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    organisation: str
    account: str = Field(description="The dev account or keystore the key signs with")
    status: str = Field(description="active, expired or revoked")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def _hash(key: str) -> str:
    return "0x" + hashlib.sha256(key.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back; they were written in UTC."""
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _status(revoked_at: dt.datetime | None, expires_at: dt.datetime | None, now: dt.datetime) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and _utc(expires_at) <= now:  # type: ignore[operator]
        return "expired"
    return "active"


def create_key(engine: Engine, *, organisation: str, account: str, expires_at: dt.datetime | None = None) -> str:
    """Create a key; the plaintext is returned once and never stored."""
    if not organisation.strip() or not account.strip():
        raise ValidationError("an API key needs an organisation and an account")
    if expires_at is not None and _utc(expires_at) <= _now():  # type: ignore[operator]
        raise ValidationError("an API key's expiry must be in the future")
    key = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        qk.add_key(
            conn,
            key_hash=_hash(key),
            organisation=organisation.strip(),
            account=account.strip(),
            created_at=_now(),
            expires_at=expires_at,
        )
    return key


def key_id(key: str) -> str:
    """The id a key is listed under."""
    return _hash(key)[2 : 2 + ID_DIGITS]


def list_keys(engine: Engine, *, organisation: str | None = None) -> list[ApiKeyPublic]:
    now = _now()
    with engine.connect() as conn:
        rows = qk.key_rows(conn, organisation)
    return [
        ApiKeyPublic(
            id=row["key_hash"][2 : 2 + ID_DIGITS],
            organisation=row["organisation"],
            account=row["account"],
            created_at=_utc(row["created_at"]),  # type: ignore[arg-type]
            expires_at=_utc(row["expires_at"]),
            revoked_at=_utc(row["revoked_at"]),
            last_used_at=_utc(row["last_used_at"]),
            status=_status(row["revoked_at"], row["expires_at"], now),
        )
        for row in rows
    ]


def _find(engine: Engine, ident: str) -> ApiKeyPublic:
    ident = ident.strip().lower().removeprefix("0x")
    if len(ident) < 8 or any(c not in "0123456789abcdef" for c in ident):
        raise ValidationError(f"API key id {ident!r}: give the id `trace apikey list` shows (12 hex digits)")
    found = [k for k in list_keys(engine) if k.id.startswith(ident[:ID_DIGITS])]
    if not found:
        raise NotFoundError(f"no API key with id {ident}")
    if len(found) > 1:
        raise ValidationError(f"API key id {ident} is ambiguous; give all {ID_DIGITS} digits")
    return found[0]


def revoke_key(engine: Engine, *, ident: str) -> ApiKeyPublic:
    """Revoke a key by its id; it gets 401 from now on. Revoking a revoked key changes nothing."""
    found = _find(engine, ident)
    if found.revoked_at is None:
        with engine.begin() as conn:
            qk.revoke(conn, found.id, _now())
    return _find(engine, found.id)


def rotate_key(engine: Engine, *, ident: str, expires_at: dt.datetime | None = None) -> tuple[str, ApiKeyPublic]:
    """A new key for the same organisation and account, and the old one revoked, in one transaction."""
    old = _find(engine, ident)
    if old.status != "active":
        raise ValidationError(f"API key {old.id} is {old.status}; create a new one with `trace apikey create`")
    if expires_at is not None and _utc(expires_at) <= _now():  # type: ignore[operator]
        raise ValidationError("an API key's expiry must be in the future")
    key = PREFIX + secrets.token_urlsafe(32)
    now = _now()
    with engine.begin() as conn:
        qk.revoke(conn, old.id, now)
        qk.add_key(
            conn,
            key_hash=_hash(key),
            organisation=old.organisation,
            account=old.account,
            created_at=now,
            expires_at=expires_at,
        )
    return key, _find(engine, key_id(key))


def authenticate(engine: Engine, key: str | None) -> tuple[str, str]:
    """(organisation, account) for a valid key; UnauthorizedError otherwise (missing, unknown, revoked, expired)."""
    if not key:
        raise UnauthorizedError("missing API key: send `Authorization: Bearer <key>`")
    digest = _hash(key)
    with engine.connect() as conn:
        row = qk.key_row(conn, digest)
    if row is None:
        raise UnauthorizedError("invalid API key")
    now = _now()
    status = _status(row["revoked_at"], row["expires_at"], now)
    if status != "active":
        raise UnauthorizedError(f"API key {status}; ask the operator for a new one")
    last = _utc(row["last_used_at"])
    if last is None or now - last >= LAST_USED_EVERY:
        with engine.begin() as conn:
            qk.touch(conn, digest, now)
    return row["organisation"], row["account"]
