"""Files of a trade: the dispute's reason, evidence for the arbiter, and trade documents (commercial invoice,
packing list, bill of lading, certificate of origin).

Each file's SHA-256 goes on chain through the escrow's ``dispute`` or ``addEvidence`` call, whose log names the
sender and the block; the file itself is stored as a private document (AES-256-GCM, :mod:`documents`) whose key
is shared with the trade's buyer, seller and arbiter. Who sent what, and when, is read from those logs, so two
parties sending the same file are two entries. The file is written before its transaction (a pending row) and the
row is completed from the log, so a file whose transaction landed is never lost; a call that fails sends nothing
and keeps nothing. A download is decrypted and checked against the hash on chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import delete, insert, select, update

from trace_api.chain.accounts import account_names
from trace_api.errors import ForbiddenError, NotFoundError, ValidationError, VerificationFailed
from trace_api.index import schema as t
from trace_api.services import documents, escrow
from trace_api.services.context import TraceContext
from trace_api.services.escrow_logs import Log, escrow_contract, trade_logs

__all__ = [
    "DOCUMENT_KINDS",
    "TradeFile",
    "add_document",
    "add_evidence",
    "dispute",
    "list_files",
    "read_file",
    "show_trade",
]

DOCUMENT_KINDS = ("commercial-invoice", "packing-list", "bill-of-lading", "certificate-of-origin")
REASON_NAME = "reason.txt"
PRIVATE_NAME = "private document"
_LOGS = ("DisputeOpened", "EvidenceAdded")


@dataclass(frozen=True)
class TradeFile:
    name: str
    media_type: str
    sha256: str
    data: bytes


def _parties(ctx: TraceContext, trade_id: int) -> dict[str, str]:
    """Role -> lower-case address of the trade's buyer, seller and arbiter (NotFoundError for an unknown trade)."""
    return {role: address.lower() for role, address in escrow.trade_parties(ctx, trade_id=trade_id).items()}


def _stage(
    ctx: TraceContext,
    *,
    trade_id: int,
    kind: str,
    sender: str,
    text: str | None,
    path: Path | None,
    recipients: list[str],
) -> tuple[int, str, bool] | None:
    """Store the file encrypted for the trade's parties and a pending row naming it: (row id, sha256, whether the
    document store had it already). None when only a hash is given."""
    if text is not None:
        prepared = documents.prepare_bytes(text.encode(), name=REASON_NAME, private=True, recipients=recipients)
    elif path is not None:
        prepared = documents.prepare(ctx.settings, path=path, private=True, recipients=recipients)
    else:
        return None
    digest = prepared.info["sha256"]
    known = documents.stored(ctx, digest)
    documents.commit(ctx, prepared, owner=sender)
    with ctx.engine.begin() as conn:
        row_id = conn.execute(
            insert(t.trade_files).values(
                escrow=escrow_contract(ctx).address.lower(),
                trade_id=trade_id,
                sha256=digest,
                kind=kind,
                name=prepared.info["name"],
                sender=sender.lower(),
                tx_hash="",
                created_at=dt.datetime.now(dt.UTC),
            )
        ).inserted_primary_key
    assert row_id is not None
    return int(row_id[0]), digest, known


