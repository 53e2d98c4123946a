"""Verify EPCIS events themselves, with or without a registered batch: the event as a partner holds it is
hashed, found in the index by that hash, and its Merkle proof (or its on-chain record) checked against the
chain as indexed. The same check the batch history makes, for any event."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from trace_api.domain import hx
from trace_api.epcis import HASH_ALGORITHM, LEGACY_ALGORITHM, event_hash_bytes, event_hash_id
from trace_api.index import queries
from trace_api.services.context import TraceContext
from trace_api.services.history import _event_status, attributed_roots

__all__ = ["verify_events"]


def verify_events(ctx: TraceContext, events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One verdict per event, in order: ``verified`` (with how and where), ``pending``, ``mismatch`` or
    ``unknown`` (never captured here). Each event is tried with the current hash algorithm, then algorithm 1."""
    ctx.sync()
    out = []
    with ctx.engine.connect() as conn:
        for event in events:
            hashes = {a: hx(event_hash_bytes(event, algorithm=a)) for a in (HASH_ALGORITHM, LEGACY_ALGORITHM)}
            rows = queries.event_rows(conn, list(hashes.values()))
            row = next((rows[h] for a, h in hashes.items() if h in rows and rows[h].hash_algorithm == a), None)
            verdict: dict[str, Any] = {"event_id": event_hash_id(event), "event_hash": hashes[HASH_ALGORITHM]}
            if row is None:
                out.append(verdict | {"status": "unknown", "reason": "no event with this hash was captured here"})
                continue
            on_chain = queries.chain_events_by_hash(conn, row.event_hash)
            roots = attributed_roots(ctx, conn, [row.root]) if row.root else {}
            stored = json.loads(row.body)
            status = _event_status(stored, row, on_chain, roots)
            out.append(verdict | {"event_hash": row.event_hash, "hash_algorithm": row.hash_algorithm, **status})
    return out
