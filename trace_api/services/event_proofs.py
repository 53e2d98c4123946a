"""Verify EPCIS events themselves, with or without a registered batch: the event as a partner holds it is
hashed, found in the index by that hash, and its Merkle proof (or its on-chain record) checked against the
chain as indexed. The same check the batch history makes, for any event."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from trace_api.domain import hx
from trace_api.epcis import HASH_ALGORITHM, LEGACY_ALGORITHM, event_hash_bytes, event_hash_id
from trace_api.index import queries
from trace_api.services.context import TraceContext
from trace_api.services.history import attributed_roots, event_status

__all__ = ["EventVerdict", "verify_events"]


class EventVerdict(BaseModel):
    """An event checked against the chain: ``verified`` (with how and where), ``pending``, ``mismatch`` or
    ``unknown`` (never captured here). Only the fields of its kind are set (see ``history.EventStatus``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_id: str
    event_hash: str
    status: Literal["verified", "pending", "mismatch", "unknown"]
    hash_algorithm: int | None = None
    reason: str | None = None
    how: Literal["recorded", "merkle"] | None = None
    seq: int | None = None
    root: str | None = None
    block: int | None = None
    tx_hash: str | None = None
    actor: str | None = None

    def fields(self) -> dict[str, Any]:
        """The fields of its kind (what ``trace epcis verify --json`` prints for it)."""
        return self.model_dump(mode="json", exclude_unset=True)


def verify_events(ctx: TraceContext, events: Iterable[Mapping[str, Any]]) -> list[EventVerdict]:
    """One verdict per event, in order. Each event is tried with the current hash algorithm, then algorithm 1."""
    ctx.sync()
    out = []
    with ctx.engine.connect() as conn:
        for event in events:
            hashes = {a: hx(event_hash_bytes(event, algorithm=a)) for a in (HASH_ALGORITHM, LEGACY_ALGORITHM)}
            rows = queries.event_rows(conn, list(hashes.values()))
            row = next((rows[h] for a, h in hashes.items() if h in rows and rows[h].hash_algorithm == a), None)
            event_id = event_hash_id(event)
            if row is None:
                reason = "no event with this hash was captured here"
                out.append(
                    EventVerdict(event_id=event_id, event_hash=hashes[HASH_ALGORITHM], status="unknown", reason=reason)
                )
                continue
            on_chain = queries.chain_events_by_hash(conn, row.event_hash)
            roots = attributed_roots(ctx, conn, [row.root]) if row.root else {}
            status = event_status(json.loads(row.body), row, on_chain, roots)
            out.append(
                EventVerdict(
                    event_id=event_id, event_hash=row.event_hash, hash_algorithm=row.hash_algorithm, **status.fields()
                )
            )
    return out
