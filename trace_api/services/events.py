"""Captured EPCIS events: storing them (and forgetting those the chain refused), recording pending lifecycle events
on chain, and releasing events written ahead of a derive or recall. Anchoring under Merkle roots is in ``roots``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from trace_api.domain import hx
from trace_api.epcis import HASH_ALGORITHM, event_hash_bytes
from trace_api.epcis.identifiers import gln_of
from trace_api.epcis.vocab import biz_step_name, step_code
from trace_api.errors import ContractRevert, ValidationError
from trace_api.index import queries_events as qe
from trace_api.index.queries_imports import recorded_among
from trace_api.services.context import TraceContext

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

log = logging.getLogger("trace_api.events")
DIRECT_CHUNK = 100  # lifecycle events per recordEvents transaction


def biz_step_of(event: dict[str, Any]) -> str | None:
    """The CBV short name of an event's bizStep, or the value as given when it is not a CBV step."""
    value = event.get("bizStep")
    if not isinstance(value, str) or not value:
        return None
    return biz_step_name(value) or value[:64]


def parse_time(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise ValidationError(f"eventTime {value!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise ValidationError(f"eventTime {value!r} needs a timezone offset")
    return parsed.astimezone(dt.UTC)


@dataclass(frozen=True)
class Captured:
    event_hash: str
    row: dict[str, Any]
    links: list[dict[str, Any]]


def capture(
    event: dict[str, Any],
    batch_ids: Iterable[str],
    *,
    mode: str,
    source: str,
    seq: int,
    capturer: str,
    awaits: str | None = None,
) -> Captured:
    event_hash = hx(event_hash_bytes(event))
    when = parse_time(event["eventTime"])
    row = {
        "event_hash": event_hash,
        "event_type": event["type"],
        "biz_step": biz_step_of(event),
        "event_time": when,
        "body": json.dumps(event, separators=(",", ":"), allow_nan=False),
        "mode": mode,
        "root": None,
        "proof": None,
        "source": source,
        "created_seq": seq,
        "hash_algorithm": HASH_ALGORITHM,
        "capturer": capturer.lower(),
        "awaits": awaits,
    }
    links = [{"batch_id": b, "event_time": when, "event_hash": event_hash} for b in dict.fromkeys(batch_ids)]
    return Captured(event_hash, row, links)


def insert_captured(conn: Connection, captured: list[Captured]) -> None:
    qe.insert_captured(conn, [c.row for c in captured], [link for c in captured for link in c.links])


def insert_events(
    engine: Engine,
    items: list[tuple[dict[str, Any], list[str]]],
    *,
    mode: str,
    source: str,
    capturer: str,
    awaits: str | None = None,
) -> list[str]:
    seq = time.time_ns()
    captured = [
        capture(e, ids, mode=mode, source=source, seq=seq + i, capturer=capturer, awaits=awaits)
        for i, (e, ids) in enumerate(items)
    ]
    with engine.begin() as conn:
        insert_captured(conn, captured)
    return [c.event_hash for c in captured]


def discard(engine: Engine, hashes: Iterable[str]) -> None:
    """Forget captured events that never reached the chain (their transaction was refused): nothing stays pending."""
    hashes = list(hashes)
    if not hashes:
        return
    with engine.begin() as conn:
        qe.delete_events(conn, hashes)


def discard_unsent(ctx: TraceContext, *, source: str) -> int:
    """After a failed capture: drop its events that are on chain neither directly nor under an anchored root,
    and the roots of them that were never anchored. Returns how many events were dropped."""

    registry = ctx.chain.ref("TraceRegistry")
    with ctx.engine.connect() as conn:
        rows = qe.of_source(conn, source)
    recorded = _recorded_hashes(ctx, [r.event_hash for r in rows if r.mode == "direct"])
    roots = {r.root for r in rows if r.root}
    with ctx.engine.connect() as conn:
        anchorers = qe.anchorers_of(conn, roots)
    anchored: dict[str, bool] = {}
    for root in roots:  # roots are anchored per anchorer: only the capturer's own anchoring counts
        anchorer = anchorers.get(root) or "0x" + "00" * 20
        anchored_at, _ = ctx.chain.view(registry, "rootInfo", anchorer, bytes.fromhex(root[2:]))
        anchored[root] = anchored_at != 0
    drop = [
        r.event_hash
        for r in rows
        if (r.event_hash not in recorded if r.mode == "direct" else not anchored.get(r.root or "", False))
    ]
    discard(ctx.engine, drop)
    dead = [root for root, ok in anchored.items() if not ok]
    if dead:
        with ctx.engine.begin() as conn:
            qe.delete_roots(conn, dead)
    return len(drop)


def _recorded_hashes(ctx: TraceContext, hashes: list[str]) -> set[str]:
    """Which of these event hashes the chain has recorded, confirmed (indexed) or not yet."""
    if not hashes:
        return set()
    with ctx.engine.connect() as conn:
        found = recorded_among(conn, hashes)
    return found | (_unconfirmed_hashes(ctx) & set(hashes))


def _unconfirmed_hashes(ctx: TraceContext) -> set[str]:
    """Event hashes recorded in blocks the index has not reached yet (above the confirmation depth)."""
    return {hx(args["eventHash"]) for args in ctx.indexer.unconfirmed("EventRecorded")}


def send_direct(ctx: TraceContext, *, account: LocalAccount, only: set[str] | None = None) -> int:
    """Record on chain the lifecycle events (mode direct) that ``account`` captured and the chain does not have
    yet, in order. Never another account's: the chain would record them as this account's steps.

    ``only`` limits it to the events of one import run. An event is left alone when it is already on chain,
    confirmed or not, or when its batch is not (a reorg dropped the registration). An event the chain now refuses
    (its dry run reverts: custody moved, the batch was recalled) is discarded, so it neither stays pending nor
    holds back the others.
    """
    ctx.sync()
    with ctx.engine.connect() as conn:
        rows = qe.unsent_direct(conn, account.address.lower())
    if only is not None:
        rows = [r for r in rows if r.event_hash in only]
    if rows:
        recent = _unconfirmed_hashes(ctx)
        rows = [r for r in rows if r.event_hash not in recent]
    if not rows:
        return 0
    inputs = [(event_hash, direct_input(json.loads(body), batch_id, event_hash)) for event_hash, body, batch_id in rows]
    registry, sender = ctx.chain.ref("TraceRegistry"), ctx.sender(account)
    try:
        sender.call(registry.fn("recordEvents", [i for _, i in inputs]))
    except ContractRevert:  # some event is refused: find which, one by one, in order
        inputs = _recordable(ctx, account, inputs)
    if not inputs:
        return 0
    pending = []
    for i in range(0, len(inputs), DIRECT_CHUNK):
        pending.append(sender.submit(registry.fn("recordEvents", [x for _, x in inputs[i : i + DIRECT_CHUNK]])))
    for tx_hash in pending:
        sender.wait(tx_hash)
    ctx.sync()
    return len(inputs)


def _recordable(ctx: TraceContext, account: LocalAccount, inputs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The inputs whose own dry run passes; the others are discarded (logged by hash)."""
    registry, sender = ctx.chain.ref("TraceRegistry"), ctx.sender(account)
    keep, refused = [], []
    for event_hash, item in inputs:
        try:
            sender.call(registry.fn("recordEvents", [item]))
            keep.append((event_hash, item))
        except ContractRevert:  # the chain refuses this one now
            refused.append(event_hash)
    log.warning("discarded %d captured lifecycle event(s) the chain refuses: %s", len(refused), ", ".join(refused[:5]))
    discard(ctx.engine, refused)
    return keep


def direct_input(event: dict[str, Any], batch_id: str, event_hash: str) -> tuple[Any, ...]:
    from trace_api.domain import EXT, parse_gln, resolve_account

    code = step_code(event.get("bizStep") or "")
    if code is None:
        raise ValidationError(f"bizStep {event.get('bizStep')!r} has no on-chain step")
    gln = gln_of(event.get("readPoint"))  # SGLN URN or Digital Link; any other location id is not a GLN
    to = resolve_account(event.get(f"{EXT}consignee"))
    return (bytes.fromhex(batch_id[2:]), code, bytes.fromhex(event_hash[2:]), parse_gln(gln or None), to)


def resolve_awaiting(ctx: TraceContext) -> int:
    """Write-ahead recovery: events written before a transaction (derive:<id>, recall:<id>) join the story once
    the transaction's effect is indexed. Returns how many were released."""
    with ctx.engine.connect() as conn:
        waiting = qe.awaiting_rows(conn)
        if not waiting:
            return 0
        derived, recalled = qe.derived_by(conn), qe.recalled_by(conn)
    done = []
    for row in waiting:
        kind, _, batch_id = row.awaits.partition(":")
        if (batch_id, row.capturer) in (derived if kind == "derive" else recalled):
            done.append(row.event_hash)
    if done:
        with ctx.engine.begin() as conn:
            qe.release(conn, done)
    return len(done)
