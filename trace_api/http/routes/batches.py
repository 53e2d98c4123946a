"""Batch routes: writes need an organisation's API key; reads are public."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from trace_api.http.deps import CallerDep, CtxDep, RateLimited
from trace_api.http.privacy import ViewerDep, hide_private_documents, is_party
from trace_api.services import batches, history
from trace_api.services.batch_models import BatchDerived, BatchRecalled, BatchRegistered, EventRecorded
from trace_api.services.history_models import BatchHistory, BatchSummary
from trace_api.services.product import MAX_TEXT, product_metadata

router = APIRouter(prefix="/batches", tags=["batches"])

GTIN = Field(min_length=8, max_length=14, pattern=r"^\d+$", examples=["09506000134352"])
LOT = Field(min_length=1, max_length=20, examples=["LOT-2026-001"])


class BatchCreate(BaseModel):
    gtin: str = GTIN
    lot: str = LOT
    quantity: str | None = Field(default=None, max_length=40, pattern=r"^\d+(\.\d{1,3})?$")
    uom: str | None = Field(default=None, max_length=8)
    product: str | None = Field(default=None, max_length=MAX_TEXT)
    origin: str | None = Field(default=None, max_length=MAX_TEXT)


class BatchRef(BaseModel):
    gtin: str = GTIN
    lot: str = LOT


class BatchDerive(BatchCreate):
    parents: list[BatchRef] = Field(min_length=1, max_length=16)


class EventCreate(BaseModel):
    step: str = Field(max_length=64, examples=["shipping"])
    location: str | None = Field(default=None, pattern=r"^\d{13}$")
    to: str | None = Field(default=None, max_length=42)


class RecallCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _meta(body: BatchCreate) -> dict[str, str]:
    return product_metadata(product=body.product, origin=body.origin)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BatchRegistered)
def register_batch(body: BatchCreate, ctx: CtxDep, caller: CallerDep) -> BatchRegistered:
    return batches.register_batch(
        ctx,
        account=caller.account,
        gtin=body.gtin,
        lot=body.lot,
        quantity=body.quantity,
        uom=body.uom,
        metadata=_meta(body),
    )


@router.post("/derive", status_code=status.HTTP_201_CREATED, response_model=BatchDerived)
def derive_batch(body: BatchDerive, ctx: CtxDep, caller: CallerDep) -> BatchDerived:
    return batches.derive_batch(
        ctx,
        account=caller.account,
        gtin=body.gtin,
        lot=body.lot,
        parents=[(p.gtin, p.lot) for p in body.parents],
        source="http",
        quantity=body.quantity,
        uom=body.uom,
        metadata=_meta(body),
    )


@router.post("/{gtin}/{lot}/events", status_code=status.HTTP_201_CREATED, response_model=EventRecorded)
def record_event(gtin: str, lot: str, body: EventCreate, ctx: CtxDep, caller: CallerDep) -> EventRecorded:
    return batches.record_event(
        ctx, source="http", account=caller.account, gtin=gtin, lot=lot, step=body.step, gln=body.location, to=body.to
    )


@router.post("/{gtin}/{lot}/recall", response_model=BatchRecalled)
def recall_batch(gtin: str, lot: str, body: RecallCreate, ctx: CtxDep, caller: CallerDep) -> BatchRecalled:
    return batches.recall_batch(ctx, source="http", account=caller.account, gtin=gtin, lot=lot, reason=body.reason)


# Fields only some entries have (an event's proof, a document's checks) are left out where unset, as before.
@router.get("/{gtin}/{lot}", dependencies=[RateLimited], response_model=BatchSummary, response_model_exclude_unset=True)
def get_batch(gtin: str, lot: str, ctx: CtxDep) -> BatchSummary:
    """What the index and the chain say about a batch, with the number of its captured events."""
    return history.history(ctx, gtin=gtin, lot=lot).summary()


@router.get(
    "/{gtin}/{lot}/history",
    dependencies=[RateLimited],
    response_model=BatchHistory,
    response_model_exclude_unset=True,
)
def get_history(gtin: str, lot: str, ctx: CtxDep, viewer: ViewerDep) -> BatchHistory:
    """The batch's facts and its timeline; private documents are shown whole to the parties of the batch only."""
    record = history.history(ctx, gtin=gtin, lot=lot)
    if is_party(ctx.settings, viewer, record.batch_id):
        return record
    return BatchHistory.model_validate(hide_private_documents(record.as_json()))
