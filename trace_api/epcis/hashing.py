"""GS1 CBV 2.0 EPCIS Event Hash ID (CBV 2.0 section 8.9): ``ni:///sha-256;<hex>?ver=CBV2.0``.

Two hash algorithms, both CBV 2.0 Event Hash IDs; each stored event records which one its anchored hash used
(``epcis_events.hash_algorithm``), so events anchored before keep verifying:

- **2** (:data:`HASH_ALGORITHM`, the default): the standard's own text, see :mod:`trace_api.epcis._standard`.
  Where implementations disagree it follows the standard; ``docs/epcis-hash.md`` lists the disagreements.
- **1** (:data:`LEGACY_ALGORITHM`): what this project anchored first, byte for byte GS1's exemplary generator
  1.9.3, described below.

Algorithm 1: the pre-hash string is built the way GS1's exemplary implementation (``epcis-event-hash-generator`` 1.9.3,
the PyPI release) builds it from a JSON-LD document, so a hash computed here can be checked with GS1's tool:

1. Bare CBV terms are expanded by JSON-LD (``shipping`` -> ``https://ref.gs1.org/cbv/BizStep-shipping``). The
   reference then replaces *every* string value of the event that is the unique ``-``/``/`` suffix of such an
   expansion, wherever it stands. CURIEs such as ``cbv:BizStep-shipping`` are not expanded unless the document
   ``@context`` declares the prefix, and then in keys and values alike (``example:x`` -> ``{http://ns/}x``).
2. The event becomes a tree of (name, text, children); ``*List`` members, ``childEPCs`` and the quantity elements
   are renamed to their EPCIS XML names.
3. The fields of the canonical property order are written first (``key=value``, lists sorted); user extensions
   inside readPoint, bizLocation and the sensor elements follow their parent's fields.
4. Everything not consumed by step 3 (ilmd, bizTransactionList, sourceList, destinationList, event-level user
   extensions, leftovers) follows, sorted; recordTime, eventID, errorDeclaration and ``type`` are left out.

Common event shapes are written straight from the dict (``_Fast``); anything else goes through the tree of
``_prehash``, which follows the reference step by step. Both give the same string (tests compare them with 1.9.3).

Differences from 1.9.3, where it fails rather than hashes: a bizTransaction without type (it raises IndexError
on the whole document) hashes as ``bizTransaction=<id>``; a timestamp that rounds up to the next second carries
over; a numeric string out of float range is kept as is. Bare-term expansion is scoped to the event, where the
reference scopes it to the document: a bare value of one event can be expanded by a CBV term of another event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

from trace_api.epcis import _standard
from trace_api.epcis._canon import canonical_time, canonical_value
from trace_api.epcis._prehash import (
    SENSOR_METADATA_FIELDS,
    SENSOR_REPORT_FIELDS,
    Builder,
    collect,
    correct,
    generic,
    namespaces_from_context,
    suffix_index,
    tree_prehash,
)

__all__ = [
    "HASH_ALGORITHM",
    "HASH_ALGORITHMS",
    "HASH_VERSION",
    "LEGACY_ALGORITHM",
    "event_hash_bytes",
    "event_hash_id",
    "namespaces_from_context",
    "prehash_string",
]

HASH_VERSION = "CBV2.0"  # the ``ver`` of the Event Hash ID, for both algorithms
HASH_ALGORITHM = 2
LEGACY_ALGORITHM = 1
HASH_ALGORITHMS = frozenset({LEGACY_ALGORITHM, HASH_ALGORITHM})


class HashSource(Protocol):
    """A parsed event: its JSON-LD form and the prefixes its document declared."""

    def hash_source(self) -> tuple[Mapping[str, Any], Mapping[str, str]]: ...


EventLike = Mapping[str, Any] | HashSource


class _Irregular(Exception):
    """The event has a shape the fast path does not cover; the tree builder takes it."""


_SCALARS = (str, int, float, bool, type(None))
# Order of the fields the fast path writes itself, and how: s scalar, e EPC list, q quantity list.
_FAST_ORDER = (
    ("eventTime", "s"), ("eventTimeZoneOffset", "s"), ("certificationInfo", "s"), ("parentID", "s"),
    ("epcList", "e"), ("inputEPCList", "e"), ("childEPCs", "e"), ("quantityList", "q"), ("childQuantityList", "q"),
    ("inputQuantityList", "q"), ("outputEPCList", "e"), ("outputQuantityList", "q"), ("action", "s"),
    ("transformationID", "s"), ("bizStep", "s"), ("disposition", "s"), ("persistentDisposition", "p"),
    ("readPoint", "l"), ("bizLocation", "l"), ("sensorElementList", "x"),
)  # fmt: skip
_PAIR_KEYS = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
_HANDLED = frozenset(name for name, _ in _FAST_ORDER) | frozenset(_PAIR_KEYS)
_IGNORED = frozenset({"type", "recordTime", "eventID", "errorDeclaration", "@context", "#text", "comment",
                      "rdfs:comment"})  # fmt: skip
_QUANTITY_KEYS = ("epcClass", "quantity", "uom")


class _Fast:
    """Writes the pre-hash string of a common event straight from the dict, as the tree builder would."""

    __slots__ = ("builder",)

    def __init__(self, builder: Builder) -> None:
        self.builder = builder

    def value(self, name: str, raw: Any, time: bool = False) -> str:
        if not isinstance(raw, _SCALARS):
            raise _Irregular
        text = self.builder.text(raw).strip()
        if not text:
            return ""
        return name + "=" + (canonical_time(text) if time else canonical_value(text))

    def values(self, name: str, raw: Any) -> str:
        items = raw if isinstance(raw, list) else [raw]
        found = sorted(v for v in (self.value(name, item) for item in items) if v)
        return "".join(found)

    def scalar_field(self, name: str, raw: Any) -> str:
        items = raw if isinstance(raw, list) else [raw]
        time = name == "eventTime"
        return "".join(sorted(v for v in (self.value(name, item, time) for item in items) if v))

    def quantities(self, name: str, raw: Any) -> str:
        out = []
        for element in raw if isinstance(raw, list) else [raw]:
            if not isinstance(element, dict) or not element or not set(element) <= set(_QUANTITY_KEYS):
                raise _Irregular
            inner = "".join(self.value(key, element[key]) for key in _QUANTITY_KEYS if key in element)
            if inner:
                out.append("quantityElement" + inner)
        out.sort()
        return name + "".join(out) if out else ""

    def record(self, name: str, raw: Any, fields: tuple[str, ...]) -> str:
        """A sensorMetadata or sensorReport object of scalars: its fields in the canonical order."""
        if not isinstance(raw, dict) or not set(raw) <= set(fields):
            raise _Irregular
        inner = "".join(self.value(key, raw[key], "time" in key.lower()) for key in fields if key in raw)
        return name + inner if inner else ""

    def sensors(self, raw: Any) -> str:
        out = []
        for element in raw if isinstance(raw, list) else [raw]:
            if not isinstance(element, dict) or not set(element) <= {"sensorMetadata", "sensorReport"}:
                raise _Irregular
            inner = (
                self.record("sensorMetadata", element["sensorMetadata"], SENSOR_METADATA_FIELDS)
                if "sensorMetadata" in element
                else ""
            )
            reports = element.get("sensorReport", [])
            found = sorted(
                r
                for r in (
                    self.record("sensorReport", report, SENSOR_REPORT_FIELDS)
                    for report in (reports if isinstance(reports, list) else [reports])
                )
                if r
            )
            inner += "".join(found)
            if inner:
                out.append("sensorElement" + inner)
        out.sort()
        return "sensorElementList" + "".join(out) if out else ""

    def section(self, name: str, raw: Any, kind: str) -> str:
        if kind == "x":
            return self.sensors(raw)
        if kind == "s":
            return self.scalar_field(name, raw)
        if kind == "e":
            inner = self.values("epc", raw)
            return name + inner if inner else ""
        if kind == "q":
            return self.quantities(name, raw)
        if not isinstance(raw, dict):
            raise _Irregular
        if kind == "l":
            if set(raw) != {"id"}:
                raise _Irregular
            inner = self.value("id", raw["id"])
        else:  # persistentDisposition
            if not raw or not set(raw) <= {"set", "unset"}:
                raise _Irregular
            inner = "".join(self.values(key, raw[key]) for key in ("set", "unset") if key in raw)
        return name + inner if inner else ""

    def pairs(self, name: str, raw: Any) -> str:
        id_key = _PAIR_KEYS[name]
        out = []
        for element in raw if isinstance(raw, list) else [raw]:
            if not isinstance(element, dict) or not (set(element) == {"type", id_key} or set(element) == {id_key}):
                raise _Irregular
            text = []
            for key, value in element.items():  # JSON order, as the reference keeps it
                if not isinstance(value, _SCALARS):
                    raise _Irregular
                stripped = self.builder.text(value).strip()
                text.append(key + ("=" + canonical_value(stripped) if stripped else ""))
            out.append("".join(text))
        out.sort()
        return name + "".join(out)

    def prehash(self, data: Mapping[str, Any]) -> str:
        if "eventTime" not in data and "action" not in data:
            raise _Irregular  # the reference would then treat event-level extensions as nested ones
        head = []
        for name, kind in _FAST_ORDER:
            if name in data:
                head.append(self.section(name, data[name], kind))
        tail = []
        for key, raw in data.items():
            if key in _PAIR_KEYS:
                if raw != []:
                    tail.append(self.pairs(key, raw))
            elif key not in _HANDLED and key not in _IGNORED:
                if key.startswith("@xmlns") or key in _PAIR_KEYS.values():
                    raise _Irregular
                name = self.builder.key(key)
                if name.endswith("List") or name == "childEPCs":
                    raise _Irregular
                for item in raw if isinstance(raw, list) else [raw]:
                    node = self.builder.node(name, item)
                    correct(node)
                    text = node.text.strip()
                    tail.append(node.name + ("=" + canonical_value(text) if text else "") + generic(node.children))
        tail.sort()
        kind = data.get("type", "")
        name = self.builder.expanded(kind) if isinstance(kind, str) else str(kind)
        return "eventType=" + name + "".join(head) + "".join(tail)


def _source(event: EventLike, namespaces: Mapping[str, str] | None) -> tuple[Mapping[str, Any], Mapping[str, str]]:
    if isinstance(event, Mapping):
        own = namespaces_from_context(event.get("@context"))
        return event, ({**namespaces, **own} if namespaces else own)  # the event's own context is the inner one
    data, declared = event.hash_source()
    return data, ({**declared, **namespaces} if namespaces else declared)


def prehash_string(
    event: EventLike, *, namespaces: Mapping[str, str] | None = None, algorithm: int = HASH_ALGORITHM
) -> str:
    """The canonical pre-hash string of one event (a JSON-LD dict or a parsed event model).

    ``namespaces`` are the prefixes declared by the enclosing document's ``@context``
    (see :func:`namespaces_from_context`); a parsed model carries its own. ``algorithm`` is 2 (the standard's
    text) or 1 (the exemplary generator 1.9.3, for events anchored with it).
    """
    data, ns = _source(event, namespaces)
    if algorithm == HASH_ALGORITHM:
        return _standard.prehash(data, ns)
    if algorithm != LEGACY_ALGORITHM:
        raise ValueError(f"unknown event hash algorithm {algorithm!r}")
    candidates: set[str] = set()
    collect(data, "", ns, candidates)
    builder = Builder(suffix_index(candidates) if candidates else {}, ns)
    try:
        return _Fast(builder).prehash(data)
    except _Irregular:
        return tree_prehash(data, builder)


def event_hash_bytes(
    event: EventLike, *, namespaces: Mapping[str, str] | None = None, algorithm: int = HASH_ALGORITHM
) -> bytes:
    """The 32-byte SHA-256 of the pre-hash string: the ``bytes32`` recorded on chain."""
    text = prehash_string(event, namespaces=namespaces, algorithm=algorithm)
    return hashlib.sha256(text.encode("utf-8")).digest()


def event_hash_id(
    event: EventLike, *, namespaces: Mapping[str, str] | None = None, algorithm: int = HASH_ALGORITHM
) -> str:
    """The EPCIS Event Hash ID, ``ni:///sha-256;<64 hex>?ver=CBV2.0``."""
    digest = event_hash_bytes(event, namespaces=namespaces, algorithm=algorithm)
    return f"ni:///sha-256;{digest.hex()}?ver={HASH_VERSION}"
