"""The typed result of a batch's history (services.history): what ``GET /batches/{gtin}/{lot}/history``, the scan
page and ``trace batch show`` show. Fields that only some entries have (an event's proof, a document's checks, a
lineage link's key) are left unset when absent: ``as_json`` and the HTTP layer leave them out, as before."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "BatchFacts",
    "BatchHistory",
    "BatchSummary",
    "CitedDocument",
    "EventStatus",
    "HashChain",
    "LineageLink",
    "Reading",
    "RecallFacts",
    "TimelineEntry",
    "Undisclosed",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON, without the fields left unset."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class EventStatus(_Frozen):
    """Where a captured event stands against the chain. Only the fields of its kind are set: ``reason`` for a
    mismatch; ``how`` (recorded or merkle), ``block`` and ``actor`` for a verified event, with ``seq`` and
    ``tx_hash`` when recorded directly, ``root`` when anchored under a Merkle root."""

    status: Literal["verified", "pending", "mismatch"]
    reason: str | None = None
    how: Literal["recorded", "merkle"] | None = None
    seq: int | None = None
    root: str | None = None
    block: int | None = None
    tx_hash: str | None = None
    actor: str | None = None

    def fields(self) -> dict[str, Any]:
        """The fields of its kind, as they appear in a timeline entry."""
        return self.as_json()


class CitedDocument(_Frozen):
    """A document an event cites: its checks (services.documents.DocumentCheck) and what the event says of it.
    A private document shown to someone who is no party of the batch has neither ``sha256`` nor its real name."""

    sha256: str | None = None
    name: str | None = None
    available: bool
    verified: bool
    intact: bool | None = None
    attached_by_actor: bool | None = None
    private: bool
    type: str | None = None
    issuer: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None


class Reading(_Frozen):
    """A numeric sensor report: measurement type (the CBV name without its prefix), value, unit."""

    type: str
    value: int | float
    uom: str


class TimelineEntry(EventStatus):
    """A captured event of the batch, with its status against the chain."""

    event_hash: str
    type: str
    biz_step: str | None
    event_time: str | None
    where: str | None
    disposition: str | None
    process: JsonValue = None
    serials: list[str]
    outputs: list[str] = Field(description="What a transformation made: its output classes and EPCs")
    documents: list[CitedDocument]
    recall_reason: str | None = None
    readings: list[Reading] | None = None


class Undisclosed(_Frozen):
    """A step recorded on chain whose EPCIS event this index does not hold."""

    seq: int
    step: str
    event_hash: str
    actor: str
    block: int
    tx_hash: str


class LineageLink(_Frozen):
    """A batch this one was made from (or that was made from it), ``depth`` steps away; its key when known."""

    batch_id: str
    depth: int
    gtin: str | None = None
    lot: str | None = None


class RecallFacts(_Frozen):
    own: bool = Field(alias="self", description="The batch itself is recalled")
    upstream: list[str] = Field(description="Recalled batches it was made from")
    reason_hash: str | None
    block: int | None


class HashChain(_Frozen):
    ok: bool = Field(description="The indexed on-chain events recompute to the head the contract holds")
    events_on_chain: int
    head: str | None


class BatchFacts(_Frozen):
    """What the index and the chain say about a batch."""

    batch_id: str
    gtin: str
    lot: str
    metadata: dict[str, JsonValue]
    registered: bool
    producer: str | None
    custodian: str | None
    quantity: str | None
    uom: str | None
    recalled: bool
    recall: RecallFacts
    hash_chain: HashChain
    undisclosed: list[Undisclosed]
    pending: int
    complete: bool
    parents: list[LineageLink]
    children: list[LineageLink]


class BatchHistory(BatchFacts):
    """A batch's facts and its timeline of captured events."""

    timeline: list[TimelineEntry]

    def summary(self) -> BatchSummary:
        """The facts, with the number of captured events instead of the events."""
        facts = {name: getattr(self, name) for name in BatchFacts.model_fields}
        return BatchSummary(**facts, events=len(self.timeline))


class BatchSummary(BatchFacts):
    events: int = Field(description="Captured events of the batch")
