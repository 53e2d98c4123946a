"""EPCIS 2.0 capture (asynchronous, 202 + status) and a query subset."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, BeforeValidator

from trace_api.domain import batch_key
from trace_api.epcis import parse_document, parse_event
from trace_api.epcis.model import EVENT_TYPES
from trace_api.epcis.xml import read_xml
from trace_api.errors import PayloadTooLargeError, ValidationError
from trace_api.finite import loads_finite
from trace_api.http.deps import CallerDep, CtxDep, RateLimited
from trace_api.http.privacy import ViewerDep, shown
from trace_api.http.routes.epcis_rest import capture_error_behaviour
from trace_api.services import captures, epcis_query, importer

router = APIRouter(tags=["epcis"])

MAX_PAGE = 1000
MAX_OFFSET = 1_000_000_000
MAX_DEPTH = 64  # EPCIS events nest about ten levels; extensions get room, not a recursion bomb

_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An EPCISDocument, an EPCISQueryDocument or a single event (EPCIS 2.0 JSON-LD)",
    "required": ["type"],
    "properties": {
        "@context": {"description": "JSON-LD context"},
        "type": {"type": "string", "enum": ["EPCISDocument", "EPCISQueryDocument", *sorted(EVENT_TYPES)]},
        "schemaVersion": {"type": "string", "examples": ["2.0"]},
        "creationDate": {"type": "string", "format": "date-time"},
        "epcisBody": {"type": "object", "properties": {"eventList": {"type": "array", "items": {"type": "object"}}}},
    },
}
CAPTURE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _DOCUMENT_SCHEMA},
            "application/ld+json": {"schema": _DOCUMENT_SCHEMA},
            "application/xml": {"schema": {"type": "string", "description": "EPCIS 1.2 or 2.0 XML"}},
        },
    }
}


def _iso_only(value: Any) -> Any:
    """An ISO 8601 date-time as the schema says, not the Unix timestamps pydantic would also take."""
    if isinstance(value, str) and not ISO_DATE.match(value):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2026-11-20T10:00:00Z")
    return value


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_only)]


class CaptureAccepted(BaseModel):
    capture_id: str
    status: str
    events: int
    status_url: str


def _depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (iteratively: the value may nest deeper than Python recurses)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


XML_TYPES = ("application/xml", "text/xml")


def _capture_events(body: bytes, max_bytes: int, content_type: str = "") -> list[dict[str, Any]]:
    """The events of a captured document as JSON-LD dicts; ValidationError (422) for anything invalid.
    EPCIS 1.2/2.0 XML when the Content-Type says XML (validated against GS1's XSD), JSON-LD otherwise."""
    if len(body) > max_bytes:
        raise PayloadTooLargeError(f"EPCIS document is {len(body)} bytes, over the limit of {max_bytes}")
    if content_type.split(";")[0].strip().lower() in XML_TYPES:
        events, namespaces, _ = read_xml(body)
        return [
            importer.event_dict(parse_event(e, namespaces=namespaces, where=f"EventList[{i}]"))
            for i, e in enumerate(events)
        ]
    try:
        raw = loads_finite(body)  # NaN, Infinity and 1e999 are refused (422), not stored
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the decoder goes
        raise ValidationError(f"EPCIS document is not valid JSON: {str(exc)[:200]}") from None
    if _depth(raw) > MAX_DEPTH:
        raise ValidationError(f"EPCIS document nests deeper than {MAX_DEPTH} levels")
    document = parse_document(raw) if isinstance(raw, dict) else parse_document(body)
    return [event.to_jsonld() for event in document.events]


@router.post(
    "/capture", status_code=status.HTTP_202_ACCEPTED, response_model=CaptureAccepted, openapi_extra=CAPTURE_BODY
)
async def capture(request: Request, background: BackgroundTasks, ctx: CtxDep, caller: CallerDep) -> dict[str, Any]:
    """Capture an EPCIS 2.0 document. Validated at once (422, nothing written) and checked against the registry's
    rules for the key's account (403 for an event the chain would refuse from it, nothing written); anchored in the
    background, attributed to that account.

    The body is at most ``TRACE_MAX_CAPTURE_BYTES`` (413 above; checked before it is read).
    """
    capture_error_behaviour(request)
    body = await request.body()
    # Parsing and validating up to 5 MiB takes a while: off the event loop, so other requests go on.
    events = await run_in_threadpool(
        _capture_events, body, ctx.settings.max_capture_bytes, request.headers.get("content-type", "")
    )
    # The registry's rules, for this caller's account, before anything is stored: what the chain would refuse is
    # refused now (403), not left pending for someone else's `trace anchor` to sign. Then the document is written
    # down with the capture, so a crash after the 202 loses nothing (`trace anchor` of that account resumes it).
    capture_id = await run_in_threadpool(
        captures.accept, ctx, organisation=caller.organisation, account=caller.account, events=events
    )
    background.add_task(captures.run, ctx, capture_id, caller.account, events)
    return {
        "capture_id": capture_id,
        "status": "accepted",
        "events": len(events),
        "status_url": f"/capture/{capture_id}",
    }


@router.get("/capture/{capture_id}", dependencies=[RateLimited], response_model=captures.CaptureStatus)
def capture_status(capture_id: str, ctx: CtxDep) -> captures.CaptureStatus:
    return captures.status(ctx.engine, capture_id)


@router.get("/events", dependencies=[RateLimited], response_model=epcis_query.EventsPage)
def query_events(
    ctx: CtxDep,
    viewer: ViewerDep,
    gtin: str | None = None,
    lot: str | None = None,
    biz_step: Annotated[str | None, Query(alias="bizStep")] = None,
    ge_time: Annotated[IsoDateTime | None, Query(alias="GE_eventTime")] = None,
    lt_time: Annotated[IsoDateTime | None, Query(alias="LT_eventTime")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> epcis_query.EventsPage:
    """EPCIS query subset: by batch (gtin + lot), bizStep, event-time range; paginated."""
    page = epcis_query.events_page(
        ctx.engine, gtin=gtin, lot=lot, biz_step=biz_step, since=ge_time, before=lt_time, limit=limit, offset=offset
    )
    # private documents are shown to the parties of the one batch asked for
    batch_id = batch_key(gtin, lot).id_hex if gtin and lot else None
    return page.model_copy(update={"events": shown(ctx.settings, viewer, batch_id, page.events)})
