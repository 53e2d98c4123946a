"""The generic pre-hash builder of the CBV 2.0 event hash: the event as a tree, then the canonical order.

See :mod:`trace_api.epcis.hashing` for the algorithm and its public API; this module handles any JSON shape the
reference accepts, :mod:`trace_api.epcis.hashing` adds a faster path for the common shapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trace_api.epcis import vocab
from trace_api.epcis._canon import canonical_time, canonical_value

__all__ = [
    "Builder",
    "Child",
    "Node",
    "SENSOR_METADATA_FIELDS",
    "SENSOR_REPORT_FIELDS",
    "collect",
    "correct",
    "field",
    "generic",
    "namespaces_from_context",
    "ordered",
    "suffix_index",
    "tree_prehash",
]

# --- step 1: the JSON-LD view of the event -------------------------------------------------------------------

_CANDIDATE_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")
_Terms = tuple[frozenset[str], str]
_BIZ_STEP: _Terms = (vocab.BIZ_STEPS, vocab.CBV_URI + "BizStep-")
_DISPOSITION: _Terms = (vocab.DISPOSITIONS, vocab.CBV_URI + "Disp-")
# Terms of a value position, by the key that holds it and the list or object around it.
_SCOPED_TERMS: dict[tuple[str, str], _Terms] = {
    ("", "bizStep"): _BIZ_STEP,
    ("", "disposition"): _DISPOSITION,
    ("persistentDisposition", "set"): _DISPOSITION,
    ("persistentDisposition", "unset"): _DISPOSITION,
    ("bizTransactionList", "type"): (vocab.BIZ_TRANSACTION_TYPES, vocab.CBV_URI + "BTT-"),
    ("sourceList", "type"): (vocab.SOURCE_DESTINATION_TYPES, vocab.CBV_URI + "SDT-"),
    ("destinationList", "type"): (vocab.SOURCE_DESTINATION_TYPES, vocab.CBV_URI + "SDT-"),
    ("sensorReport", "type"): (vocab.MEASUREMENT_TYPES, vocab.GS1_VOC_URI),
    ("sensorReport", "exception"): (vocab.SENSOR_EXCEPTIONS, vocab.GS1_VOC_URI),
    ("sensorReport", "component"): (vocab.SENSOR_COMPONENTS, vocab.CBV_URI + "Comp-"),
    ("errorDeclaration", "reason"): (vocab.ERROR_REASONS, vocab.CBV_URI + "ER-"),
}
# Terms whose values are IRIs (JSON-LD "@type": "@id" or "@vocab"): a CURIE there is expanded.
_IRI_KEYS = frozenset(
    [
        "id",
        "type",
        "certificationInfo",
        "epcList",
        "parentID",
        "childEPCs",
        "inputEPCList",
        "outputEPCList",
        "epcClass",
        "transformationID",
        "bizTransaction",
        "source",
        "destination",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
        "coordinateReferenceSystem",
        "microorganism",
        "chemicalSubstance",
        "uriValue",
        "correctiveEventIDs",
        "eventID",
        "bizStep",
        "disposition",
        "set",
        "unset",
        "exception",
        "component",
        "reason",
    ]
)
# Unprefixed keys JSON-LD keeps; any other unprefixed key is dropped by expansion, with everything under it.
_TERMS = _IRI_KEYS | frozenset(
    [
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "errorDeclaration",
        "declarationTime",
        "action",
        "readPoint",
        "bizLocation",
        "persistentDisposition",
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
        "quantity",
        "uom",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "sensorMetadata",
        "sensorReport",
        "time",
        "startTime",
        "endTime",
        "value",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "minValue",
        "maxValue",
        "meanValue",
        "sDev",
        "percRank",
        "percValue",
        "ilmd",
    ]
)
_SCOPES = frozenset({"persistentDisposition", "errorDeclaration", "sensorReport"})
_INDEXES: dict[frozenset[str], dict[str, list[str]]] = {}


def namespaces_from_context(context: Any) -> dict[str, str]:
    """Prefix -> namespace URI declared inline in a document ``@context`` (a list; a lone object is ignored)."""
    if not isinstance(context, list):
        return {}
    return {k: v for entry in context if isinstance(entry, dict) for k, v in entry.items() if isinstance(v, str)}


def _add_string(value: str, scope: str, key: str, namespaces: Mapping[str, str], out: set[str]) -> None:
    """Add what JSON-LD expands ``value`` to, when that is a CBV or GS1 web vocabulary IRI."""
    terms = _SCOPED_TERMS.get((scope, key))
    if terms is not None and value in terms[0]:
        out.add(terms[1] + value)
    elif value.startswith(_CANDIDATE_PREFIXES):
        out.add(value)
    elif (terms is not None or key in _IRI_KEYS) and ":" in value:
        prefix, rest = value.split(":", 1)
        base = namespaces.get(prefix) or vocab.CONTEXT_PREFIXES.get(prefix)
        if base is not None and not rest.startswith("//") and (base + rest).startswith(_CANDIDATE_PREFIXES):
            out.add(base + rest)


def collect(obj: Mapping[str, Any], scope: str, namespaces: Mapping[str, str], out: set[str]) -> None:
    """The CBV and GS1 web vocabulary IRIs of JSON-LD's expansion of ``obj`` (one event, or part of one)."""
    for key, value in obj.items():
        if ":" not in key and key not in _TERMS:
            continue  # JSON-LD drops an undefined term with everything under it
        if isinstance(value, str):
            _add_string(value, scope, key, namespaces, out)
            continue
        inner = key if key in _SCOPES or key.endswith("List") else ""
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, str):
                _add_string(item, scope, key, namespaces, out)
            elif isinstance(item, dict):
                collect(item, inner, namespaces, out)
            elif isinstance(item, list):
                collect({key: item}, scope, namespaces, out)