def _send(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    kind: str,
    text: str | None,
    path: Path | None,
    digest: str | None,
    call: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    # The input is checked (and the hash computed) before anything is stored.
    escrow.evidence_hash(text=text, path=path, digest=digest, max_bytes=ctx.settings.max_document_bytes)
    parties = _parties(ctx, trade_id)
    staged = _stage(
        ctx,
        trade_id=trade_id,
        kind=kind,
        sender=account.address,
        text=text,
        path=path,
        recipients=list(parties.values()),
    )
    try:
        result = call(ctx, account=account, trade_id=trade_id, text=text, path=path, digest=digest)
    except BaseException:
        if staged is not None:  # nothing was sent: keep nothing
            row_id, sha, known = staged
            with ctx.engine.begin() as conn:
                conn.execute(delete(t.trade_files).where(t.trade_files.c.id == row_id))
            if not known:
                documents.discard(ctx, sha)
        raise
    if staged is not None:
        with ctx.engine.begin() as conn:
            conn.execute(update(t.trade_files).where(t.trade_files.c.id == staged[0]).values(tx_hash=result["tx_hash"]))
    return {**result, "kind": kind, "stored": staged is not None}


def dispute(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    text: str | None = None,
    path: Path | None = None,
    digest: str | None = None,
) -> dict[str, Any]:
    """Open a dispute with its reason (text or a file) stored for the parties and the arbiter."""
    kind = "reason" if text is not None else "evidence"
    return _send(
        ctx, account=account, trade_id=trade_id, kind=kind, text=text, path=path, digest=digest, call=escrow.dispute
    )


def add_evidence(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    text: str | None = None,
    path: Path | None = None,
    digest: str | None = None,
) -> dict[str, Any]:
    """More evidence for the arbiter: its hash on chain, the file stored for the parties and the arbiter."""
    return _send(
        ctx,
        account=account,
        trade_id=trade_id,
        kind="evidence",
        text=text,
        path=path,
        digest=digest,
        call=escrow.add_evidence,
    )


def add_document(ctx: TraceContext, *, account: LocalAccount, trade_id: int, kind: str, path: Path) -> dict[str, Any]:
    """Attach a trade document (``kind`` one of :data:`DOCUMENT_KINDS`): its hash on chain, the file stored for
    the counterparty and the arbiter."""
    if kind not in DOCUMENT_KINDS:
        raise ValidationError(f"unknown document kind {kind!r}; choose one of {', '.join(DOCUMENT_KINDS)}")
    return _send(
        ctx, account=account, trade_id=trade_id, kind=kind, text=None, path=path, digest=None, call=escrow.add_evidence
    )


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def _entries(ctx: TraceContext, trade_id: int) -> list[tuple[Log, dict[str, Any] | None]]:
    """Each hash the trade's logs carry, with the stored file it names (completing rows whose transaction was sent
    but not recorded: the write-ahead's recovery)."""
    logs = trade_logs(ctx, trade_id=trade_id, names=_LOGS)
    with ctx.engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(t.trade_files)
                .where(
                    t.trade_files.c.escrow == escrow_contract(ctx).address.lower(), t.trade_files.c.trade_id == trade_id
                )
                .order_by(t.trade_files.c.id)
            ).mappings()
        ]
    by_tx = {r["tx_hash"]: r for r in rows if r["tx_hash"]}
    pending = [r for r in rows if not r["tx_hash"]]
    found: list[tuple[Log, dict[str, Any] | None]] = []
    for log in logs:
        sha, sender = "0x" + bytes(log.args["evidenceHash"]).hex(), str(log.args["by"]).lower()
        row = by_tx.get(log.tx_hash)
        if row is None:
            row = next((r for r in pending if r["sha256"] == sha and r["sender"] == sender), None)
            if row is not None:
                pending.remove(row)
                with ctx.engine.begin() as conn:
                    conn.execute(
                        update(t.trade_files).where(t.trade_files.c.id == row["id"]).values(tx_hash=log.tx_hash)
                    )
        found.append((log, row if row is not None and row["sha256"] == sha else None))
    return found


