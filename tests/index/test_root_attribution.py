"""A copied Merkle root (issue 11): anchoring is per anchorer, so a front-runner's copy neither blocks the producer's
own anchoring nor takes the producer's events in the index. Written as the attack; on the registry keyed by root
alone the producer's anchoring reverted TraceRootExists and every event under the root showed the copier."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from trace_api import domain
from trace_api.chain.accounts import dev_account
from trace_api.index import schema as t
from trace_api.index.store import get_engine
from trace_api.services import batches, events, history, roots
from trace_api.services.context import TraceContext
from trace_api.services.deploy import scratch_chain

GTIN = "09506000134352"


def test_a_copied_root_does_not_take_the_producers_events(tmp_path: Path) -> None:
    with scratch_chain(tmp_path / "home") as (chain, _):
        ctx = TraceContext(settings=chain.settings, chain=chain, engine=get_engine(chain.settings))
        producer, copier = dev_account("producer"), dev_account("carrier")
        key = domain.batch_key(GTIN, "ROOT-COPY")
        batches.register_batch(ctx, account=producer, gtin=GTIN, lot="ROOT-COPY")
        reading = batches.build_event(key=key, step="sensor_reporting", when="2026-11-30T08:00:00Z")
        events.insert_events(
            ctx.engine, [(reading, [key.id_hex])], mode="anchor", source="test", capturer=producer.address
        )
        assert roots.build_pending_roots(ctx, account=producer.address, batch_size=16) == 1

        # the copier anchors the producer's pending root first, with its own count and meta
        with ctx.engine.connect() as conn:
            root = conn.execute(select(t.anchor_roots.c.root)).scalar_one()
        ctx.sender(copier).transact(ctx.registry.functions.anchorRoot(bytes.fromhex(root[2:]), 99, b"\x66" * 32))
        ctx.sync()

        sent = roots.send_roots(ctx, account=producer)  # not mistaken for "already anchored"
        assert sent == [root]
        ctx.sync()
        anchored_at, count = ctx.registry.functions.rootInfo(producer.address, bytes.fromhex(root[2:])).call()
        assert anchored_at and count == 1

        timeline = history.history(ctx, gtin=GTIN, lot="ROOT-COPY").timeline
        [entry] = [e for e in timeline if e.how == "merkle"]
        assert entry.status == "verified" and entry.actor == producer.address.lower()
