"""EPCIS 2.0 JSON-LD events and documents (pydantic v2).

The models validate and keep the JSON-LD as it was written: a bizStep stays ``shipping`` or
``cbv:BizStep-shipping``, a quantity stays ``10`` or ``"10.0"``, user extensions (``example:foo``) are kept with
their values. ``to_jsonld()`` therefore gives back the same event, and its CBV 2.0 hash is the hash of the input.
Field names follow EPCIS (camelCase), so a model reads like the standard.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from trace_api.epcis import vocab
from trace_api.epcis.elements import (
    OFFSET_PATTERN,
    URI_PATTERN,
    BizStep,
    BizTransaction,
    Destination,
    Disposition,
    Element,
    ErrorDeclaration,
    Location,
    Offset,
    PersistentDisposition,
    QuantityElement,
    SensorElement,
    SensorMetadata,
    SensorReport,
    Source,
    Timestamp,
    Uri,
)

__all__ = [
    "EPCIS_CONTEXT",
    "EVENT_TYPES",
    "OFFSET_PATTERN",
    "URI_PATTERN",
    "AggregationEvent",
    "AssociationEvent",
    "BizTransaction",
    "Destination",
    "EPCISBody",
    "EPCISDocument",
    "ErrorDeclaration",
    "Event",
    "EventBase",
    "Location",
    "ObjectEvent",
    "PersistentDisposition",
    "QuantityElement",
    "SensorElement",
    "SensorMetadata",
    "SensorReport",
    "Source",
    "TransactionEvent",
    "TransformationEvent",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")


class EventBase(Element):
    """What all five event types share (EPCIS 2.0 section 7.4)."""

    type: str
    eventTime: Timestamp
    eventTimeZoneOffset: Offset
    recordTime: Timestamp | None = None
    eventID: Uri | None = None
    errorDeclaration: ErrorDeclaration | None = None
    certificationInfo: Uri | list[Uri] | None = None
    bizStep: BizStep | None = None
    disposition: Disposition | None = None
    persistentDisposition: PersistentDisposition | None = None
    readPoint: Location | None = None
    bizLocation: Location | None = None
    bizTransactionList: list[BizTransaction] | None = None
    sourceList: list[Source] | None = None
    destinationList: list[Destination] | None = None
    sensorElementList: list[SensorElement] | None = None

    # default=None, not default_factory: pydantic inspects a factory's signature on every instance (~60 µs)
    _namespaces: dict[str, str] | None = PrivateAttr(default=None)
    _source: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def namespaces(self) -> dict[str, str]:
        """Prefixes declared by the document this event came from (``example`` -> ``http://ns.example.com/``)."""
        return dict(self._namespaces or {})

    def with_namespaces(self, namespaces: Mapping[str, str]) -> EventBase:
        """Attach the prefixes of the enclosing document; they decide how extension keys are hashed."""
        self._namespaces = dict(namespaces)
        return self

    def with_source(self, source: dict[str, Any]) -> EventBase:
        """Remember the JSON-LD this event was validated from; hash and export then use it as it was written.

        Key order inside a bizTransaction, source or destination is part of the reference hash, and a model
        does not keep it; the source does. The source must not be changed afterwards.
        """
        self._source = source
        return self

    def hash_source(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The JSON-LD form and the document prefixes, for :func:`trace_api.epcis.hashing.event_hash_bytes`."""
        return (self._source if self._source is not None else self.to_jsonld()), self._namespaces or {}

    def to_jsonld(self) -> dict[str, Any]:
        """The event's JSON-LD object: a copy of what was parsed, or the fields of a model built in code."""
        if self._source is not None:
            return copy.deepcopy(self._source)
        return super().to_jsonld()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy; with ``update`` it no longer has a source, so its hash follows the new field values."""
        clone = super().model_copy(update=update, deep=deep)
        if update:
            clone._source = None
        return clone

    @property
    def biz_step_name(self) -> str | None:
        """The CBV name of bizStep (``shipping``) in whatever form it was written, or None."""
        return vocab.biz_step_name(self.bizStep) if self.bizStep is not None else None

    @property
    def event_datetime(self) -> datetime:
        """eventTime as an aware datetime."""
        return datetime.fromisoformat(self.eventTime)


class ObjectEvent(EventBase):
    type: Literal["ObjectEvent"] = "ObjectEvent"
    action: Literal["ADD", "OBSERVE", "DELETE"]
    epcList: list[Uri] | None = None
    quantityList: list[QuantityElement] | None = None
    ilmd: dict[str, Any] | None = None


class AggregationEvent(EventBase):
    type: Literal["AggregationEvent"] = "AggregationEvent"
    action: Literal["ADD", "OBSERVE", "DELETE"]
    parentID: Uri | None = None
    childEPCs: list[Uri] | None = None
    childQuantityList: list[QuantityElement] | None = None

    @model_validator(mode="after")
    def _parent_unless_observe(self) -> AggregationEvent:
        if self.parentID is None and self.action != "OBSERVE":
            raise ValueError(f"parentID is required when action is {self.action}")
        return self


class TransactionEvent(EventBase):
    type: Literal["TransactionEvent"] = "TransactionEvent"
    action: Literal["ADD", "OBSERVE", "DELETE"]
    bizTransactionList: Annotated[list[BizTransaction], Field(min_length=1)]
    parentID: Uri | None = None
    epcList: list[Uri] | None = None
    quantityList: list[QuantityElement] | None = None


class TransformationEvent(EventBase):
    type: Literal["TransformationEvent"] = "TransformationEvent"
    inputEPCList: list[Uri] | None = None
    inputQuantityList: list[QuantityElement] | None = None
    outputEPCList: list[Uri] | None = None
    outputQuantityList: list[QuantityElement] | None = None
    transformationID: Uri | None = None
    ilmd: dict[str, Any] | None = None


class AssociationEvent(EventBase):
    type: Literal["AssociationEvent"] = "AssociationEvent"
    action: Literal["ADD", "OBSERVE", "DELETE"]
    parentID: Uri
    childEPCs: list[Uri] | None = None
    childQuantityList: list[QuantityElement] | None = None


Event = Annotated[
    ObjectEvent | AggregationEvent | TransactionEvent | TransformationEvent | AssociationEvent,
    Field(discriminator="type"),
]


class EPCISBody(Element):
    eventList: list[Event] = Field(default_factory=list)


class EPCISDocument(Element):
    """An EPCIS 2.0 document: ``epcisBody.eventList`` plus header fields."""

    context: Any = Field(default=None, alias="@context")
    type: Literal["EPCISDocument"] = "EPCISDocument"
    schemaVersion: str
    creationDate: Timestamp
    id: Uri | None = None
    instanceIdentifier: str | None = None
    sender: str | None = None
    receiver: str | None = None
    epcisHeader: dict[str, Any] | None = None
    epcisBody: EPCISBody

    @field_validator("schemaVersion", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if str(value) not in ("2.0", "2.0.0"):
            raise ValueError(f"schemaVersion {value!r} is not supported (expected '2.0')")
        return value if isinstance(value, str) else str(value)

    @property
    def events(self) -> list[Event]:
        return self.epcisBody.eventList
