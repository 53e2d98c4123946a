"""EPCIS 1.2 and 2.0 XML documents: validated against GS1's XSDs with lxml, read as EPCIS 2.0 JSON-LD events.

The events come out as the JSON-LD the rest of the package reads (model validation, hash, import), following
the EPCIS 2.0 JSON binding: lists become arrays, ``bizTransaction type="po"`` becomes
``{"type": "po", "bizTransaction": ...}``, sensor attributes become members, 1.2's ``<extension>`` wrappers are
flattened, and user extension elements become ``prefix:local`` members whose prefix the returned namespaces
declare. Values stay the strings the XML carries; the hash canonicalises them (``26.0`` hashes as ``26``).

The parser resolves no entities and fetches nothing (``no_network``); the schemas ship with the package
(``schemas/xsd-2.0``, ``schemas/xsd-1.2``: GS1's, see ``schemas/GS1-DISCLAIMER.txt``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from lxml import etree

from trace_api.errors import ValidationError

__all__ = ["EPCIS_NS", "is_xml", "read_xml"]

_SCHEMAS = Path(__file__).parent / "schemas"
EPCIS_NS = {"urn:epcglobal:epcis:xsd:2": ("2.0", "xsd-2.0/EPCglobal-epcis-2_0.xsd"),
            "urn:epcglobal:epcis:xsd:1": ("1.2", "xsd-1.2/EPCglobal-epcis-1_2.xsd")}  # fmt: skip
_QUERY_NS = {"urn:epcglobal:epcis-query:xsd:2": "xsd-2.0/EPCglobal-epcis-query-2_0.xsd",
             "urn:epcglobal:epcis-query:xsd:1": "xsd-1.2/EPCglobal-epcis-query-1_2.xsd"}  # fmt: skip
EVENT_TYPES = frozenset({"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
                         "AssociationEvent"})  # fmt: skip
_LISTS = {"epcList": "epc", "childEPCs": "epc", "inputEPCList": "epc", "outputEPCList": "epc",
          "quantityList": "quantityElement", "childQuantityList": "quantityElement",
          "inputQuantityList": "quantityElement", "outputQuantityList": "quantityElement",
          "bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination",
          "sensorElementList": "sensorElement", "correctiveEventIDs": "correctiveEventID"}  # fmt: skip
_REPEATED = frozenset({"set", "unset", "sensorReport", "certificationInfo"})
_MAX_BYTES = 256 * 1024 * 1024
_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


@functools.cache
def _schema(relative: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(_SCHEMAS / relative), _parser()))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


def is_xml(head: bytes | str) -> bool:
    """Whether a document's first bytes are XML rather than JSON."""
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    return text.lstrip("\ufeff \t\r\n").startswith("<")


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


class _Reader:
    def __init__(self) -> None:
        self.namespaces: dict[str, str] = {}

    def key(self, tag_or_attr: str, prefix_hint: str | None) -> str:
        """An extension's member name, ``prefix:local``, declaring the prefix for its namespace."""
        qname = etree.QName(tag_or_attr)
        if qname.namespace is None:
            return str(qname.localname)
        prefix = prefix_hint or next((p for p, ns in self.namespaces.items() if ns == qname.namespace), None)
        if prefix is None or self.namespaces.get(prefix, qname.namespace) != qname.namespace:
            prefix = f"ns{len(self.namespaces) + 1}"
        self.namespaces[prefix] = qname.namespace
        return f"{prefix}:{qname.localname}"

    def extension(self, element: Any) -> Any:
        children = [c for c in element if isinstance(c.tag, str)]
        if not children and not element.attrib:
            return (element.text or "").strip()
        out: dict[str, Any] = {}
        text = (element.text or "").strip()
        if text:
            out["#text"] = text
        for name, value in element.attrib.items():
            out[self.key(name, None)] = value
        for child in children:
            _add(out, self.key(child.tag, child.prefix), self.extension(child))
        return out

    def fields(self, element: Any, out: dict[str, Any]) -> dict[str, Any]:
        """The members of an EPCIS element: standard children by name, anything namespaced as an extension."""
        for name, value in element.attrib.items():
            out[self.key(name, None) if etree.QName(name).namespace else name] = value
        for child in element:
            if not isinstance(child.tag, str) or child.get(_NIL) in ("true", "1"):
                continue  # xsi:nil: the field is absent
            name = _local(child.tag)
            if etree.QName(child.tag).namespace is not None:
                _add(out, self.key(child.tag, child.prefix), self.extension(child))
            elif name in ("extension", "baseExtension"):  # 1.2 wrappers: their content belongs to the event
                self.fields(child, out)
            elif name in _LISTS:
                out[name] = [self.member(name, m) for m in child if isinstance(m.tag, str)]
            elif name in ("readPoint", "bizLocation", "persistentDisposition", "errorDeclaration", "sensorMetadata"):
                out[name] = self.fields(child, {})
            elif name == "ilmd":
                out[name] = self.extension(child) or {}
            elif name in _REPEATED:
                out.setdefault(name, []).append(
                    self.fields(child, {}) if len(child) or child.attrib else (child.text or "").strip()
                )
            else:
                out[name] = (child.text or "").strip()
        return out

    def member(self, list_name: str, element: Any) -> Any:
        if list_name in ("bizTransactionList", "sourceList", "destinationList"):
            item: dict[str, Any] = {}
            if "type" in element.attrib:
                item["type"] = element.attrib["type"]
            item[_LISTS[list_name]] = (element.text or "").strip()
            return item
        if list_name in (
            "quantityList",
            "childQuantityList",
            "inputQuantityList",
            "outputQuantityList",
            "sensorElementList",
        ):
            return self.fields(element, {})
        return (element.text or "").strip()

    def event(self, element: Any) -> dict[str, Any]:
        return self.fields(element, {"type": _local(element.tag)})


