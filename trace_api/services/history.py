"""A batch's verified history: every captured event with its on-chain status, lineage both ways, recalls.

Status of an event:
- verified: its hash is on chain, recorded directly for this batch or under an anchored Merkle root whose
  proof holds (only confirmed blocks are indexed, so nothing below the confirmation depth counts);
- pending: captured, not on chain yet;
- mismatch: the index disagrees with the chain (the stored event no longer hashes to its recorded hash,
  or its proof fails), or the chain names another account than the one that captured the event.

Verified events carry ``actor``, the account the chain names (the recorder, or the root's anchorer). A document
cited by an event is "verified" only when it is intact and was attached by that actor.

Complete timelines: each on-chain step of the batch whose EPCIS body the index does not hold is listed under
``undisclosed``, so nobody can record steps it never discloses, and a crash that lost a body shows.
Events written ahead of their transaction (``awaits``) are not part of the story until recovery releases them.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from eth_utils.crypto import keccak

from trace_api.domain import EXT, QUANTITY_SCALE, BatchKey, batch_key, hx
from trace_api.epcis import event_hash_bytes
from trace_api.epcis.vocab import STEP_CODES
from trace_api.errors import NotFoundError
from trace_api.index import queries
from trace_api.merkle import verify as verify_proof
from trace_api.services import documents
from trace_api.services.batches import DOCUMENT_DETAILS
from trace_api.services.context import TraceContext
from trace_api.services.history_models import (
    BatchHistory,
    CitedDocument,
    EventStatus,
    HashChain,
    LineageLink,
    Reading,
    RecallFacts,
    TimelineEntry,
    Undisclosed,
)

MAX_LINEAGE_DEPTH = 16


def event_status(event: dict[str, Any], row: Any, on_chain: dict[str, Any], roots: dict[str, Any]) -> EventStatus:
    """Where one captured event stands (see the module's docstring): ``row`` is its index row, ``on_chain`` the
    batch's recorded events by hash, ``roots`` the attributed anchorings (`attributed_roots`)."""
    recomputed = hx(event_hash_bytes(event, algorithm=row.hash_algorithm))
    if recomputed != row.event_hash:
        return EventStatus(status="mismatch", reason="stored event does not match its recorded hash")
    if row.mode == "direct":
        chain_row = on_chain.get(row.event_hash)
        if chain_row is None:
            return EventStatus(status="pending")
        if row.capturer and chain_row.actor != row.capturer:
            return EventStatus(
                status="mismatch",
                reason=f"recorded on chain by {chain_row.actor}, not by the account that captured it",
            )
        return EventStatus(
            status="verified",
            how="recorded",
            seq=chain_row.seq,
            block=chain_row.block_number,
            tx_hash=chain_row.tx_hash,
            actor=chain_row.actor,
        )
    if row.root is None or row.root not in roots:
        return EventStatus(status="pending")
    proof = [bytes.fromhex(p[2:]) for p in json.loads(row.proof or "[]")]
    if not verify_proof(bytes.fromhex(row.root[2:]), bytes.fromhex(row.event_hash[2:]), proof):
        return EventStatus(status="mismatch", reason="Merkle proof does not hold")
    root = roots[row.root]
    if row.capturer and root.anchorer != row.capturer:
        return EventStatus(
            status="mismatch", reason=f"anchored by {root.anchorer}, not by the account that captured it"
        )
    return EventStatus(status="verified", how="merkle", root=row.root, block=root.block_number, actor=root.anchorer)


def attributed_roots(ctx: TraceContext, conn: Any, root_ids: list[str]) -> dict[str, Any]:
    """The on-chain anchoring of each root that the events under it are attributed to. Roots are anchored per
    anchorer, so anyone may anchor a copy of a root; when there are several, the one this index sent (its
    `anchor_roots` transaction) is the one shown, else the earliest."""
    by_root: dict[str, list[Any]] = {}
    for r in queries.roots(conn, root_ids):
        by_root.setdefault(r.root, []).append(r)
    chosen = {root: found[0] for root, found in by_root.items()}
    contested = [root for root, found in by_root.items() if len(found) > 1]
    for root, tx_hash in queries.roots_sent(conn, contested).items():
        if tx_hash:
            sender = str(ctx.chain.transaction(tx_hash)["from"]).lower()
            chosen[root] = next((r for r in by_root[root] if r.anchorer == sender), chosen[root])
    return chosen


def lineage(conn: Any, batch_id: str, *, upstream: bool) -> list[LineageLink]:
    """Batches this one was made from (upstream) or that were made from it, transitively, nearest first."""
    seen: dict[str, int] = {}
    frontier = [batch_id]
    for depth in range(1, MAX_LINEAGE_DEPTH + 1):
        if not frontier:
            break
        found = queries.lineage_step(conn, frontier, upstream=upstream)
        frontier = [f for f in dict.fromkeys(found) if f not in seen and f != batch_id]
        for f in frontier:
            seen[f] = depth
    keys = queries.keys_of(conn, list(seen))
    return [
        LineageLink(batch_id=b, depth=d, gtin=keys[b][0], lot=keys[b][1])
        if b in keys
        else LineageLink(batch_id=b, depth=d)
        for b, d in seen.items()
    ]


def _quantity(scaled: str) -> str:
    """On chain in thousandths of the unit (see domain.QUANTITY_SCALE); shown as a decimal."""
    value = Decimal(scaled) / QUANTITY_SCALE
    return f"{value.normalize():f}"


def history(ctx: TraceContext, *, gtin: str, lot: str, sync: bool = True) -> BatchHistory:
    key = batch_key(gtin, lot)
    if sync:
        ctx.sync()
    return history_of(ctx, key)


def history_of(ctx: TraceContext, key: BatchKey) -> BatchHistory:
    bid = key.id_hex
    registry = ctx.chain.ref("TraceRegistry")  # view calls only: no web3 on the read path
    with ctx.engine.connect() as conn:
        batch = queries.batch_row(conn, bid)
        meta_row = queries.batch_metadata(conn, bid)
        if batch is None and meta_row is None:
            raise NotFoundError(f"batch {key.gtin}/{key.lot} is not registered")
        rows = queries.batch_events(conn, bid)
        chain_rows = queries.chain_events(conn, bid)
        root_ids = list({r.root for r in rows if r.root})
        roots = attributed_roots(ctx, conn, root_ids)
        recall = queries.recall_of(conn, bid)
        parents = lineage(conn, bid, upstream=True)
        children = lineage(conn, bid, upstream=False)
        upstream_recalls = queries.recalled_among(conn, [p.batch_id for p in parents])

    on_chain = {r.event_hash: r for r in chain_rows}
    timeline = []
    for row in rows:
        event = json.loads(row.body)
        status = event_status(event, row, on_chain, roots)
        actor = status.actor if status.status == "verified" else None
        docs = [
            CitedDocument(**documents.verify(ctx, d["sha256"], actor=actor).fields(), **_details(d))
            for d in _cited(event)
        ]
        read_point = (event.get("readPoint") or {}).get("id")
        extra: dict[str, Any] = {}
        if isinstance(event.get(f"{EXT}recallReason"), str):
            extra["recall_reason"] = event[f"{EXT}recallReason"]
        if event.get("sensorElementList"):
            extra["readings"] = _readings(event)
        timeline.append(
            TimelineEntry(
                event_hash=row.event_hash,
                type=row.event_type,
                biz_step=row.biz_step,
                event_time=event.get("eventTime"),
                where=read_point,
                disposition=event.get("disposition"),
                process=event.get(f"{EXT}process"),
                serials=[e.rsplit("/21/", 1)[1] for e in event.get("epcList") or [] if "/21/" in e][:10],
                # what a transformation made (its output classes and EPCs): which story it belongs to
                outputs=[q["epcClass"] for q in event.get("outputQuantityList") or [] if isinstance(q, dict)]
                + [e for e in event.get("outputEPCList") or [] if isinstance(e, str)],
                documents=docs,
                **extra,
                **status.fields(),
            )
        )

    shown = {row.event_hash for row in rows if row.mode == "direct"}
    undisclosed = [
        Undisclosed(
            seq=r.seq,
            step=step_name(r.step),
            event_hash=r.event_hash,
            actor=r.actor,
            block=r.block_number,
            tx_hash=r.tx_hash,
        )
        for r in chain_rows
        if r.event_hash not in shown
    ]
    # The hash chain recomputed from the indexed on-chain events must equal the head the contract holds.
    head = bytes.fromhex(bid[2:])
    for r in chain_rows:
        head = keccak(head + bytes.fromhex(r.event_hash[2:]))  # abi.encodePacked(bytes32, bytes32)
    # Read the contract at the height the index has reached, so unconfirmed events neither count as verified
    # nor make the hash chain look broken.
    at = ctx.indexer.checkpoint()
    live = ctx.chain.view(registry, "getBatch", bytes.fromhex(bid[2:]), block=at) if batch is not None else None
    head_ok = live is not None and bytes(live["head"]) == head and int(live["eventCount"]) == len(chain_rows)
    # The index knows the recalls (its own and, through the lineage, upstream) up to the same height.
    recalled = recall is not None or bool(upstream_recalls)
    meta = json.loads(meta_row) if meta_row else {}
    return BatchHistory(
        batch_id=bid,
        gtin=key.gtin,
        lot=key.lot,
        metadata=meta,
        registered=batch is not None,
        producer=batch.producer if batch else None,
        custodian=live["custodian"].lower() if live else None,
        quantity=_quantity(batch.quantity) if batch else None,
        uom=batch.uom if batch else None,
        recalled=recalled,
        recall=RecallFacts.model_validate(
            {
                "self": recall is not None,
                "upstream": list(upstream_recalls),
                "reason_hash": recall.reason_hash if recall else None,
                "block": recall.block_number if recall else None,
            }
        ),
        hash_chain=HashChain(
            ok=head_ok, events_on_chain=len(chain_rows), head=hx(bytes(live["head"])) if live else None
        ),
        timeline=timeline,
        undisclosed=undisclosed,
        pending=sum(1 for e in timeline if e.status == "pending"),
        complete=not undisclosed,
        parents=parents,
        children=children,
    )


def step_name(code: int) -> str:
    return next((name for name, value in STEP_CODES.items() if value == code), str(code))


def _cited(event: dict[str, Any]) -> list[dict[str, Any]]:
    docs = event.get(f"{EXT}documents")
    return (
        [d for d in docs if isinstance(d, dict) and isinstance(d.get("sha256"), str)] if isinstance(docs, list) else []
    )


def _details(cited: dict[str, Any]) -> dict[str, Any]:
    """What the event says about a document it cites (type, issuer, validity): under the event hash, so on chain."""
    return {k: cited[k] for k in DOCUMENT_DETAILS if isinstance(cited.get(k), str)}


def _readings(event: dict[str, Any]) -> list[Reading]:
    """An event's numeric sensor reports: measurement type (the CBV name without its prefix), value, unit. A
    non-finite value (stored by an older version) is no reading."""
    found = []
    for element in event.get("sensorElementList") or []:
        for report in element.get("sensorReport") or [] if isinstance(element, dict) else []:
            value = report.get("value") if isinstance(report, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                found.append(
                    Reading(
                        type=str(report.get("type", "reading")).rsplit("-", 1)[-1].rsplit(":", 1)[-1],
                        value=value,
                        uom=str(report.get("uom", "")),
                    )
                )
    return found


def undisclosed_note(count: int) -> str:
    return f"{count} step{'s' if count != 1 else ''} recorded on chain without details"


def events_of(ctx: TraceContext, key: BatchKey) -> list[dict[str, Any]]:
    """The captured EPCIS events of a batch, in event-time order; NotFoundError for a batch nobody registered."""
    with ctx.engine.connect() as conn:
        bodies = queries.batch_event_bodies(conn, key.id_hex)
        if not bodies and not queries.is_known(conn, key.id_hex):
            raise NotFoundError(f"batch {key.gtin}/{key.lot} is not registered")
        return [json.loads(b) for b in bodies]
