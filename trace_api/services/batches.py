"""Batches: register, derive, record lifecycle events, recall, roles.

Each write is checked by a dry run of the transaction first. Then, write-ahead: whatever the index needs after
the transaction (the batch's metadata, the EPCIS event, its documents) is written before it is sent, marked
pending where it must not count yet (a direct event is pending until the chain records it; a derive's or recall's
event waits on ``awaits`` until the indexer sees the transaction's effect). A crash at any moment therefore loses
nothing that reached the chain, and recovery (`trace anchor`) finishes what was written: it records a direct event
the chain does not have, and releases awaiting events once their transaction is indexed. A transaction the chain
refuses takes its pending rows with it."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trace_api.domain import (
    EXT,
    BatchKey,
    batch_key,
    canonical_json,
    hx,
    metadata_hash,
    now_utc,
    parse_gln,
    parse_quantity,
    parse_uom,
    resolve_account,
)
from trace_api.epcis import event_hash_bytes
from trace_api.epcis.vocab import STEP_CODES, step_code
from trace_api.errors import ContractRevert, NotFoundError, ValidationError
from trace_api.index import queries_batches as qb
from trace_api.services import documents
from trace_api.services.batch_models import BatchDerived, BatchRecalled, BatchRegistered, EventRecorded, RoleChanged
from trace_api.services.context import TraceContext
from trace_api.services.events import discard, insert_events, resolve_awaiting
from trace_api.services.roots import anchor_now

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

ROLES = ("producer", "processor", "carrier", "inspector", "retailer", "admin")


# ---- writes ----
def register_batch(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    gtin: str,
    lot: str,
    quantity: str | None = None,
    uom: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> BatchRegistered:
    key = batch_key(gtin, lot)
    meta = {"gtin": key.gtin, "lot": key.lot, **(metadata or {})}
    fn = ctx.chain.ref("TraceRegistry").fn(
        "registerBatch", key.id, metadata_hash(meta), parse_quantity(quantity), parse_uom(uom)
    )
    sender = ctx.sender(account)
    sender.call(fn)  # refused (already registered, no role) before anything is written
    _save_key(ctx, key, meta)
    receipt = sender.transact(fn)
    ctx.sync()
    return BatchRegistered(
        batch_id=key.id_hex,
        gtin=key.gtin,
        lot=key.lot,
        tx_hash=hx(receipt["transactionHash"]),
        block=receipt["blockNumber"],
        gas_used=receipt["gasUsed"],
    )


def derive_batch(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    gtin: str,
    lot: str,
    parents: list[tuple[str, str]],
    quantity: str | None = None,
    uom: str | None = None,
    metadata: dict[str, Any] | None = None,
    when: str | None = None,
    process: str | None = None,
    source: str,
) -> BatchDerived:
    """Register a batch made from ``parents`` and write the TransformationEvent that says so; ``source`` names the
    channel it came through (cli, http, demo)."""
    key = batch_key(gtin, lot)
    parent_keys = [batch_key(gtin_, lot_) for gtin_, lot_ in parents]
    if not parent_keys:
        raise ValidationError("a derived batch needs at least one parent (--from GTIN LOT)")
    meta = {"gtin": key.gtin, "lot": key.lot, "parents": [p.id_hex for p in parent_keys], **(metadata or {})}
    fn = ctx.chain.ref("TraceRegistry").fn(
        "deriveBatch",
        key.id,
        [p.id for p in parent_keys],
        metadata_hash(meta),
        parse_quantity(quantity),
        parse_uom(uom),
    )
    sender = ctx.sender(account)
    sender.call(fn)
    _save_key(ctx, key, meta)
    # The transformation itself, as EPCIS describes it: inputs consumed, output produced. Written ahead, it waits
    # for the derive to be indexed before it is anchored or shown.
    event = {
        "type": "TransformationEvent",
        "eventTime": when or now_utc(),
        "eventTimeZoneOffset": "+00:00",
        "inputQuantityList": [{"epcClass": p.epc_class} for p in parent_keys],
        "outputQuantityList": [{"epcClass": key.epc_class}],
    }
    if process:  # CBV 2.0 has no bizStep for a transformation; say what it was in our extension
        event[f"{EXT}process"] = process
    hashes = _store_events(
        ctx,
        [(event, [key, *parent_keys])],
        mode="anchor",
        source=source,
        account=account,
        awaits=f"derive:{key.id_hex}",
    )
    receipt = _send(ctx, sender, fn, hashes)
    root = _released(ctx, account, hashes)
    return BatchDerived(
        batch_id=key.id_hex,
        gtin=key.gtin,
        lot=key.lot,
        parents=[p.id_hex for p in parent_keys],
        tx_hash=hx(receipt["transactionHash"]),
        block=receipt["blockNumber"],
        event_hash=hashes[0] if hashes else None,
        anchored_root=root,
    )


def _save_key(ctx: TraceContext, key: BatchKey, meta: dict[str, Any]) -> None:
    """Write the batch's key and metadata ahead of its registration. The dry run passed, so the batch is not on
    chain: metadata an earlier, unfinished attempt left is replaced."""
    with ctx.engine.begin() as conn:
        qb.replace_key(conn, batch_id=key.id_hex, gtin=key.gtin, lot=key.lot, metadata=canonical_json(meta))


def _send(ctx: TraceContext, sender: Any, fn: Any, hashes: list[str]) -> Any:
    """Send a transaction whose events were written ahead; if the chain refuses it, they go too."""

    try:
        return sender.transact(fn)
    except ContractRevert:
        discard(ctx.engine, hashes)
        raise


def _released(ctx: TraceContext, account: LocalAccount, hashes: list[str]) -> str | None:
    """After the transaction: its written-ahead events join the story and are anchored (their root, or None
    when they still wait for the transaction to be confirmed; `trace anchor` finishes them then)."""
    ctx.sync()
    resolve_awaiting(ctx)
    return anchor_now(ctx, account=account, hashes=hashes)


def build_event(
    *,
    key: BatchKey,
    step: str,
    gln: str | None = None,
    to: str | None = None,
    docs: list[dict[str, Any]] | None = None,
    when: str | None = None,
    shipper: str | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 ObjectEvent for one lifecycle step of a batch.

    A shipment says what CBV 2.0 expects of one: where it leaves from and who possesses the goods before and
    after (``sourceList``/``destinationList``; accounts as ``ethereum:`` URIs, places as GLN Digital Links)."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": when or now_utc(),
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD" if step == "commissioning" else "OBSERVE",
        "bizStep": step,
        "quantityList": [{"epcClass": key.epc_class}],
    }
    if gln:
        event["readPoint"] = {"id": f"https://id.gs1.org/414/{gln}"}
        event["bizLocation"] = {"id": f"https://id.gs1.org/414/{gln}"}
    if to and int(to, 16):
        event[f"{EXT}consignee"] = to.lower()
    if step == "shipping":
        sources = [{"type": "possessing_party", "source": f"ethereum:{shipper.lower()}"}] if shipper else []
        if gln:
            sources.append({"type": "location", "source": f"https://id.gs1.org/414/{gln}"})
        if sources:
            event["sourceList"] = sources
        if to and int(to, 16):
            event["destinationList"] = [{"type": "possessing_party", "destination": f"ethereum:{to.lower()}"}]
    if docs:
        event[f"{EXT}documents"] = [
            {
                "sha256": d["sha256"],
                "name": d["name"],
                "private": d["private"],
                **{k: d[k] for k in DOCUMENT_DETAILS if d.get(k)},
            }
            for d in docs
        ]
    return event


DOCUMENT_DETAILS = ("type", "issuer", "valid_from", "valid_until")


def _document_details(details: dict[str, str], *, doc: Path | None, private: bool) -> dict[str, str]:
    given = {k: str(v).strip() for k, v in details.items() if v is not None and str(v).strip()}
    if not given:
        return {}
    unknown = sorted(set(given) - set(DOCUMENT_DETAILS))
    if unknown:
        raise ValidationError(f"unknown document detail {', '.join(unknown)}; use {', '.join(DOCUMENT_DETAILS)}")
    if doc is None:
        raise ValidationError("document details need a document (--doc FILE)")
    if private:
        raise ValidationError(
            "a private document's details would be public in its event: describe public documents only"
        )
    for k in ("valid_from", "valid_until"):
        if k in given:
            try:
                dt.date.fromisoformat(given[k])
            except ValueError as exc:
                raise ValidationError(f"{k} {given[k]!r} is not a date (YYYY-MM-DD)") from exc
    if len(given.get("type", "") + given.get("issuer", "")) > 400:
        raise ValidationError("document type and issuer: 400 characters at most")
    if given.get("valid_from", "") > given.get("valid_until", "9999"):
        raise ValidationError(f"valid_from {given['valid_from']} is after valid_until {given['valid_until']}")
    return given


def record_event(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    gtin: str,
    lot: str,
    step: str,
    gln: str | None = None,
    to: str | None = None,
    doc: Path | None = None,
    private: bool = False,
    recipients: list[str] | None = None,
    when: str | None = None,
    doc_details: dict[str, str] | None = None,
    source: str,
) -> EventRecorded:
    """Record a lifecycle event on chain; ``source`` names the channel it came through (cli, http, demo).
    ``doc_details`` describes a public document to whoever scans it: its ``type``, ``issuer``, ``valid_from``
    and ``valid_until`` (ISO dates); they go into the event, so under its hash on chain."""
    from trace_api.epcis import parse_event  # the pydantic model: only writes load it

    key = batch_key(gtin, lot)
    details = _document_details(doc_details or {}, doc=doc, private=private)
    code = step_code(step)
    if code is None:
        steps = ", ".join(s for s in STEP_CODES if s != "transforming")
        raise ValidationError(
            f"step {step!r} cannot be recorded on chain; use one of the lifecycle steps: {steps} "
            "(other CBV 2.0 steps go in through `trace import`)"
        )
    location = parse_gln(gln)
    consignee = resolve_account(to, dev_names=ctx.dev_chain)
    prepared = documents.prepare(ctx.settings, path=doc, private=private, recipients=recipients or []) if doc else None
    event = build_event(
        key=key,
        step=step,
        gln=gln,
        to=consignee,
        docs=[prepared.info | details] if prepared else None,
        when=when,
        shipper=account.address,
    )
    parse_event(event)
    event_hash = event_hash_bytes(event)
    fn = ctx.chain.ref("TraceRegistry").fn("recordEvent", key.id, code, event_hash, location, consignee)
    sender = ctx.sender(account)
    sender.call(fn)
    if prepared:
        documents.commit(ctx, prepared, owner=account.address)
    # Pending until the chain has it: `trace anchor` records it if this process dies before sending.
    hashes = _store_events(ctx, [(event, [key])], mode="direct", source=source, account=account)
    receipt = _send(ctx, sender, fn, hashes)
    ctx.sync()
    return EventRecorded(
        batch_id=key.id_hex,
        step=step,
        event_hash=hx(event_hash),
        tx_hash=hx(receipt["transactionHash"]),
        block=receipt["blockNumber"],
        gas_used=receipt["gasUsed"],
    )


def recall_batch(
    ctx: TraceContext, *, account: LocalAccount, gtin: str, lot: str, reason: str, source: str
) -> BatchRecalled:
    """Recall a batch, with its recall event (disposition recalled, the reason); ``source`` as for a derive."""
    key = batch_key(gtin, lot)
    if not reason.strip():
        raise ValidationError("a recall needs a reason")
    reason_hash = hashlib.sha256(reason.encode()).digest()
    fn = ctx.chain.ref("TraceRegistry").fn("recall", key.id, reason_hash)
    sender = ctx.sender(account)
    sender.call(fn)
    event = build_event(key=key, step="holding")
    event["disposition"] = "recalled"
    event[f"{EXT}recallReason"] = reason
    hashes = _store_events(
        ctx, [(event, [key])], mode="anchor", source=source, account=account, awaits=f"recall:{key.id_hex}"
    )
    receipt = _send(ctx, sender, fn, hashes)
    root = _released(ctx, account, hashes)
    return BatchRecalled(
        batch_id=key.id_hex,
        recalled=True,
        reason_hash=hx(reason_hash),
        tx_hash=hx(receipt["transactionHash"]),
        anchored_root=root,
    )


def set_role(ctx: TraceContext, *, account: LocalAccount, role: str, member: str, grant: bool) -> RoleChanged:
    from eth_utils.crypto import keccak

    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    role_id = (b"\0" * 32) if role == "admin" else keccak(text=f"{role.upper()}_ROLE")
    address = resolve_account(member, dev_names=ctx.dev_chain)
    fn = ctx.chain.ref("TraceRegistry").fn("grantRole" if grant else "revokeRole", role_id, address)
    receipt = ctx.sender(account).transact(fn)
    return RoleChanged(role=role, account=address, granted=grant, tx_hash=hx(receipt["transactionHash"]))


def _store_events(
    ctx: TraceContext,
    items: list[tuple[dict[str, Any], list[BatchKey]]],
    *,
    mode: str,
    source: str,
    account: LocalAccount,
    awaits: str | None = None,
) -> list[str]:
    """Write captured events (and their batch links) to the index, attributed to ``account``; an event already
    there is skipped. Events an earlier attempt of the same transaction wrote ahead are replaced: its dry run has
    just passed, so that attempt never reached the chain (or, still pending, is adopted by the sender)."""

    if awaits is not None:
        with ctx.engine.connect() as conn:
            stale = qb.awaiting(conn, awaits, account.address.lower())
        discard(ctx.engine, stale)

    return insert_events(
        ctx.engine,
        [(e, [k.id_hex for k in keys]) for e, keys in items],
        mode=mode,
        source=source,
        capturer=account.address,
        awaits=awaits,
    )


def require_batch(ctx: TraceContext, key: BatchKey) -> None:
    if not ctx.chain.view(ctx.chain.ref("TraceRegistry"), "exists", key.id):
        raise NotFoundError(f"batch {key.gtin}/{key.lot} is not registered")