def list_files(ctx: TraceContext, *, trade_id: int, viewer: str | None) -> dict[str, Any]:
    """The trade's dispute and files, oldest first, with who sent each and when. A ``viewer`` that is the buyer,
    the seller or the arbiter also sees the file names and the reason's text; anyone else sees the kind, the
    sender, the time and the hash (which the chain shows anyway)."""
    parties = _parties(ctx, trade_id)
    roles = {address: role for role, address in parties.items()}
    party = viewer is not None and viewer.lower() in roles
    names = account_names(ctx.settings)
    files: list[dict[str, Any]] = []
    dispute_info: dict[str, Any] | None = None
    for number, (log, row) in enumerate(_entries(ctx, trade_id), start=1):
        sender = str(log.args["by"])
        kind = row["kind"] if row else ("reason" if log.name == "DisputeOpened" else "evidence")
        entry = {
            "n": number,
            "kind": kind,
            "name": (row["name"] if party else PRIVATE_NAME) if row else None,
            "sha256": "0x" + bytes(log.args["evidenceHash"]).hex(),
            "by": sender,
            "by_name": names.get(sender.lower()),
            "role": roles.get(sender.lower()),
            "at": _iso(log.time),
            "block": log.block,
            "tx_hash": log.tx_hash,
            "stored": row is not None,
            "dispute": log.name == "DisputeOpened",
        }
        files.append(entry)
        if log.name == "DisputeOpened":
            reason = None
            if party and row is not None and row["kind"] == "reason":
                found = documents.content(ctx, row["sha256"])
                reason = found[1].decode("utf-8", "replace") if found and found[1] is not None else None
            dispute_info = {key: entry[key] for key in ("by", "by_name", "role", "at", "sha256", "tx_hash")}
            dispute_info["reason"] = reason
    return {"dispute": dispute_info, "files": files}


def show_trade(ctx: TraceContext, *, trade_id: int, viewer: str | None) -> dict[str, Any]:
    """:func:`escrow.show_trade` with the trade's dispute and files as ``viewer`` may see them."""
    return {**escrow.show_trade(ctx, trade_id=trade_id), **list_files(ctx, trade_id=trade_id, viewer=viewer)}


def _pick(entries: list[tuple[Log, dict[str, Any] | None]], ref: str) -> tuple[Log, dict[str, Any] | None]:
    text = ref.strip().lower().removeprefix("0x")
    if text.isdigit() and len(text) < 8:
        number = int(text)
        if not 1 <= number <= len(entries):
            raise NotFoundError(f"the trade has {len(entries)} file(s); there is no number {number}")
        return entries[number - 1]
    if not re.fullmatch(r"[0-9a-f]{8,64}", text):
        raise ValidationError(f"file {ref!r}: give its number in the list or its SHA-256 (at least 8 hex digits)")
    matches = [e for e in entries if bytes(e[0].args["evidenceHash"]).hex().startswith(text)]
    if not matches:
        raise NotFoundError(f"no file {ref} in this trade")
    return next((m for m in matches if m[1] is not None), matches[0])


def read_file(ctx: TraceContext, *, trade_id: int, ref: str, reader: str | None) -> TradeFile:
    """A trade file's content, for the buyer, the seller or the arbiter only; ``ref`` is its number in the list or
    its SHA-256 (a prefix will do). The decrypted content must hash to the value on chain."""
    parties = _parties(ctx, trade_id)
    if reader is None or reader.lower() not in parties.values():
        raise ForbiddenError(f"the files of trade {trade_id} are for its buyer, seller and arbiter only")
    log, row = _pick(_entries(ctx, trade_id), ref)
    on_chain = "0x" + bytes(log.args["evidenceHash"]).hex()
    found = documents.content(ctx, on_chain) if row is not None else None
    if found is None:
        raise NotFoundError(
            f"file {on_chain} of trade {trade_id} is not stored on this server (only its hash is "
            "on chain); ask its sender for it"
        )
    meta, data = found
    if data is None or "0x" + hashlib.sha256(data).hexdigest() != on_chain:
        raise VerificationFailed(
            f"the stored copy of file {on_chain} of trade {trade_id} is damaged or missing: it "
            "does not read back as the file whose hash is on chain; ask its sender for it"
        )
    assert row is not None
    return TradeFile(name=row["name"], media_type=meta["media_type"], sha256=on_chain, data=data)
