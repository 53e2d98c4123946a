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
from pydantic import BaseModel, ConfigDict

from trace_api.chain.accounts import account_names
from trace_api.errors import ForbiddenError, NotFoundError, ValidationError, VerificationFailed
from trace_api.index.trade_queries import add_pending_file, complete_file, drop_file, trade_file_rows
from trace_api.services import documents
from trace_api.services.context import TraceContext
from trace_api.services.escrow.inputs import evidence_hash
from trace_api.services.escrow.logs import Log, escrow_contract, trade_logs
from trace_api.services.escrow.read import show_trade as show_trade_only
from trace_api.services.escrow.read import trade_parties
from trace_api.services.escrow.results import DisputeOpened, EvidenceAdded, TradeDetail
from trace_api.services.escrow.writes import add_evidence as record_evidence
from trace_api.services.escrow.writes import dispute as open_dispute

__all__ = [
    "DOCUMENT_KINDS",
    "DisputeFiled",
    "EvidenceFiled",
    "FileEntry",
    "TradeFile",
    "TradeFiles",
    "TradeWithFiles",
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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileEntry(_Model):
    """One hash a trade's logs carry: who sent it, when, and whether this server stores the file."""

    n: int
    kind: str
    name: str | None
    sha256: str
    by: str
    by_name: str | None
    role: str | None
    at: str
    block: int
    tx_hash: str
    stored: bool
    dispute: bool


class DisputeInfo(_Model):
    by: str
    by_name: str | None
    role: str | None
    at: str
    sha256: str
    tx_hash: str
    reason: str | None


class TradeFiles(_Model):
    dispute: DisputeInfo | None
    files: list[FileEntry]


class TradeWithFiles(TradeDetail, TradeFiles):
    """A trade's read model with its dispute and files as the viewer may see them."""


class EvidenceFiled(EvidenceAdded):
    kind: str
    stored: bool


class DisputeFiled(DisputeOpened):
    kind: str
    stored: bool


def _parties(ctx: TraceContext, trade_id: int) -> dict[str, str]:
    """Role -> lower-case address of the trade's buyer, seller and arbiter (NotFoundError for an unknown trade)."""
    parties = trade_parties(ctx, trade_id=trade_id)
    return {role: str(address).lower() for role, address in parties.model_dump().items()}


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
    row_id = add_pending_file(
        ctx.engine,
        escrow=escrow_contract(ctx).address,
        trade_id=trade_id,
        sha256=digest,
        kind=kind,
        name=prepared.info["name"],
        sender=sender,
    )
    return row_id, digest, known


def _send(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    kind: str,
    text: str | None,
    path: Path | None,
    digest: str | None,
    call: Callable[..., EvidenceAdded],
) -> tuple[EvidenceAdded, bool]:
    # The input is checked (and the hash computed) before anything is stored.
    evidence_hash(text=text, path=path, digest=digest, max_bytes=ctx.settings.max_document_bytes)
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
            drop_file(ctx.engine, row_id)
            if not known:
                documents.discard(ctx, sha)
        raise
    if staged is not None:
        complete_file(ctx.engine, staged[0], result.tx_hash)
    return result, staged is not None


def dispute(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    text: str | None = None,
    path: Path | None = None,
    digest: str | None = None,
) -> DisputeFiled:
    """Open a dispute with its reason (text or a file) stored for the parties and the arbiter."""
    kind = "reason" if text is not None else "evidence"
    result, stored = _send(
        ctx, account=account, trade_id=trade_id, kind=kind, text=text, path=path, digest=digest, call=open_dispute
    )
    return DisputeFiled(**result.model_dump(), kind=kind, stored=stored)


def add_evidence(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    trade_id: int,
    text: str | None = None,
    path: Path | None = None,
    digest: str | None = None,
) -> EvidenceFiled:
    """More evidence for the arbiter: its hash on chain, the file stored for the parties and the arbiter."""
    result, stored = _send(
        ctx,
        account=account,
        trade_id=trade_id,
        kind="evidence",
        text=text,
        path=path,
        digest=digest,
        call=record_evidence,
    )
    return EvidenceFiled(**result.model_dump(), kind="evidence", stored=stored)


def add_document(ctx: TraceContext, *, account: LocalAccount, trade_id: int, kind: str, path: Path) -> EvidenceFiled:
    """Attach a trade document (``kind`` one of :data:`DOCUMENT_KINDS`): its hash on chain, the file stored for
    the counterparty and the arbiter."""
    if kind not in DOCUMENT_KINDS:
        raise ValidationError(f"unknown document kind {kind!r}; choose one of {', '.join(DOCUMENT_KINDS)}")
    result, stored = _send(
        ctx, account=account, trade_id=trade_id, kind=kind, text=None, path=path, digest=None, call=record_evidence
    )
    return EvidenceFiled(**result.model_dump(), kind=kind, stored=stored)


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def _entries(ctx: TraceContext, trade_id: int) -> list[tuple[Log, dict[str, Any] | None]]:
    """Each hash the trade's logs carry, with the stored file it names (completing rows whose transaction was sent
    but not recorded: the write-ahead's recovery)."""
    logs = trade_logs(ctx, trade_id=trade_id, names=_LOGS)
    rows = trade_file_rows(ctx.engine, escrow=escrow_contract(ctx).address, trade_id=trade_id)
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
                complete_file(ctx.engine, int(row["id"]), log.tx_hash)
        found.append((log, row if row is not None and row["sha256"] == sha else None))
    return found


def list_files(ctx: TraceContext, *, trade_id: int, viewer: str | None) -> TradeFiles:
    """The trade's dispute and files, oldest first, with who sent each and when. A ``viewer`` that is the buyer,
    the seller or the arbiter also sees the file names and the reason's text; anyone else sees the kind, the
    sender, the time and the hash (which the chain shows anyway)."""
    parties = _parties(ctx, trade_id)
    roles = {address: role for role, address in parties.items()}
    party = viewer is not None and viewer.lower() in roles
    names = account_names(ctx.settings)
    files: list[FileEntry] = []
    dispute_info: DisputeInfo | None = None
    for number, (log, row) in enumerate(_entries(ctx, trade_id), start=1):
        sender = str(log.args["by"])
        kind = row["kind"] if row else ("reason" if log.name == "DisputeOpened" else "evidence")
        entry = FileEntry(
            n=number,
            kind=kind,
            name=(row["name"] if party else PRIVATE_NAME) if row else None,
            sha256="0x" + bytes(log.args["evidenceHash"]).hex(),
            by=sender,
            by_name=names.get(sender.lower()),
            role=roles.get(sender.lower()),
            at=_iso(log.time),
            block=log.block,
            tx_hash=log.tx_hash,
            stored=row is not None,
            dispute=log.name == "DisputeOpened",
        )
        files.append(entry)
        if log.name == "DisputeOpened":
            reason = None
            if party and row is not None and row["kind"] == "reason":
                found = documents.content(ctx, row["sha256"])
                reason = found[1].decode("utf-8", "replace") if found and found[1] is not None else None
            dispute_info = DisputeInfo(
                **entry.model_dump(include={"by", "by_name", "role", "at", "sha256", "tx_hash"}), reason=reason
            )
    return TradeFiles(dispute=dispute_info, files=files)


def show_trade(ctx: TraceContext, *, trade_id: int, viewer: str | None) -> TradeWithFiles:
    """The trade's read model with its dispute and files as ``viewer`` may see them."""
    trade = show_trade_only(ctx, trade_id=trade_id)
    listed = list_files(ctx, trade_id=trade_id, viewer=viewer)
    return TradeWithFiles.model_validate({**dict(trade), **dict(listed)})


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
