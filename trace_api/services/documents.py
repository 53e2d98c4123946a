"""Documents attached to events: stored off chain, content-addressed by SHA-256; only the hash goes into the
event (and so under the event hash on chain). Private documents are encrypted with AES-256-GCM under a
random per-document key; the key is kept beside the store and released only to the named counterparties."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from trace_api.config import Settings
from trace_api.errors import ForbiddenError, NotFoundError, PayloadTooLargeError, ValidationError
from trace_api.index import queries, queries_documents

NONCE_BYTES = 12


@dataclass(frozen=True)
class Prepared:
    info: dict[str, Any]
    stored: bytes  # what goes on disk: the plaintext, or nonce + ciphertext
    key: bytes | None
    recipients: list[str]
    media_type: str


def _folder(settings: Settings) -> Path:
    return settings.home / "documents"


def prepare(settings: Settings, *, path: Path, private: bool, recipients: list[str]) -> Prepared:
    """Read and check a document; nothing is written yet."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValidationError(f"document {path}: {exc.strerror}") from exc
    if size > settings.max_document_bytes:
        raise PayloadTooLargeError(f"document {path.name} is {size} bytes; the limit is {settings.max_document_bytes}")
    return prepare_bytes(path.read_bytes(), name=path.name, private=private, recipients=recipients)


def prepare_bytes(data: bytes, *, name: str, private: bool, recipients: list[str]) -> Prepared:
    """:func:`prepare` for content already in memory (a statement typed on the command line)."""
    digest = "0x" + hashlib.sha256(data).hexdigest()
    if private and not recipients:
        raise ValidationError("a private document needs at least one counterparty (--share ACCOUNT)")
    key = AESGCM.generate_key(bit_length=256) if private else None
    stored = data
    if key is not None:
        nonce = os.urandom(NONCE_BYTES)
        stored = nonce + AESGCM(key).encrypt(nonce, data, digest.encode())
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Prepared({"sha256": digest, "name": name, "private": private}, stored, key, recipients, media_type)


def commit(ctx: Any, prepared: Prepared, *, owner: str) -> None:
    """Store a prepared document, attached by ``owner``; written before the event that cites it is sent."""
    folder = _folder(ctx.settings)
    folder.mkdir(parents=True, exist_ok=True)
    digest = prepared.info["sha256"]
    with ctx.engine.connect() as conn:
        known = queries_documents.document(conn, digest)
    if known is None:
        _write(folder, digest, prepared.stored, prepared.key, prepared.recipients)
    else:
        # The same content again (another event, another trade, the other party): the stored copy and its key stay,
        # so earlier readers keep their access; new recipients are added to it.
        recipients = list(dict.fromkeys([*json.loads(known["recipients"] or "[]"), *prepared.recipients]))
        key_file = folder / "keys" / f"{digest[2:]}.json"
        if known["private"] and key_file.is_file():
            key_file.write_text(json.dumps({**json.loads(key_file.read_text()), "recipients": recipients}))
        with ctx.engine.begin() as conn:
            queries_documents.add_recipients(conn, digest, recipients)
    with ctx.engine.begin() as conn:
        queries_documents.insert(
            conn,
            {
                "sha256": digest,
                "name": prepared.info["name"],
                "size": len(prepared.stored),
                "media_type": prepared.media_type,
                "private": prepared.info["private"],
                "recipients": json.dumps(prepared.recipients),
                "owners": "[]",
            },
        )
        # Whoever attached the same content first, this account attaches it too.
        queries_documents.add_owner(conn, digest, owner.lower())


def _write(folder: Path, digest: str, stored: bytes, key: bytes | None, recipients: list[str]) -> None:
    (folder / digest[2:]).write_bytes(stored)
    if key is not None:
        keys = folder / "keys"
        keys.mkdir(exist_ok=True, mode=0o700)
        key_file = keys / f"{digest[2:]}.json"
        key_file.write_text(json.dumps({"key": key.hex(), "recipients": recipients}))
        key_file.chmod(0o600)


