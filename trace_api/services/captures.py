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

from sqlalchemy import insert, select, update

from trace_api.errors import TraceError
from trace_api.index import schema as t
from trace_api.services import events as ev
from trace_api.services import importer
from trace_api.services.context import TraceContext

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

log = logging.getLogger("trace_api.captures")
UNFINISHED = ("accepted", "running")


def source_of(capture_id: str) -> str:
    return f"capture:{capture_id}"[:64]


def accept(ctx: TraceContext, *, organisation: str, account: LocalAccount, events: list[dict[str, Any]]) -> str:
    """Check the events against the registry's rules for ``account`` (ForbiddenError/ValidationError: nothing is
    written), then record the capture, its events included. Returns the capture id."""
    importer.check_events(ctx, account=account, events=events, name="capture")
    capture_id = str(uuid.uuid4())
    with ctx.engine.begin() as conn:
        conn.execute(
            insert(t.captures).values(
                capture_id=capture_id,
                organisation=organisation,
                status="accepted",
                event_count=len(events),
                detail="",
                created_at=dt.datetime.now(dt.UTC),
                account=account.address.lower(),
                document=json.dumps(events, separators=(",", ":"), allow_nan=False),
            )
        )
    return capture_id


def run(ctx: TraceContext, capture_id: str, account: LocalAccount, events: list[dict[str, Any]]) -> None:
    _set(ctx, capture_id, status="running")
    try:
        report = importer.import_events(ctx, account=account, events=events, name=source_of(capture_id))
        _set(ctx, capture_id, status="done", detail=json.dumps(report.to_json()), document=None)
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
        rows = conn.execute(
            select(t.captures.c.capture_id, t.captures.c.document)
            .where(
                t.captures.c.status.in_(UNFINISHED),
                t.captures.c.account == account.address.lower(),
                t.captures.c.document.is_not(None),
            )
            .order_by(t.captures.c.created_at)
        ).all()
    for capture_id, document in rows:
        run(ctx, capture_id, account, json.loads(document))
    return len(rows)


def _set(ctx: TraceContext, capture_id: str, *, status: str, detail: str = "", **values: Any) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(
            update(t.captures)
            .where(t.captures.c.capture_id == capture_id)
            .values(status=status, detail=detail[:2000], **values)
        )


def _discard(ctx: TraceContext, capture_id: str) -> None:
    """A failed capture leaves nothing pending: what it stored and never got on chain is dropped."""
    try:
        ev.discard_unsent(ctx, source=source_of(capture_id))
    except Exception:  # noqa: BLE001 - the failure itself is what the status reports
        log.exception("capture %s: could not drop its unsent events", capture_id)
