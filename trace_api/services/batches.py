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
import functools
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import delete, insert, select
from web3 import Web3

from qr import digital_link
from qr.errors import DigitalLinkError
from trace_api.chain.accounts import DEV_ACCOUNTS, dev_account
from trace_api.epcis import event_hash_bytes, parse_event
from trace_api.epcis.vocab import STEP_CODES, step_code
from trace_api.errors import NotFoundError, ValidationError
from trace_api.index import schema as t
from trace_api.index.indexer import hx
from trace_api.services.context import TraceContext
from trace_api.services import documents

ROLES = ("producer", "processor", "carrier", "inspector", "retailer", "admin")
QUANTITY_SCALE = 1000  # quantities go on chain in thousandths of the unit of measure
CBV = "https://ref.gs1.org/cbv/"
EXT = "https://trace.example.org/ns/"  # our EPCIS extension namespace (a URI, never fetched)


@dataclass(frozen=True)
class BatchKey:
    gtin: str
    lot: str

    @functools.cached_property
    def id(self) -> bytes:
        return digital_link.batch_id(self.gtin, self.lot)

    @functools.cached_property
    def id_hex(self) -> str:
        return hx(self.id)

    @functools.cached_property
    def epc_class(self) -> str:
        return f"https://id.gs1.org{digital_link.key_path(self.gtin, self.lot)}"


@functools.lru_cache(maxsize=65536)
def batch_key(gtin: str, lot: str) -> BatchKey:
    """Validate a GTIN (check digit) and a lot (GS1 AI 10 rules). Cached: an import names few batches, often."""
    try:
        return BatchKey(digital_link.normalize_gtin(gtin), digital_link.validate_lot(lot))
    except DigitalLinkError as exc:
        raise ValidationError(str(exc)) from exc


def parse_gln(gln: str | None) -> int:
    """A GLN (13 digits, GS1 check digit) as the uint64 that goes on chain; 0 when absent."""
    if not gln:
        return 0
    if len(gln) != 13 or not gln.isdigit():
        raise ValidationError(f"GLN {gln!r}: must be 13 digits")
    digits = [int(c) for c in gln[:12]]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    if check != int(gln[12]):
        raise ValidationError(f"GLN {gln}: invalid check digit, expected {check}")
    return int(gln)


def resolve_account(value: str | None, *, dev_names: bool = False) -> str:
    """An address from a 0x address, or a dev account name where ``dev_names`` (the local dev chain only: those
    keys are public); the zero address when empty."""
    if not value:
        return "0x" + "00" * 20
    if value in DEV_ACCOUNTS:
        if not dev_names:
            raise ValidationError(f"{value!r}: dev account names exist only on the local chain; give an address")
        return dev_account(value).address
    if Web3.is_address(value):
        return Web3.to_checksum_address(value)
    raise ValidationError(f"{value!r} is neither an address nor a dev account name")


def _quantity(value: str | Decimal | int | None) -> int:
    if value is None:
        return 0
    try:
        qty = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError(f"quantity {value!r} is not a number") from exc
    scaled = qty * QUANTITY_SCALE
    if qty < 0 or scaled != scaled.to_integral_value() or scaled >= 2**128:
        raise ValidationError(f"quantity {value}: must be ≥ 0 with at most 3 decimals")
    return int(scaled)


