"""Captured events under Merkle roots: building roots (one event under one root, whoever runs), anchoring them on
chain pipelined, and marking what the chain already has. Roots are per anchorer: an account anchors only its own."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update

from trace_api.domain import hx
from trace_api.errors import ContractRevert
from trace_api.index import schema as t
from trace_api.index.store import insert_ignore, lock
from trace_api.merkle import MerkleTree
from trace_api.services.context import TraceContext

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

ANCHOR_META = b"\0" * 32
ANCHOR_LOCK = "anchoring"


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
    registry = ctx.chain.ref("TraceRegistry")
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
        anchored_at, _ = ctx.chain.view(registry, "rootInfo", account.address, bytes.fromhex(root[2:]))
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
        tx_hash = sender.submit(ctx.chain.ref("TraceRegistry").fn("anchorRoot", bytes.fromhex(root[2:]), count, meta_b))
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