class DocumentCheck(BaseModel):
    """A cited document checked against the store: ``verified`` when it is intact (hashes to its name; a private
    one after decryption) and was attached by the account the chain names for the citing event. A document the
    store never held has only ``sha256``, ``available``, ``verified`` and ``private`` set."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sha256: str
    name: str | None = None
    available: bool
    verified: bool
    intact: bool | None = None
    attached_by_actor: bool | None = None
    private: bool

    def fields(self) -> dict[str, Any]:
        """The fields set, as a timeline entry shows them."""
        return self.model_dump(mode="json", exclude_unset=True)


def verify(ctx: Any, sha256: str, *, actor: str | None) -> DocumentCheck:
    """Whether the stored document still hashes to its name (private ones are checked after decryption) and was
    attached by ``actor``, the account the chain names for the citing event (None: not on chain, never verified).
    Anyone can cite a hash; only the party that attached the document vouches for it."""
    with ctx.engine.connect() as conn:
        row = queries_documents.document(conn, sha256)
    if row is None:
        return DocumentCheck(sha256=sha256, available=False, verified=False, private=False)
    data = _plaintext(ctx.settings, sha256, private=row["private"])
    intact = data is not None and "0x" + hashlib.sha256(data).hexdigest() == sha256
    own = actor is not None and actor.lower() in json.loads(row["owners"] or "[]")
    return DocumentCheck(
        sha256=sha256,
        name=row["name"],
        available=data is not None,
        verified=intact and own,
        intact=intact,
        attached_by_actor=own,
        private=row["private"],
    )


def _plaintext(settings: Settings, sha256: str, *, private: bool) -> bytes | None:
    path = _folder(settings) / sha256[2:]
    if not path.is_file():
        return None
    stored = path.read_bytes()
    if not private:
        return stored
    key_file = _folder(settings) / "keys" / f"{sha256[2:]}.json"
    if not key_file.is_file():
        return None
    key = bytes.fromhex(json.loads(key_file.read_text())["key"])
    try:
        return AESGCM(key).decrypt(stored[:NONCE_BYTES], stored[NONCE_BYTES:], sha256.encode())
    except Exception:  # noqa: BLE001 - tampered ciphertext reads as unverifiable
        return None


def stored(ctx: Any, sha256: str) -> bool:
    with ctx.engine.connect() as conn:
        return queries_documents.document(conn, sha256) is not None


def discard(ctx: Any, sha256: str) -> None:
    """Remove a document committed for a transaction that was never sent (nothing cites it)."""
    folder = _folder(ctx.settings)
    for path in (folder / sha256[2:], folder / "keys" / f"{sha256[2:]}.json"):
        path.unlink(missing_ok=True)
    with ctx.engine.begin() as conn:
        queries_documents.drop(conn, sha256)


def content(ctx: Any, sha256: str) -> tuple[dict[str, Any], bytes | None] | None:
    """A stored document's row and its content (decrypted; None if the store has lost it or it fails to decrypt),
    or None if it was never stored. The caller decides who may read it."""
    with ctx.engine.connect() as conn:
        row = queries_documents.document(conn, sha256)
    if row is None:
        return None
    return dict(row), _plaintext(ctx.settings, sha256, private=row["private"])


def read(ctx: Any, sha256: str, *, reader: str | None) -> tuple[str, bytes]:
    """The document's content; a private one only for its named counterparties."""
    with ctx.engine.connect() as conn:
        row = queries_documents.document(conn, sha256)
    if row is None:
        raise NotFoundError(f"no document {sha256}")
    if row["private"] and (reader is None or reader not in json.loads(row["recipients"])):
        raise ForbiddenError("private document: shared with named counterparties only")
    data = _plaintext(ctx.settings, sha256, private=row["private"])
    if data is None:
        raise NotFoundError(f"document {sha256} is not in this store")
    return row["media_type"], data


def parties(engine: Engine, batch_id: str) -> set[str]:
    """The accounts the index knows as parties of a batch (lower case): who may see its private documents."""
    with engine.connect() as conn:
        return queries.parties(conn, batch_id)
