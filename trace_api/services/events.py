"""Captured EPCIS events: storing, anchoring under Merkle roots, flushing pending lifecycle events to chain."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, delete, select, update

from trace_api.domain import hx
from trace_api.epcis import HASH_ALGORITHM, event_hash_bytes
from trace_api.epcis.identifiers import gln_of
from trace_api.epcis.vocab import biz_step_name, step_code
from trace_api.errors import ContractRevert, ValidationError
from trace_api.index import schema as t
from trace_api.index.store import insert_ignore, lock
from trace_api.merkle import MerkleTree
from trace_api.services.context import TraceContext

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

log = logging.getLogger("trace_api.events")
ANCHOR_META = b"\0" * 32
ANCHOR_LOCK = "anchoring"
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
    insert_ignore(conn, t.epcis_events, [c.row for c in captured])
    insert_ignore(conn, t.event_batches, [link for c in captured for link in c.links])


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
        conn.execute(delete(t.event_batches).where(t.event_batches.c.event_hash.in_(hashes)))
        conn.execute(delete(t.epcis_events).where(t.epcis_events.c.event_hash.in_(hashes)))


def discard_unsent(ctx: TraceContext, *, source: str) -> int:
    """After a failed capture: drop its events that are on chain neither directly nor under an anchored root,
    and the roots of them that were never anchored. Returns how many events were dropped."""
    from web3 import Web3

    registry = ctx.registry
    e = t.epcis_events
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(e.c.event_hash, e.c.mode, e.c.root).where(e.c.source == source)).all()
    recorded = _recorded_hashes(ctx, [r.event_hash for r in rows if r.mode == "direct"])
    roots = {r.root for r in rows if r.root}
    with ctx.engine.connect() as conn:
        anchorers = (
            dict(
                conn.execute(
                    select(t.anchor_roots.c.root, t.anchor_roots.c.anchorer).where(t.anchor_roots.c.root.in_(roots))
                ).all()
            )
            if roots
            else {}
        )
    anchored: dict[str, bool] = {}
    for root in roots:  # roots are anchored per anchorer: only the capturer's own anchoring counts
        anchorer = anchorers.get(root) or "0x" + "00" * 20
        anchored_at, _ = registry.functions.rootInfo(Web3.to_checksum_address(anchorer), bytes.fromhex(root[2:])).call()
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
            conn.execute(delete(t.anchor_roots).where(t.anchor_roots.c.root.in_(dead)))
    return len(drop)


def _recorded_hashes(ctx: TraceContext, hashes: list[str]) -> set[str]:
    """Which of these event hashes the chain has recorded, confirmed (indexed) or not yet."""
    if not hashes:
        return set()
    with ctx.engine.connect() as conn:
        found = set(
            conn.execute(select(t.chain_events.c.event_hash).where(t.chain_events.c.event_hash.in_(hashes))).scalars()
        )
    return found | (_unconfirmed_hashes(ctx) & set(hashes))


# ---- anchoring ----
def build_root(conn: Connection, hashes: list[str], *, anchorer: str) -> str:
    """Put events under one Merkle root: store the root (status built) and each event's proof, atomically."""
    tree = MerkleTree.from_event_hashes([bytes.fromhex(h[2:]) for h in hashes])
    root = hx(tree.root)
    conn.execute(
        update(t.epcis_events)
        .where(t.epcis_events.c.event_hash == bindparam("h"))
        .values(root=root, proof=bindparam("p")),
        [{"h": h, "p": json.dumps([hx(p) for p in tree.proof(bytes.fromhex(h[2:]))])} for h in hashes],
    )
    insert_ignore(
        conn,
        t.anchor_roots,
        [
            {
                "root": root,
                "count": len(hashes),
                "meta_hash": hx(ANCHOR_META),
                "tx_hash": None,
                "status": "built",
                "anchorer": anchorer.lower(),
            }
        ],
    )
    return root


def build_pending_roots(ctx: TraceContext, *, account: str, batch_size: int) -> int:
    """Group the events ``account`` captured that wait for anchoring into roots of up to batch_size leaves."""
    built = 0
    while True:
        with ctx.engine.begin() as conn:
            lock(conn, ANCHOR_LOCK)  # two runs must never put one event under two roots
            hashes = list(
                conn.execute(
                    select(t.epcis_events.c.event_hash)
                    .where(
                        t.epcis_events.c.mode == "anchor",
                        t.epcis_events.c.root.is_(None),
                        t.epcis_events.c.capturer == account.lower(),
                        t.epcis_events.c.awaits.is_(None),
                    )
                    .order_by(t.epcis_events.c.created_seq, t.epcis_events.c.event_hash)
                    .limit(batch_size)
                ).scalars()
            )
            if not hashes:
                return built
            build_root(conn, hashes, anchorer=account)
            built += 1


