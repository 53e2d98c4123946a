"""`POST /capture` behind the HTTP layer: accepted documents are written down before the 202, run in the
background, and resumed by their account's `trace anchor` if the server died before finishing them.

A capture's events are stored in the ``captures`` row (``document``) with the account that captured them, in the
same transaction that records it as accepted: a crash after the 202 loses nothing. Running it imports the events
(idempotent: events already stored are skipped, roots already built are sent, never rebuilt); a failure drops
whatever it stored that never reached the chain, so nothing stays pending. The document is cleared once the capture
has ended either way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from trace_api.errors import NotFoundError, TraceError
from trace_api.index import queries_epcis
from trace_api.services import events as ev
from trace_api.services import importer
from trace_api.services.context import TraceContext

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

log = logging.getLogger("trace_api.captures")
UNFINISHED = ("accepted", "running")


class CaptureStatus(BaseModel):
    """Where a capture stands (``GET /capture/{id}``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    capture_id: str
    status: str = Field(description="accepted, running, done or failed")
    events: int
    result: dict[str, Any] | None = Field(description="The import report, once done")
    error: str | None = Field(description="Why it failed")


def status(engine: Engine, capture_id: str) -> CaptureStatus:
    """NotFoundError for a capture nobody made."""
    with engine.connect() as conn:
        row = queries_epcis.capture(conn, capture_id)
    if row is None:
        raise NotFoundError(f"no capture {capture_id}")
    return CaptureStatus(
        capture_id=capture_id,
        status=row.status,
        events=row.event_count,
        result=json.loads(row.detail) if row.status == "done" else None,
        error=row.detail if row.status == "failed" else None,
    )


def source_of(capture_id: str) -> str:
    return f"capture:{capture_id}"[:64]


def accept(ctx: TraceContext, *, organisation: str, account: LocalAccount, events: list[dict[str, Any]]) -> str:
    """Check the events against the registry's rules for ``account`` (ForbiddenError/ValidationError: nothing is
    written), then record the capture, its events included. Returns the capture id."""
    importer.check_events(ctx, account=account, events=events, name="capture")
    capture_id = str(uuid.uuid4())
    with ctx.engine.begin() as conn:
        queries_epcis.insert_capture(
            conn,
            capture_id=capture_id,
            organisation=organisation,
            status="accepted",
            event_count=len(events),
            detail="",
            created_at=dt.datetime.now(dt.UTC),
            account=account.address.lower(),
            document=json.dumps(events, separators=(",", ":"), allow_nan=False),
        )
    return capture_id


def run(ctx: TraceContext, capture_id: str, account: LocalAccount, events: list[dict[str, Any]]) -> None:
    _set(ctx, capture_id, status="running")
    try:
        source = source_of(capture_id)
        report = importer.import_events(ctx, account=account, events=events, name=source, source=source)
        _set(ctx, capture_id, status="done", detail=json.dumps(report.model_dump()), document=None)
    except TraceError as exc:
        _discard(ctx, capture_id)
        _set(ctx, capture_id, status="failed", detail=str(exc), document=None)
    except Exception:  # a bug must not leave the capture "running" for ever
        log.exception("capture %s failed", capture_id)
        _discard(ctx, capture_id)
        _set(ctx, capture_id, status="failed", detail="internal error; the server log has the details", document=None)


def resume(ctx: TraceContext, *, account: LocalAccount) -> int:
    """Run the captures of ``account`` that a dead server accepted and never finished. Returns how many."""
    with ctx.engine.connect() as conn:
        rows = queries_epcis.unfinished_captures(conn, account.address.lower(), UNFINISHED)
    for capture_id, document in rows:
        run(ctx, capture_id, account, json.loads(document))
    return len(rows)


def _set(ctx: TraceContext, capture_id: str, *, status: str, detail: str = "", **values: Any) -> None:
    with ctx.engine.begin() as conn:
        queries_epcis.set_capture(conn, capture_id, status=status, detail=detail[:2000], **values)


def _discard(ctx: TraceContext, capture_id: str) -> None:
    """A failed capture leaves nothing pending: what it stored and never got on chain is dropped."""
    try:
        ev.discard_unsent(ctx, source=source_of(capture_id))
    except Exception:  # noqa: BLE001 - the failure itself is what the status reports
        log.exception("capture %s: could not drop its unsent events", capture_id)
