"""EPCIS 2.0 JSON-LD events and documents (pydantic v2).

The models validate and keep the JSON-LD as it was written: a bizStep stays ``shipping`` or
``cbv:BizStep-shipping``, a quantity stays ``10`` or ``"10.0"``, user extensions (``example:foo``) are kept with
their values. ``to_jsonld()`` therefore gives back the same event, and its CBV 2.0 hash is the hash of the input.
Field names follow EPCIS (camelCase), so a model reads like the standard.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from trace_api.epcis import vocab

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

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
# Checked by pydantic-core (Rust); document.py turns a mismatch into a sentence naming the field.
URI_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"
OFFSET_PATTERN = r"^(?:\+(?:0\d|1[0-3]):[0-5]\d|\+14:00|-(?:0\d|1[01]):[0-5]\d|-12:00)$"
_URI = re.compile(URI_PATTERN)
# Unprefixed keys allowed besides the model fields: "type" and "id" are JSON-LD's @type and @id on any object,
# "comment" is ignored by the hash, "@..." are JSON-LD keywords. Any other extension must be namespaced.
_ALLOWED_UNPREFIXED = frozenset({"comment", "type", "id"})


def _timestamp(value: Any) -> Any:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp with a time zone, e.g. 2024-03-01T10:00:00.000+01:00")
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid timestamp: {exc}") from None
    return value


def _number(value: Any) -> Any:
    """A JSON number, or a string holding one; kept as given, since the hash reads it as written."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int too large for a float
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{str(value)[:40]!r} is not a finite number (NaN and Infinity are refused)")
    return value


def _cbv(kind: str, forms: tuple[str, ...], names: frozenset[str]) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"{kind} must be a string, not {type(value).__name__}")
        for prefix in forms:
            if value.startswith(prefix):
                if value[len(prefix) :] not in names:
                    raise ValueError(f"{value!r} is not a CBV 2.0 {kind}")
                return value
        if value not in names and not _URI.fullmatch(value):
            raise ValueError(f"{value!r} is not a CBV 2.0 {kind} (bare name, cbv: CURIE or URI)")
        return value

    return check


Timestamp = Annotated[str, BeforeValidator(_timestamp)]
Offset = Annotated[str, StringConstraints(pattern=OFFSET_PATTERN)]
Uri = Annotated[str, StringConstraints(strict=True, pattern=URI_PATTERN)]
Number = Annotated[int | float | str, BeforeValidator(_number)]
BizStep = Annotated[
    str, BeforeValidator(_cbv("bizStep", ("cbv:BizStep-", vocab.CBV_URI + "BizStep-", "urn:epcglobal:cbv:bizstep:"),
                              vocab.BIZ_STEPS))
]  # fmt: skip
Disposition = Annotated[
    str, BeforeValidator(_cbv("disposition", ("cbv:Disp-", vocab.CBV_URI + "Disp-", "urn:epcglobal:cbv:disp:"),
                              vocab.DISPOSITIONS))
]  # fmt: skip


class _Element(BaseModel):
    """A JSON-LD object: EPCIS fields plus namespaced user extensions, kept as written."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=False, serialize_by_alias=True)

    _field_names: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._field_names = frozenset(f.alias or name for name, f in cls.model_fields.items()) | _ALLOWED_UNPREFIXED

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if key not in cls._field_names and ":" not in key and not key.startswith("@"):
                    raise ValueError(
                        f"unknown field {key!r} (user extensions must be namespaced, e.g. 'example:{key}')"
                    )
                if value is None:
                    raise ValueError(f"{key!r} is null; leave the field out instead")
        return data

    @property
    def extensions(self) -> dict[str, Any]:
        """The user extension fields (``prefix:name`` -> JSON value)."""
        return dict(self.__pydantic_extra__ or {})

    def to_jsonld(self) -> dict[str, Any]:
        """The JSON-LD object, as parsed or as built."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Location(_Element):
    """readPoint or bizLocation."""

    id: Uri


class QuantityElement(_Element):
    epcClass: Uri
    quantity: Number | None = None
    uom: str | None = None


class _Pair(_Element):
    """bizTransaction, source or destination."""

    id_key: ClassVar[str]


class BizTransaction(_Pair):
    id_key: ClassVar[str] = "bizTransaction"
    type: str | None = None
    bizTransaction: Uri


class Source(_Pair):
    id_key: ClassVar[str] = "source"
    type: str
    source: Uri


class Destination(_Pair):
    id_key: ClassVar[str] = "destination"
    type: str
    destination: Uri


class PersistentDisposition(_Element):
    set: list[Disposition] | None = None
    unset: list[Disposition] | None = None


class SensorMetadata(_Element):
    time: Timestamp | None = None
    startTime: Timestamp | None = None
    endTime: Timestamp | None = None
    deviceID: Uri | None = None
    deviceMetadata: Uri | None = None
    rawData: Uri | None = None
    dataProcessingMethod: Uri | None = None
    bizRules: Uri | None = None


class SensorReport(_Element):
    type: str | None = None
    exception: str | None = None
    deviceID: Uri | None = None
    deviceMetadata: Uri | None = None
    rawData: Uri | None = None
    dataProcessingMethod: Uri | None = None
    time: Timestamp | None = None
    microorganism: Uri | None = None
    chemicalSubstance: Uri | None = None
    value: Number | None = None
    component: str | None = None
    stringValue: str | None = None
    booleanValue: StrictBool | str | None = None
    hexBinaryValue: str | None = None
    uriValue: Uri | None = None
    minValue: Number | None = None
    maxValue: Number | None = None
    meanValue: Number | None = None
    sDev: Number | None = None
    percRank: Number | None = None
    percValue: Number | None = None
    uom: str | None = None
    coordinateReferenceSystem: Uri | None = None
    bizRules: Uri | None = None  # in the official JSON Schema's sensorReport, though not in the hash's order


class SensorElement(_Element):
    sensorMetadata: SensorMetadata | None = None
    sensorReport: Annotated[list[SensorReport], Field(min_length=1)]


class ErrorDeclaration(_Element):
    declarationTime: Timestamp
    reason: str | None = None
    correctiveEventIDs: list[Uri] | None = None


class EventBase(_Element):
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


class EPCISBody(_Element):
    eventList: list[Event] = Field(default_factory=list)


class EPCISDocument(_Element):
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