def anchor_now(ctx: TraceContext, *, account: LocalAccount, hashes: list[str]) -> str | None:
    """Anchor these events of ``account`` (written ahead by a derive or a recall, released once it was indexed)
    under a root of their own, now, so that the command's own event is verified when it returns. Events already
    under a root, or still waiting for their transaction, are left to `trace anchor`, as is a root a crash left
    built or sent."""
    e = t.epcis_events
    with ctx.engine.begin() as conn:
        lock(conn, ANCHOR_LOCK)
        ready = list(
            conn.execute(
                select(e.c.event_hash)
                .where(
                    e.c.event_hash.in_(hashes),
                    e.c.mode == "anchor",
                    e.c.root.is_(None),
                    e.c.awaits.is_(None),
                    e.c.capturer == account.address.lower(),
                )
                .order_by(e.c.event_hash)
            ).scalars()
        )
        if not ready:
            return None
        root = build_root(conn, ready, anchorer=account.address)
    sender = ctx.sender(account)
    confirm_root(ctx, sender=sender, root=root, tx_hash=submit_root(ctx, sender=sender, root=root, count=len(ready)))
    ctx.sync()
    return root


def send_roots(ctx: TraceContext, *, account: LocalAccount) -> list[str]:
    """Anchor every root ``account`` built that is not on chain yet. Safe to repeat: a root already anchored is only
    marked. Roots of other accounts are theirs to send: anchoring them would vouch for what they captured."""
    registry = ctx.registry
    sender = ctx.sender(account)
    mine = t.anchor_roots.c.anchorer == account.address.lower()
    # Roots are anchored per anchorer: only this account's anchoring of a root counts as ours, so a copy of it
    # anchored first by someone else neither stops nor replaces ours.
    ours = select(t.chain_roots.c.root).where(t.chain_roots.c.anchorer == account.address.lower())
    with ctx.engine.begin() as conn:
        # Not "status != anchored": a reorg can drop an anchored root; the index says what the chain has.
        conn.execute(
            update(t.anchor_roots)
            .where(t.anchor_roots.c.root.in_(ours), mine, t.anchor_roots.c.status != "anchored")
            .values(status="anchored")
        )
        pending = conn.execute(
            select(t.anchor_roots.c.root, t.anchor_roots.c.count, t.anchor_roots.c.meta_hash).where(
                t.anchor_roots.c.root.not_in(ours), mine
            )
        ).all()
    sent: list[tuple[str, Any]] = []
    for root, count, meta in pending:
        anchored_at, _ = registry.functions.rootInfo(account.address, bytes.fromhex(root[2:])).call()
        if anchored_at:
            _mark_root(ctx, root, None, "anchored")
            continue
        sent.append((root, submit_root(ctx, sender=sender, root=root, count=count, meta=meta)))
    for root, tx_hash in sent:
        confirm_root(ctx, sender=sender, root=root, tx_hash=tx_hash)
    return [root for root, _ in sent]


def submit_root(ctx: TraceContext, *, sender: Any, root: str, count: int, meta: str | None = None) -> Any:
    """Send anchorRoot without waiting (so several roots are mined together), and note that it was sent."""
    meta_b = bytes.fromhex((meta or hx(ANCHOR_META))[2:])
    try:
        tx_hash = sender.submit(ctx.registry.functions.anchorRoot(bytes.fromhex(root[2:]), count, meta_b))
    except ContractRevert as exc:
        if exc.error != "TraceRootExists":
            raise
        _mark_root(ctx, root, None, "anchored")  # a concurrent run anchored this very root first
        return None
    _mark_root(ctx, root, hx(tx_hash), "sent")
    return tx_hash


def confirm_root(ctx: TraceContext, *, sender: Any, root: str, tx_hash: Any) -> None:
    if tx_hash is None:
        return
    try:
        sender.wait(tx_hash)
    except ContractRevert as exc:
        if exc.error != "TraceRootExists":
            raise
        _mark_root(ctx, root, None, "anchored")  # a concurrent run's anchorRoot was mined first
        return
    _mark_root(ctx, root, hx(tx_hash), "anchored")