def _uom(uom: str | None) -> bytes:
    if not uom:
        return b"\0" * 8
    if not (1 <= len(uom) <= 8 and uom.isalnum() and uom.isupper()):
        raise ValidationError(f"unit of measure {uom!r}: use a UN/ECE Rec 20 code such as KGM, LTR, H87")
    return uom.encode().ljust(8, b"\0")


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def metadata_hash(metadata: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(metadata).encode()).digest()


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- writes ----
def register_batch(
    ctx: TraceContext, *, account: LocalAccount, gtin: str, lot: str, quantity: str | None = None,
    uom: str | None = None, metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    key = batch_key(gtin, lot)
    meta = {"gtin": key.gtin, "lot": key.lot, **(metadata or {})}
    fn = ctx.registry.functions.registerBatch(key.id, metadata_hash(meta), _quantity(quantity), _uom(uom))
    sender = ctx.sender(account)
    sender.call(fn)  # refused (already registered, no role) before anything is written
    _save_key(ctx, key, meta)
    receipt = sender.transact(fn)
    ctx.sync()
    return {"batch_id": key.id_hex, "gtin": key.gtin, "lot": key.lot, "tx_hash": hx(receipt["transactionHash"]),
            "block": receipt["blockNumber"], "gas_used": receipt["gasUsed"]}


def derive_batch(
    ctx: TraceContext, *, account: LocalAccount, gtin: str, lot: str, parents: list[tuple[str, str]],
    quantity: str | None = None, uom: str | None = None, metadata: dict[str, Any] | None = None,
    when: str | None = None, process: str | None = None,
) -> dict[str, Any]:
    key = batch_key(gtin, lot)
    parent_keys = [batch_key(g, l) for g, l in parents]
    if not parent_keys:
        raise ValidationError("a derived batch needs at least one parent (--from GTIN LOT)")
    meta = {"gtin": key.gtin, "lot": key.lot, "parents": [p.id_hex for p in parent_keys], **(metadata or {})}
    fn = ctx.registry.functions.deriveBatch(
        key.id, [p.id for p in parent_keys], metadata_hash(meta), _quantity(quantity), _uom(uom)
    )
    sender = ctx.sender(account)
    sender.call(fn)
    _save_key(ctx, key, meta)
    # The transformation itself, as EPCIS describes it: inputs consumed, output produced. Written ahead, it waits
    # for the derive to be indexed before it is anchored or shown.
    event = {
        "type": "TransformationEvent", "eventTime": when or now_utc(), "eventTimeZoneOffset": "+00:00",
        "inputQuantityList": [{"epcClass": p.epc_class} for p in parent_keys],
        "outputQuantityList": [{"epcClass": key.epc_class}],
    }
    if process:  # CBV 2.0 has no bizStep for a transformation; say what it was in our extension
        event[f"{EXT}process"] = process
    hashes = _store_events(ctx, [(event, [key, *parent_keys])], mode="anchor", source="derive", account=account,
                           awaits=f"derive:{key.id_hex}")
    receipt = _send(ctx, sender, fn, hashes)
    root = _released(ctx, account, hashes)
    return {"batch_id": key.id_hex, "gtin": key.gtin, "lot": key.lot, "parents": [p.id_hex for p in parent_keys],
            "tx_hash": hx(receipt["transactionHash"]), "block": receipt["blockNumber"], "event_hash": hashes[0] if hashes else None,
            "anchored_root": root}


def _save_key(ctx: TraceContext, key: BatchKey, meta: dict[str, Any]) -> None:
    """Write the batch's key and metadata ahead of its registration. The dry run passed, so the batch is not on
    chain: metadata an earlier, unfinished attempt left is replaced."""
    with ctx.engine.begin() as conn:
        conn.execute(delete(t.batch_keys).where(t.batch_keys.c.batch_id == key.id_hex))
        conn.execute(insert(t.batch_keys).values(
            batch_id=key.id_hex, gtin=key.gtin, lot=key.lot, metadata=canonical_json(meta)
        ))


def _send(ctx: TraceContext, sender: Any, fn: Any, hashes: list[str]) -> Any:
    """Send a transaction whose events were written ahead; if the chain refuses it, they go too."""
    from trace_api.errors import ContractRevert
    from trace_api.services.events import discard

    try:
        return sender.transact(fn)
    except ContractRevert:
        discard(ctx.engine, hashes)
        raise


def _released(ctx: TraceContext, account: LocalAccount, hashes: list[str]) -> str | None:
    """After the transaction: its written-ahead events join the story and are anchored (their root, or None
    when they still wait for the transaction to be confirmed; `trace anchor` finishes them then)."""
    from trace_api.services.events import anchor_now, resolve_awaiting

    ctx.sync()
    resolve_awaiting(ctx)
    return anchor_now(ctx, account=account, hashes=hashes)


def build_event(
    *, key: BatchKey, step: str, gln: str | None = None, to: str | None = None,
    docs: list[dict[str, Any]] | None = None, when: str | None = None, shipper: str | None = None,
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
        event[f"{EXT}documents"] = [{"sha256": d["sha256"], "name": d["name"], "private": d["private"]} for d in docs]
    return event


def record_event(
    ctx: TraceContext, *, account: LocalAccount, gtin: str, lot: str, step: str, gln: str | None = None,
    to: str | None = None, doc: Path | None = None, private: bool = False, recipients: list[str] | None = None,
    when: str | None = None,
) -> dict[str, Any]:
    key = batch_key(gtin, lot)
    code = step_code(step)
    if code is None:
        steps = ", ".join(s for s in STEP_CODES if s != "transforming")
        raise ValidationError(f"step {step!r} cannot be recorded on chain; use one of the lifecycle steps: {steps} "
                              "(other CBV 2.0 steps go in through `trace import`)")
    location = parse_gln(gln)
    consignee = resolve_account(to, dev_names=ctx.dev_chain)
    prepared = documents.prepare(ctx.settings, path=doc, private=private, recipients=recipients or []) if doc else None
    event = build_event(key=key, step=step, gln=gln, to=consignee, docs=[prepared.info] if prepared else None,
                        when=when, shipper=account.address)
    parse_event(event)
    event_hash = event_hash_bytes(event)
    fn = ctx.registry.functions.recordEvent(key.id, code, event_hash, location, consignee)
    sender = ctx.sender(account)
    sender.call(fn)
    if prepared:
        documents.commit(ctx, prepared, owner=account.address)
    # Pending until the chain has it: `trace anchor` records it if this process dies before sending.
    hashes = _store_events(ctx, [(event, [key])], mode="direct", source="cli", account=account)
    receipt = _send(ctx, sender, fn, hashes)
    ctx.sync()
    return {"batch_id": key.id_hex, "step": step, "event_hash": hx(event_hash),
            "tx_hash": hx(receipt["transactionHash"]), "block": receipt["blockNumber"],
            "gas_used": receipt["gasUsed"]}


def recall_batch(ctx: TraceContext, *, account: LocalAccount, gtin: str, lot: str, reason: str) -> dict[str, Any]:
    key = batch_key(gtin, lot)
    if not reason.strip():
        raise ValidationError("a recall needs a reason")
    reason_hash = hashlib.sha256(reason.encode()).digest()
    fn = ctx.registry.functions.recall(key.id, reason_hash)
    sender = ctx.sender(account)
    sender.call(fn)
    event = build_event(key=key, step="holding")
    event["disposition"] = "recalled"
    event[f"{EXT}recallReason"] = reason
    hashes = _store_events(ctx, [(event, [key])], mode="anchor", source="recall", account=account,
                           awaits=f"recall:{key.id_hex}")
    receipt = _send(ctx, sender, fn, hashes)
    root = _released(ctx, account, hashes)
    return {"batch_id": key.id_hex, "recalled": True, "reason_hash": hx(reason_hash),
            "tx_hash": hx(receipt["transactionHash"]), "anchored_root": root}


def set_role(ctx: TraceContext, *, account: LocalAccount, role: str, member: str, grant: bool) -> dict[str, Any]:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    role_id = (b"\0" * 32) if role == "admin" else Web3.keccak(text=f"{role.upper()}_ROLE")
    address = resolve_account(member, dev_names=ctx.dev_chain)
    fn = (ctx.registry.functions.grantRole if grant else ctx.registry.functions.revokeRole)(role_id, address)
    receipt = ctx.sender(account).transact(fn)
    return {"role": role, "account": address, "granted": grant, "tx_hash": hx(receipt["transactionHash"])}


def _store_events(
    ctx: TraceContext, items: list[tuple[dict[str, Any], list[BatchKey]]], *, mode: str, source: str,
    account: LocalAccount, awaits: str | None = None,
) -> list[str]:
    """Write captured events (and their batch links) to the index, attributed to ``account``; an event already
    there is skipped. Events an earlier attempt of the same transaction wrote ahead are replaced: its dry run has
    just passed, so that attempt never reached the chain (or, still pending, is adopted by the sender)."""
    from trace_api.services.events import discard, insert_events

    if awaits is not None:
        with ctx.engine.connect() as conn:
            stale = list(conn.execute(select(t.epcis_events.c.event_hash).where(
                t.epcis_events.c.awaits == awaits, t.epcis_events.c.capturer == account.address.lower())).scalars())
        discard(ctx.engine, stale)

    return insert_events(ctx.engine, [(e, [k.id_hex for k in keys]) for e, keys in items], mode=mode, source=source,
                         capturer=account.address, awaits=awaits)


def require_batch(ctx: TraceContext, key: BatchKey) -> None:
    if not ctx.registry.functions.exists(key.id).call():
        raise NotFoundError(f"batch {key.gtin}/{key.lot} is not registered")
