"""EPCIS 2.0 capture (asynchronous, 202 + status) and a query subset."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, status
from sqlalchemy import insert, select, update

from trace_api.epcis import parse_document
from trace_api.errors import NotFoundError, PayloadTooLargeError, TraceError, ValidationError
from trace_api.http.deps import CallerDep, CtxDep
from trace_api.index import schema as t
from trace_api.services import importer
from trace_api.services.batches import batch_key
from trace_api.services.context import TraceContext

router = APIRouter(tags=["epcis"])

MAX_CAPTURE_BYTES = 5 * 1024 * 1024
MAX_PAGE = 1000


def _set_status(ctx: TraceContext, capture_id: str, status_: str, detail: str = "") -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(t.captures).where(t.captures.c.capture_id == capture_id).values(
            status=status_, detail=detail[:2000]))


def _run_capture(ctx: TraceContext, capture_id: str, account: Any, events: list[dict[str, Any]]) -> None:
    _set_status(ctx, capture_id, "running")
    try:
        report = importer.import_events(ctx, account=account, events=events, name=f"capture:{capture_id}")
        _set_status(ctx, capture_id, "done", json.dumps(report.to_json()))
    except TraceError as exc:
        _set_status(ctx, capture_id, "failed", str(exc))


@router.post("/capture", status_code=status.HTTP_202_ACCEPTED)
async def capture(request: Request, background: BackgroundTasks, ctx: CtxDep, caller: CallerDep) -> dict[str, Any]:
    """Capture an EPCIS 2.0 document. Validated at once (422, nothing written); anchored in the background."""
    body = await request.body()
    if len(body) > MAX_CAPTURE_BYTES:
        raise PayloadTooLargeError(f"capture body is {len(body)} bytes; the limit is {MAX_CAPTURE_BYTES}")
    try:
        raw = json.loads(body)
    except ValueError as exc:
        raise ValidationError(f"body is not JSON: {exc}") from exc
    document = parse_document(raw)
    events = [e if isinstance(e, dict) else e.model_dump(by_alias=True, exclude_none=True) for e in _events(raw)]
    del document
    capture_id = str(uuid.uuid4())
    with ctx.engine.begin() as conn:
        conn.execute(insert(t.captures).values(
            capture_id=capture_id, organisation=caller.organisation, status="accepted",
            event_count=len(events), detail="", created_at=dt.datetime.now(dt.UTC)))
    background.add_task(_run_capture, ctx, capture_id, caller.account, events)
    return {"capture_id": capture_id, "status": "accepted", "events": len(events),
            "status_url": f"/capture/{capture_id}"}


def _events(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, dict) and "epcisBody" in raw:
        return list(raw["epcisBody"].get("eventList", []))
    return [raw]


@router.get("/capture/{capture_id}")
def capture_status(capture_id: str, ctx: CtxDep) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(t.captures).where(t.captures.c.capture_id == capture_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no capture {capture_id}")
    detail = row["detail"]
    return {"capture_id": capture_id, "status": row["status"], "events": row["event_count"],
            "result": json.loads(detail) if row["status"] == "done" else None,
            "error": detail if row["status"] == "failed" else None}


@router.get("/events")
def query_events(
    ctx: CtxDep,
    gtin: str | None = None,
    lot: str | None = None,
    biz_step: Annotated[str | None, Query(alias="bizStep")] = None,
    ge_time: Annotated[dt.datetime | None, Query(alias="GE_eventTime")] = None,
    lt_time: Annotated[dt.datetime | None, Query(alias="LT_eventTime")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """EPCIS query subset: by batch (gtin + lot), bizStep, event-time range; paginated."""
    query = select(t.epcis_events.c.body, t.epcis_events.c.event_hash)
    if gtin or lot:
        if not (gtin and lot):
            raise ValidationError("give both gtin and lot")
        key = batch_key(gtin, lot)
        query = query.join(t.event_batches, t.event_batches.c.event_hash == t.epcis_events.c.event_hash).where(
            t.event_batches.c.batch_id == key.id_hex)
    if biz_step:
        query = query.where(t.epcis_events.c.biz_step == biz_step.rsplit("-", 1)[-1])
    if ge_time:
        query = query.where(t.epcis_events.c.event_time >= ge_time)
    if lt_time:
        query = query.where(t.epcis_events.c.event_time < lt_time)
    query = query.order_by(t.epcis_events.c.event_time, t.epcis_events.c.event_hash).limit(limit + 1).offset(offset)
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    more = len(rows) > limit
    items = [json.loads(r.body) | {"eventID": r.event_hash} for r in rows[:limit]]
    return {"events": items, "count": len(items),
            "next_offset": offset + limit if more else None}