def _add(out: dict[str, Any], key: str, value: Any) -> None:
    if key in out:
        out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [value]
    else:
        out[key] = value


def _events(body: Any) -> list[Any]:
    found = []
    for element in body.iter():
        if (
            isinstance(element.tag, str)
            and _local(element.tag) in EVENT_TYPES
            and etree.QName(element.tag).namespace is None
            and _local(element.getparent().tag) in ("EventList", "extension")
        ):
            found.append(element)
    return found


def read_xml(source: Path | bytes) -> tuple[list[dict[str, Any]], dict[str, str], str]:
    """(events as JSON-LD dicts, the document's prefixes, the EPCIS version "1.2"/"2.0").

    An event whose element declares prefixes of its own, or uses a namespace the root does not declare, carries
    them in its own ``@context`` (which wins over the document's, as in JSON-LD)."""
    data = source.read_bytes() if isinstance(source, Path) else source
    if len(data) > _MAX_BYTES:
        raise ValidationError(f"EPCIS XML document is {len(data)} bytes, over {_MAX_BYTES}")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise ValidationError(f"EPCIS XML document is not well-formed: {exc}") from None
    dtd = root.getroottree().docinfo.internalDTD  # GS1's own examples carry a bare <!DOCTYPE project>
    if dtd is not None and (list(dtd.iterentities()) or list(dtd.iterelements())):
        raise ValidationError("EPCIS XML document declares a DTD subset; entities and DTDs are refused")
    namespace = etree.QName(root.tag).namespace or ""
    if namespace in EPCIS_NS:
        version, xsd = EPCIS_NS[namespace]
    elif namespace in _QUERY_NS:
        version, xsd = ("2.0" if namespace.endswith(":2") else "1.2"), _QUERY_NS[namespace]
    else:
        raise ValidationError(f"not an EPCIS 1.2 or 2.0 XML document (root element {root.tag})")
    schema = _schema(xsd)
    if not schema.validate(root):
        error = schema.error_log.last_error
        raise ValidationError(f"EPCIS {version} XML does not match GS1's schema: line {error.line}: {error.message}")
    document = _prefixes(root)
    events = []
    for element in _events(root):
        reader = _Reader()  # each event with the prefixes in scope at its element, as its own @context
        reader.namespaces.update(_prefixes(element))
        event = reader.event(element)
        own = {p: ns for p, ns in reader.namespaces.items() if document.get(p) != ns}
        events.append({"@context": [own], **event} if own else event)
    return events, document, version


def _prefixes(element: Any) -> dict[str, str]:
    return {
        p: ns
        for p, ns in element.nsmap.items()
        if p and ns not in EPCIS_NS and ns not in _QUERY_NS and ns != "http://www.w3.org/2001/XMLSchema-instance"
    }
