"""The building blocks of EPCIS 2.0 events (pydantic v2): the JSON-LD object base that keeps user extensions as
written, the field types (timestamps, offsets, URIs, numbers, CBV bizSteps and dispositions), and the elements an
event holds: locations, quantities, business transactions, sources and destinations, sensor data, error
declarations. The events and the document are in :mod:`trace_api.epcis.model`."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from trace_api.epcis import vocab

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


class Element(BaseModel):
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


class Location(Element):
    """readPoint or bizLocation."""

    id: Uri


class QuantityElement(Element):
    epcClass: Uri
    quantity: Number | None = None
    uom: str | None = None


class _Pair(Element):
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


class PersistentDisposition(Element):
    set: list[Disposition] | None = None
    unset: list[Disposition] | None = None


class SensorMetadata(Element):
    time: Timestamp | None = None
    startTime: Timestamp | None = None
    endTime: Timestamp | None = None
    deviceID: Uri | None = None
    deviceMetadata: Uri | None = None
    rawData: Uri | None = None
    dataProcessingMethod: Uri | None = None
    bizRules: Uri | None = None


class SensorReport(Element):
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


class SensorElement(Element):
    sensorMetadata: SensorMetadata | None = None
    sensorReport: Annotated[list[SensorReport], Field(min_length=1)]


class ErrorDeclaration(Element):
    declarationTime: Timestamp
    reason: str | None = None
    correctiveEventIDs: list[Uri] | None = None