def _mark_root(ctx: TraceContext, root: str, tx_hash: str | None, status: str) -> None:
    values: dict[str, Any] = {"status": status}
    if tx_hash:
        values["tx_hash"] = tx_hash
    with ctx.engine.begin() as conn:
        conn.execute(update(t.anchor_roots).where(t.anchor_roots.c.root == root).values(**values))


def _unconfirmed_hashes(ctx: TraceContext) -> set[str]:
    """Event hashes recorded in blocks the index has not reached yet (above the confirmation depth)."""
    w3 = ctx.chain.w3
    start = ctx.indexer.checkpoint() + 1
    latest = int(w3.eth.block_number)
    if start > latest:
        return set()
    logs = ctx.registry.events.EventRecorded().get_logs(from_block=start, to_block=latest)
    return {hx(log["args"]["eventHash"]) for log in logs}


def send_direct(ctx: TraceContext, *, account: LocalAccount, only: set[str] | None = None) -> int:
    """Record on chain the lifecycle events (mode direct) that ``account`` captured and the chain does not have
    yet, in order. Never another account's: the chain would record them as this account's steps.

    ``only`` limits it to the events of one import run. An event is left alone when it is already on chain,
    confirmed or not, or when its batch is not (a reorg dropped the registration). An event the chain now refuses
    (its dry run reverts: custody moved, the batch was recalled) is discarded, so it neither stays pending nor
    holds back the others.
    """
    ctx.sync()
    e = t.epcis_events
    with ctx.engine.connect() as conn:
        on_chain = select(t.chain_events.c.event_hash)
        known_batches = select(t.chain_batches.c.batch_id)
        query = (
            select(e.c.event_hash, e.c.body, t.event_batches.c.batch_id)
            .join(t.event_batches, t.event_batches.c.event_hash == e.c.event_hash)
            .where(
                e.c.mode == "direct",
                e.c.event_hash.not_in(on_chain),
                e.c.capturer == account.address.lower(),
                e.c.awaits.is_(None),
                t.event_batches.c.batch_id.in_(known_batches),
            )
            .order_by(e.c.created_seq)
        )
        rows = conn.execute(query).all()
    if only is not None:
        rows = [r for r in rows if r.event_hash in only]
    if rows:
        recent = _unconfirmed_hashes(ctx)
        rows = [r for r in rows if r.event_hash not in recent]
    if not rows:
        return 0
    inputs = [(event_hash, direct_input(json.loads(body), batch_id, event_hash)) for event_hash, body, batch_id in rows]
    functions = ctx.registry.functions
    try:
        functions.recordEvents([i for _, i in inputs]).call({"from": account.address})
    except Exception:  # noqa: BLE001 - some event is refused: find which, one by one, in order
        inputs = _recordable(ctx, account, inputs)
    if not inputs:
        return 0
    sender = ctx.sender(account)
    pending = []
    for i in range(0, len(inputs), DIRECT_CHUNK):
        pending.append(sender.submit(functions.recordEvents([x for _, x in inputs[i : i + DIRECT_CHUNK]])))
    for tx_hash in pending:
        sender.wait(tx_hash)
    ctx.sync()
    return len(inputs)


def _recordable(ctx: TraceContext, account: LocalAccount, inputs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The inputs whose own dry run passes; the others are discarded (logged by hash)."""
    keep, refused = [], []
    for event_hash, item in inputs:
        try:
            ctx.registry.functions.recordEvents([item]).call({"from": account.address})
            keep.append((event_hash, item))
        except Exception:  # noqa: BLE001 - the chain refuses this one now
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
    e = t.epcis_events
    with ctx.engine.connect() as conn:
        waiting = conn.execute(select(e.c.event_hash, e.c.awaits, e.c.capturer).where(e.c.awaits.is_not(None))).all()
        if not waiting:
            return 0
        derived = {
            (r.batch_id, r.producer)
            for r in conn.execute(select(t.chain_batches.c.batch_id, t.chain_batches.c.producer))
        }
        recalled = {
            (r.batch_id, r.actor) for r in conn.execute(select(t.chain_recalls.c.batch_id, t.chain_recalls.c.actor))
        }
    done = []
    for row in waiting:
        kind, _, batch_id = row.awaits.partition(":")
        if (batch_id, row.capturer) in (derived if kind == "derive" else recalled):
            done.append(row.event_hash)
    if done:
        with ctx.engine.begin() as conn:
            conn.execute(update(e).where(e.c.event_hash.in_(done)).values(awaits=None))
    return len(done)
