"""Hash algorithm 2: the pre-hash string as CBV 2.0 section 8.9 writes it, not as one implementation does.

Each decision cites its rule (CBV 2.0 8.9.2, "rule n" below is its numbered list, "order n" its canonical
property order table); ``tests/unit/test_epcis_prehash_rules.py`` pins each one.

- Order 4-5: ``epcList`` before ``parentID``; order 19-23: ``bizTransactionList``, ``sourceList`` and
  ``destinationList`` right after ``bizLocation`` and before ``sensorElementList``; order 24-25: ``ilmd``, then
  event-level user extensions.
- Rule 13: a bizTransaction, source or destination is written ``type=<type>`` then ``<name>=<identifier>``,
  whatever order the JSON object has, then the members are sorted (rule 11). The rule's wording ("the type
  key-value pair SHALL follow the actual key-value") reads the other way round, but the reference's worked
  examples, its canonical order table and every implementation write the type first; see docs/epcis-hash.md.
- Rule 6/7: quantitative values (JSON numbers, and strings in the decimal fields ``quantity``, ``value``,
  ``minValue`` ... ``percValue``) lose trailing zeros through :class:`decimal.Decimal`, never through a float;
  any other string (``stringValue``, a lot, an extension) is written exactly as sent, digits and all.
- Booleans are written as RDF/XSD and JSON write them: ``true`` / ``false``.
- Rule 9: timestamps round half up at the millisecond (``.1415`` -> ``.142``, ``.1425`` -> ``.143``).
- Rules 14-16: CBV URNs and CURIEs become web URIs; a bare CBV term is expanded only where the EPCIS context
  defines it as one (bizStep, disposition, persistentDisposition, the types of a bizTransaction, source,
  destination and sensorReport, sensorReport exception and component).
- Rules 17-18: EPC URIs and Digital Link URIs become constrained canonical Digital Link URIs (``_canon``).
- Left out: ``eventID``, ``recordTime``, ``errorDeclaration``, ``@context`` and comments.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from trace_api.epcis import vocab
from trace_api.epcis._canon import to_digital_link

__all__ = ["canonical_decimal", "canonical_time", "prehash"]

_URNS = (
    ("urn:epcglobal:cbv:bizstep:", vocab.CBV_URI + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", vocab.CBV_URI + "Disp-"),
    ("urn:epcglobal:cbv:btt:", vocab.CBV_URI + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", vocab.CBV_URI + "SDT-"),
    ("urn:epcglobal:cbv:er:", vocab.CBV_URI + "ER-"),
)
_Terms = tuple[frozenset[str], str]
_STEP: _Terms = (vocab.BIZ_STEPS, vocab.CBV_URI + "BizStep-")
_DISP: _Terms = (vocab.DISPOSITIONS, vocab.CBV_URI + "Disp-")
_BTT: _Terms = (vocab.BIZ_TRANSACTION_TYPES, vocab.CBV_URI + "BTT-")
_SDT: _Terms = (vocab.SOURCE_DESTINATION_TYPES, vocab.CBV_URI + "SDT-")
_MEASURE: _Terms = (vocab.MEASUREMENT_TYPES, vocab.GS1_VOC_URI)
_ALERT: _Terms = (vocab.SENSOR_EXCEPTIONS, vocab.GS1_VOC_URI)
_COMPONENT: _Terms = (vocab.SENSOR_COMPONENTS, vocab.CBV_URI + "Comp-")

DECIMAL_FIELDS = frozenset(["quantity", "value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"])
TIME_FIELDS = frozenset({"eventTime", "time", "startTime", "endTime", "declarationTime"})
EPC_LISTS = ("epcList", "parentID", "inputEPCList", "childEPCs")  # order 4-7 (parentID is a single value)
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList")  # order 8-10
SENSOR_METADATA_FIELDS = tuple(
    ["time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules"])  # fmt: skip  # noqa: E501
SENSOR_REPORT_FIELDS = tuple(
    ["type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time", "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem"])  # fmt: skip  # noqa: E501
_PAIRS = (("bizTransactionList", "bizTransaction", _BTT), ("sourceList", "source", _SDT),
          ("destinationList", "destination", _SDT))  # fmt: skip
NOT_HASHED = frozenset({"type", "eventID", "recordTime", "errorDeclaration", "@context", "comment", "rdfs:comment"})
_KNOWN = (
    frozenset(
        [
            "eventTime",
            "eventTimeZoneOffset",
            "certificationInfo",
            "epcList",
            "parentID",
            "inputEPCList",
            "childEPCs",
            "quantityList",
            "childQuantityList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "action",
            "transformationID",
            "bizStep",
            "disposition",
            "persistentDisposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "ilmd",
        ]
    )
    | NOT_HASHED
)
_FRACTION = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")


def canonical_decimal(value: Any) -> str | None:
    """A quantitative value without trailing zeros or exponent (rule 6), or None when it is no finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)  # the shortest text that reads back as this float: what the JSON said, digit for digit
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def canonical_time(text: str) -> str:
    """UTC, ``Z``, exactly three decimals rounded half up (rules 8 and 9); anything else unchanged."""
    match = _FRACTION.fullmatch(text)
    if match is None:
        return text
    whole, fraction, zone = match.groups()
    digits = (fraction or "").ljust(4, "0")
    millis = int(digits[:3]) + (1 if digits[3] >= "5" else 0)
    if zone in (None, "Z", "+00:00", "-00:00") and millis < 1000:  # already UTC, no carry: no date arithmetic
        try:
            datetime.fromisoformat(whole)  # still a real date and time
        except ValueError:
            return text
        return f"{whole}.{millis:03d}Z"
    try:
        moment = datetime.fromisoformat(whole + (zone or "Z").replace("Z", "+00:00"))
    except ValueError:
        return text
    moment = moment.astimezone(UTC) + timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_TEXTS: dict[tuple[Any, ...], str] = {}