def suffix_index(candidates: set[str]) -> dict[str, list[str]]:
    """Each ``-``/``/`` suffix of the candidates -> the candidates ending with it."""
    key = frozenset(candidates)
    index = _INDEXES.get(key)
    if index is None:
        index = {}
        for full in candidates:
            for suffix in {full[i + 1 :] for i, ch in enumerate(full) if ch in "-/"}:
                index.setdefault(suffix, []).append(full)
        if len(_INDEXES) >= 4096:
            _INDEXES.clear()
        _INDEXES[key] = index
    return index


# --- step 2: the tree ------------------------------------------------------------------------------------------


class Node:
    __slots__ = ("children", "name", "text")

    def __init__(self, name: str, text: str, children: list[Child]) -> None:
        self.name = name
        self.text = text
        self.children = children


Child = Node | tuple[Node, ...]  # a tuple: one bizTransaction, source or destination (type and value)
SKIPPED_KEYS = frozenset({"#text", "comment", "rdfs:comment", "@context"})
PAIR_LISTS = frozenset({"bizTransactionList", "sourceList", "destinationList"})
UNSORTED = frozenset({"bizTransaction", "source", "destination"})
_RENAMES = {"inputEPC": "epc", "outputEPC": "epc", "inputQuantity": "quantityElement",
            "outputQuantity": "quantityElement", "childQuantity": "quantityElement"}  # fmt: skip


class Builder:
    __slots__ = ("index", "namespaces")

    def __init__(self, index: dict[str, list[str]], namespaces: Mapping[str, str]) -> None:
        self.index = index
        self.namespaces = namespaces

    def expanded(self, value: str) -> str:
        """``value`` itself, or the one expanded CBV term of the event it is the ``-``/``/`` suffix of."""
        found = self.index.get(value)
        return found[0] if found is not None and len(found) == 1 else value

    def text(self, value: Any) -> str:
        if not isinstance(value, str):
            return str(value)  # JSON true -> "True", null -> "None", as in the reference
        text = self.expanded(value)
        if ":" in text and self.namespaces:
            prefix, rest = text.split(":", 1)
            if prefix in self.namespaces:
                return self.namespaces[prefix] + rest
        return text

    def key(self, key: str) -> str:
        if ":" in key and self.namespaces:
            prefix, local = key.split(":", 1)
            if prefix in self.namespaces:
                return "{" + self.namespaces[prefix] + "}" + local
        return key

    def node(self, name: str, value: Any) -> Node:
        if isinstance(value, dict):
            raw = value.get("#text", "")
            text = self.expanded(raw) if isinstance(raw, str) else str(raw)
            return Node(name, text, self.children(value))
        if isinstance(value, list):  # a list inside a list: nameless members, as in the reference
            return Node(name, "", [self.node("", item) for item in value])
        return Node(name, self.text(value), [])

    def children(self, obj: Mapping[str, Any]) -> list[Child]:
        out: list[Child] = []
        for key, value in obj.items():
            if key in SKIPPED_KEYS or key.startswith("@xmlns"):
                continue
            name = self.key(key)
            if isinstance(value, list):
                out.extend(self.node(name, item) for item in value)
            else:
                out.append(self.node(name, value))
        return out


