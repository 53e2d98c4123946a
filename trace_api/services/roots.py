"""Captured events under Merkle roots: building roots (one event under one root, whoever runs), anchoring them on
chain pipelined, and marking what the chain already has. Roots are per anchorer: an account anchors only its own."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from trace_api.domain import hx
from trace_api.errors import ContractRevert
from trace_api.index import queries_roots
from trace_api.index.store import lock
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
    queries_roots.place_under(
        conn, root, {h: json.dumps([hx(p) for p in tree.proof(bytes.fromhex(h[2:]))]) for h in hashes}
    )
    queries_roots.add_root(conn, root=root, count=len(hashes), meta_hash=hx(ANCHOR_META), anchorer=anchorer.lower())
    return root


def build_pending_roots(ctx: TraceContext, *, account: str, batch_size: int) -> int:
    """Group the events ``account`` captured that wait for anchoring into roots of up to batch_size leaves."""
    built = 0
    while True:
        with ctx.engine.begin() as conn:
            lock(conn, ANCHOR_LOCK)  # two runs must never put one event under two roots
            hashes = queries_roots.unrooted(conn, account.lower(), batch_size)
            if not hashes:
                return built
            build_root(conn, hashes, anchorer=account)
            built += 1


def anchor_now(ctx: TraceContext, *, account: LocalAccount, hashes: list[str]) -> str | None:
    """Anchor these events of ``account`` (written ahead by a derive or a recall, released once it was indexed)
    under a root of their own, now, so that the command's own event is verified when it returns. Events already
    under a root, or still waiting for their transaction, are left to `trace anchor`, as is a root a crash left
    built or sent."""
    with ctx.engine.begin() as conn:
        lock(conn, ANCHOR_LOCK)
        ready = queries_roots.unrooted_among(conn, hashes, account.address.lower())
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
    with ctx.engine.begin() as conn:
        queries_roots.mark_anchored(conn, account.address.lower())
        pending = queries_roots.unanchored(conn, account.address.lower())
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
    with ctx.engine.begin() as conn:
        queries_roots.set_root(conn, root, status, tx_hash)