_TEXTS_LIMIT = 200_000


class _Writer:
    __slots__ = ("prefixes", "signature")

    def __init__(self, namespaces: Mapping[str, str]) -> None:
        self.prefixes = {**vocab.CONTEXT_PREFIXES, **namespaces}
        self.signature = tuple(sorted(namespaces.items()))

    def text(self, raw: Any, key: str = "", terms: _Terms | None = None) -> str:
        """One value as it enters the pre-hash string (cached: classes, places and steps repeat)."""
        if not isinstance(raw, str) or key in TIME_FIELDS:
            return self._text(raw, key, terms)
        cache_key = (raw, key, terms[1] if terms else "", self.signature)
        found = _TEXTS.get(cache_key)
        if found is None:
            if len(_TEXTS) >= _TEXTS_LIMIT:
                _TEXTS.clear()
            found = _TEXTS[cache_key] = self._text(raw, key, terms)
        return found

    def _text(self, raw: Any, key: str, terms: _Terms | None) -> str:
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, int | float) or key in DECIMAL_FIELDS:
            number = canonical_decimal(raw)
            if number is not None:
                return number
        text = str(raw).strip()  # rule 5
        if key in TIME_FIELDS:
            return canonical_time(text)
        if terms is not None and text in terms[0]:
            return terms[1] + text  # rule 16: a bare CBV term where the context makes it one
        for urn, uri in _URNS:
            if text.startswith(urn):
                return uri + text[len(urn) :]  # rule 14
        if ":" in text and not text.startswith(("urn:", "http:", "https:")):
            prefix, rest = text.split(":", 1)
            if prefix in self.prefixes and not rest.startswith("//"):
                text = self.prefixes[prefix] + rest  # rule 15
        return _as_link(text)  # rules 17 and 18

    def pair(self, key: str, raw: Any, terms: _Terms | None = None) -> str:
        if raw is None or raw == "" or raw == [] or raw == {}:
            return ""  # rule 4
        return key + "=" + self.text(raw, key, terms)

    def name(self, key: str) -> str:
        """An extension's key: ``{namespace}local`` (rules 20-21), from a CURIE or a full IRI (split after its
        last ``/`` or ``#``, as the XML form of the same element names it)."""
        if key.startswith(("http://", "https://")):
            cut = max(key.rfind("/"), key.rfind("#")) + 1
            if 0 < cut < len(key):
                return "{" + key[:cut] + "}" + key[cut:]
        if ":" in key:
            prefix, local = key.split(":", 1)
            if prefix in self.prefixes:
                return "{" + self.prefixes[prefix] + "}" + local
        return key

    def extension(self, key: str, raw: Any) -> list[str]:
        """A user extension or ILMD element: one string per value, children sorted (rules 19-21)."""
        if isinstance(raw, list):
            return [s for item in raw for s in self.extension(key, item)]
        name = self.name(key)
        if isinstance(raw, dict):
            text = raw.get("#text")
            inner = sorted(s for k, v in raw.items() if k != "#text" and not _skipped(k) for s in self.extension(k, v))
            head = name + ("=" + self.text(text) if text not in (None, "") else "")
            return [head + "".join(inner)]
        return [self.pair(name, raw)] if raw not in (None, "") else []

    def extensions(self, obj: Mapping[str, Any], known: frozenset[str] | tuple[str, ...]) -> str:
        found = sorted(s for k, v in obj.items() if k not in known and not _skipped(k) for s in self.extension(k, v))
        return "".join(found)

    def record(self, name: str, obj: Any, fields: tuple[str, ...], terms: Mapping[str, _Terms]) -> str:
        """An object with an extension point: its fields in order, then its extensions (rule 22)."""
        if not isinstance(obj, dict):
            return self.pair(name, obj)
        inner = "".join(self.pair(f, obj[f], terms.get(f)) for f in fields if f in obj)
        inner += self.extensions(obj, fields)
        return name + inner if inner else ""

    def values(self, name: str, raw: Any, terms: _Terms | None = None) -> str:
        items = raw if isinstance(raw, list) else [raw]
        return "".join(sorted(self.pair(name, v, terms) for v in items))  # rules 10 and 11

    def listed(self, name: str, member: str, raw: Any) -> str:
        inner = self.values(member, raw)
        return name + inner if inner else ""

    def quantities(self, name: str, raw: Any) -> str:
        members = [self.record("quantityElement", q, ("epcClass", "quantity", "uom"), {}) for q in raw or []]
        members = sorted(m for m in members if m)
        return name + "".join(members) if members else ""

    def pairs(self, name: str, member: str, raw: Any, terms: _Terms) -> str:
        out = []
        for item in raw or []:
            if isinstance(item, dict):
                out.append(
                    self.pair("type", item.get("type"), terms)
                    + self.pair(member, item.get(member))
                    + self.extensions(item, (member, "type"))
                )  # rule 13, as its worked examples write it
            else:
                out.append(self.pair(member, item))
        return name + "".join(sorted(out)) if out else ""

    def sensors(self, raw: Any) -> str:
        out = []
        report_terms = {"type": _MEASURE, "exception": _ALERT, "component": _COMPONENT}
        for element in raw or []:
            if not isinstance(element, dict):
                continue
            inner = (
                self.record("sensorMetadata", element["sensorMetadata"], SENSOR_METADATA_FIELDS, {})
                if "sensorMetadata" in element
                else ""
            )
            reports = element.get("sensorReport") or []
            inner += "".join(
                sorted(
                    self.record("sensorReport", r, SENSOR_REPORT_FIELDS, report_terms)
                    for r in (reports if isinstance(reports, list) else [reports])
                )
            )
            inner += self.extensions(element, ("sensorMetadata", "sensorReport"))
            if inner:
                out.append("sensorElement" + inner)
        return "sensorElementList" + "".join(sorted(out)) if out else ""

    def event(self, data: Mapping[str, Any]) -> str:
        kind = data.get("type", "")
        out = [
            "eventType=" + str(kind),
            self.pair("eventTime", data.get("eventTime")),
            self.pair("eventTimeZoneOffset", data.get("eventTimeZoneOffset")),
        ]
        if "certificationInfo" in data:
            out.append(self.values("certificationInfo", data["certificationInfo"]))
        out.append(self.listed("epcList", "epc", data.get("epcList")))
        out.append(self.pair("parentID", data.get("parentID")))
        out.append(self.listed("inputEPCList", "epc", data.get("inputEPCList")))
        out.append(self.listed("childEPCs", "epc", data.get("childEPCs")))
        for name in QUANTITY_LISTS:
            out.append(self.quantities(name, data.get(name)))
        out.append(self.listed("outputEPCList", "epc", data.get("outputEPCList")))
        out.append(self.quantities("outputQuantityList", data.get("outputQuantityList")))
        for name in ("action", "transformationID"):
            out.append(self.pair(name, data.get(name)))
        out.append(self.pair("bizStep", data.get("bizStep"), _STEP))
        out.append(self.pair("disposition", data.get("disposition"), _DISP))
        persistent = data.get("persistentDisposition")
        if isinstance(persistent, dict):
            inner = "".join(self.values(k, persistent[k], _DISP) for k in ("set", "unset") if k in persistent)
            out.append("persistentDisposition" + inner if inner else "")
        for name in ("readPoint", "bizLocation"):
            if name in data:
                out.append(self.record(name, data[name], ("id",), {}))
        for name, member, terms in _PAIRS:
            out.append(self.pairs(name, member, data.get(name), terms))
        out.append(self.sensors(data.get("sensorElementList")))
        ilmd = data.get("ilmd")
        if isinstance(ilmd, dict):
            inner = self.extensions(ilmd, ())
            out.append("ilmd" + inner if inner else "")
        out.append(self.extensions(data, _KNOWN))
        return "".join(out)


@functools.lru_cache(maxsize=65536)  # classes, GLNs and locations repeat across the events of a file
def _as_link(text: str) -> str:
    return to_digital_link(text) or text


def _skipped(key: str) -> bool:
    return key in ("comment", "rdfs:comment", "@context") or key.startswith("@xmlns")


def prehash(data: Mapping[str, Any], namespaces: Mapping[str, str]) -> str:
    """The pre-hash string of one event under hash algorithm 2."""
    return _Writer(namespaces).event(data)