def correct(node: Node) -> None:
    """EPCIS XML names: ``*List`` members get their element name, childEPCs become epc, quantities quantityElement."""
    kids = node.children
    if kids:
        lists: dict[str, list[Node]] = {}
        rest: list[Child] = []
        for child in kids:
            if isinstance(child, Node) and child.name.endswith("List"):
                lists.setdefault(child.name, []).append(child)
            else:
                rest.append(child)
        for name, members in lists.items():
            if name in PAIR_LISTS:
                # the first two keys of each element, in JSON order (1.9.3 drops any further key)
                rest.append(Node(name, "", [tuple(c for c in m.children[:2] if isinstance(c, Node)) for m in members]))
            else:
                rest.append(Node(name, "", [Node(name[:-4], m.text, m.children) for m in members]))
        epcs = [c for c in rest if isinstance(c, Node) and c.name == "childEPCs"]
        if epcs:
            rest = [c for c in rest if not (isinstance(c, Node) and c.name == "childEPCs")]
            rest.append(Node("childEPCs", "", [Node("epc", c.text, []) for c in epcs]))
        for child in rest:
            if isinstance(child, Node) and child.name not in PAIR_LISTS:
                correct(child)
        node.children = rest
    renamed = _RENAMES.get(node.name)
    if renamed is not None:
        node.name = renamed
    elif node.name == "quantity" and node.children:
        node.name = "quantityElement"


# --- steps 3 and 4: the pre-hash string ------------------------------------------------------------------------

Order = tuple[tuple[str, "Order | None"], ...]
_EPCS: Order = (("epc", None),)
_QUANTITIES: Order = (("quantityElement", (("epcClass", None), ("quantity", None), ("uom", None))),)
_ID: Order = (("id", None),)
SENSOR_METADATA_FIELDS = tuple(
    ["time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules"])  # fmt: skip  # noqa: E501
SENSOR_REPORT_FIELDS = tuple(
    ["type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time", "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem"])  # fmt: skip  # noqa: E501
_SENSOR_METADATA: Order = tuple((n, None) for n in SENSOR_METADATA_FIELDS)
_SENSOR_REPORT: Order = tuple((n, None) for n in SENSOR_REPORT_FIELDS)
_SENSOR_ELEMENT: Order = (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT))
ORDER: Order = (
    ("eventTime", None), ("eventTimeZoneOffset", None), ("certificationInfo", None), ("parentID", None),
    ("epcList", _EPCS), ("inputEPCList", _EPCS), ("childEPCs", _EPCS), ("quantityList", _QUANTITIES),
    ("childQuantityList", _QUANTITIES), ("inputQuantityList", _QUANTITIES), ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITIES), ("action", None), ("transformationID", None), ("bizStep", None),
    ("disposition", None), ("persistentDisposition", (("set", None), ("unset", None))), ("readPoint", _ID),
    ("bizLocation", _ID), ("sensorElementList", (("sensorElement", _SENSOR_ELEMENT),)),
)  # fmt: skip
NOT_HASHED = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})


def _take_extensions(children: list[Child]) -> list[Child]:
    """User extensions of a nested EPCIS field: ``{namespace/}name`` children (never at event level)."""
    if len(children) <= 1:
        return []
    if any(isinstance(c, Node) and ("eventTime" in c.name or "action" in c.name) for c in children):
        return []
    found: list[Child] = [c for c in children if isinstance(c, Node) and "{" in c.name and "/}" in c.name]
    for child in found:
        children.remove(child)
    return found


def ordered(children: list[Child], order: Order) -> str:
    """The fields of ``order``, consuming each child written in full; leftovers stay in ``children``."""
    extensions = _take_extensions(children)
    out = []
    for name, sub in order:
        values = []
        for child in [c for c in children if isinstance(c, Node) and c.name == name]:
            text = field(child, sub)
            if text:
                values.append(text)
            if not child.children:
                children.remove(child)
        if values:
            values.sort()
            out.append("".join(values))
    if extensions:
        out.append(generic(extensions))
    return "".join(out)


def field(node: Node, sub: Order | None) -> str:
    nested = ordered(node.children, sub) if sub else ""
    text = node.text.strip()
    if text:
        lower = node.name.lower()
        text = canonical_time(text) if "time" in lower and "offset" not in lower else canonical_value(text)
        if text:
            text = "=" + text
    return node.name + text + nested if text or nested else ""


def generic(children: Iterable[Child]) -> str:
    items = list(children)
    values = []
    for child in items:
        if isinstance(child, tuple):
            values.append(generic(child))
        else:
            text = child.text.strip()
            values.append(child.name + ("=" + canonical_value(text) if text else "") + generic(child.children))
    if len(items) > 1 and not any(isinstance(c, Node) and c.name in UNSORTED for c in items):
        values.sort()
    return "".join(values)


def tree_prehash(data: Mapping[str, Any], builder: Builder) -> str:
    """The pre-hash string of any event, through the tree."""
    kind = data.get("type", "")
    root = Node(builder.expanded(kind) if isinstance(kind, str) else str(kind), "", builder.children(data))
    correct(root)
    head = ordered(root.children, ORDER)
    rest = [c for c in root.children if not (isinstance(c, Node) and c.name in NOT_HASHED)]
    return "eventType=" + root.name + head + (generic(rest) if rest else "")
