"""EPCIS 2.0 XML from JSON-LD events: the reverse of :mod:`trace_api.epcis.xml`, valid against GS1's XSD.

Elements follow each event type's XSD sequence; bare CBV terms are written as their web URIs (the event hash
expands both forms alike); user extensions become elements (attributes in sensorMetadata and sensorReport) in
their own namespaces, declared on the root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lxml import etree

from trace_api.epcis import vocab
from trace_api.epcis.hashing import namespaces_from_context
from trace_api.errors import ValidationError

__all__ = ["export_xml"]

EPCIS_2 = "urn:epcglobal:epcis:xsd:2"
_HEAD = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration", "certificationInfo")
_BODY = {
    "ObjectEvent": ("epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList",
                    "quantityList", "sourceList", "destinationList", "sensorElementList", "persistentDisposition",
                    "ilmd"),
    "AggregationEvent": ("parentID", "childEPCs", "action", "bizStep", "disposition", "readPoint", "bizLocation",
                         "bizTransactionList", "childQuantityList", "sourceList", "destinationList",
                         "sensorElementList", "persistentDisposition"),
    "TransactionEvent": ("bizTransactionList", "parentID", "epcList", "action", "bizStep", "disposition",
                         "readPoint", "bizLocation", "quantityList", "sourceList", "destinationList",
                         "sensorElementList", "persistentDisposition"),
    "TransformationEvent": ("inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList",
                            "transformationID", "bizStep", "disposition", "readPoint", "bizLocation",
                            "bizTransactionList", "sourceList", "destinationList", "sensorElementList",
                            "persistentDisposition", "ilmd"),
    "AssociationEvent": ("parentID", "childEPCs", "childQuantityList", "action", "bizStep", "disposition",
                         "readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList",
                         "sensorElementList", "persistentDisposition"),
}  # fmt: skip
_MEMBERS = {"epcList": "epc", "childEPCs": "epc", "inputEPCList": "epc", "outputEPCList": "epc",
            "quantityList": "quantityElement", "childQuantityList": "quantityElement",
            "inputQuantityList": "quantityElement", "outputQuantityList": "quantityElement",
            "bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination",
            "sensorElementList": "sensorElement"}  # fmt: skip
_TERMS = {"bizStep": (vocab.BIZ_STEPS, vocab.CBV_URI + "BizStep-"), "disposition": (vocab.DISPOSITIONS, vocab.CBV_URI + "Disp-"),  # noqa: E501
          "set": (vocab.DISPOSITIONS, vocab.CBV_URI + "Disp-"), "unset": (vocab.DISPOSITIONS, vocab.CBV_URI + "Disp-"),
          "bizTransaction": (vocab.BIZ_TRANSACTION_TYPES, vocab.CBV_URI + "BTT-"),
          "source": (vocab.SOURCE_DESTINATION_TYPES, vocab.CBV_URI + "SDT-"),
          "destination": (vocab.SOURCE_DESTINATION_TYPES, vocab.CBV_URI + "SDT-"),
          "reason": (vocab.ERROR_REASONS, vocab.CBV_URI + "ER-")}  # fmt: skip
_REPORT_TERMS = {"type": (vocab.MEASUREMENT_TYPES, vocab.GS1_VOC_URI), "exception": (vocab.SENSOR_EXCEPTIONS, vocab.GS1_VOC_URI),  # noqa: E501
                 "component": (vocab.SENSOR_COMPONENTS, vocab.CBV_URI + "Comp-")}  # fmt: skip


def _text(value: Any, terms: tuple[frozenset[str], str] | None = None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return terms[1] + text if terms is not None and text in terms[0] else text


class _Writer:
    def __init__(self, namespaces: Mapping[str, str]) -> None:
        self.namespaces = {**vocab.CONTEXT_PREFIXES, **namespaces}

    def qname(self, key: str) -> str:
        """The Clark name of an extension member: ``prefix:local`` through the context, or a full IRI."""
        if key.startswith(("http://", "https://")):
            cut = max(key.rfind("/"), key.rfind("#")) + 1
            return "{" + key[:cut] + "}" + key[cut:]
        prefix, _, local = key.partition(":")
        if not local or prefix not in self.namespaces:
            raise ValidationError(f"extension {key!r}: its prefix is not declared, so it has no XML namespace")
        return "{" + self.namespaces[prefix] + "}" + local

    def extension(self, parent: Any, key: str, value: Any, *, nested: bool = False) -> None:
        # Inside an extension element, a member without a prefix is an unqualified child (the XSD's lax ##any
        # content allows it), as the JSON-LD binding writes such members without one.
        name = key if nested and ":" not in key and not key.startswith(("http://", "https://")) else self.qname(key)
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, name)
            if isinstance(item, dict):
                for k, v in item.items():
                    if k == "#text":
                        child.text = _text(v)
                    else:
                        self.extension(child, k, v, nested=True)
            else:
                child.text = _text(item)

    def extensions(self, parent: Any, obj: Mapping[str, Any], known: Iterable[str]) -> None:
        skip = set(known) | {"type", "@context", "comment", "rdfs:comment"}
        for key, value in obj.items():
            if key not in skip and not key.startswith("@"):
                self.extension(parent, key, value)

    def attributes(self, element: Any, obj: Mapping[str, Any], terms: Mapping[str, Any]) -> None:
        for key, value in obj.items():
            name = key if ":" not in key else self.qname(key)
            element.set(name, _text(value, terms.get(key)))

    def simple(self, parent: Any, name: str, value: Any) -> None:
        etree.SubElement(parent, name).text = _text(value, _TERMS.get(name))

    def field(self, parent: Any, name: str, value: Any) -> None:
        if name in _MEMBERS:
            holder = etree.SubElement(parent, name)
            for item in value:
                self.member(holder, _MEMBERS[name], item)
        elif name in ("readPoint", "bizLocation"):
            holder = etree.SubElement(parent, name)
            self.simple(holder, "id", value["id"])
            self.extensions(holder, value, ("id",))
        elif name == "persistentDisposition":
            holder = etree.SubElement(parent, name)
            for key in ("unset", "set"):
                for item in value.get(key, []):
                    self.simple(holder, key, item)
        elif name == "errorDeclaration":
            holder = etree.SubElement(parent, name)
            for key in ("declarationTime", "reason"):
                if key in value:
                    self.simple(holder, key, value[key])
            if value.get("correctiveEventIDs"):
                ids = etree.SubElement(holder, "correctiveEventIDs")
                for item in value["correctiveEventIDs"]:
                    self.simple(ids, "correctiveEventID", item)
            self.extensions(holder, value, ("declarationTime", "reason", "correctiveEventIDs"))
        elif name == "ilmd":
            holder = etree.SubElement(parent, name)
            self.extensions(holder, value, ())
        elif name == "certificationInfo":
            for item in value if isinstance(value, list) else [value]:
                self.simple(parent, name, item)
        else:
            self.simple(parent, name, value)

    def member(self, holder: Any, name: str, item: Any) -> None:
        if name == "epc":
            self.simple(holder, name, item)
        elif name == "quantityElement":
            element = etree.SubElement(holder, name)
            for key in ("epcClass", "quantity", "uom"):
                if key in item:
                    self.simple(element, key, item[key])
        elif name == "sensorElement":
            element = etree.SubElement(holder, name)
            if "sensorMetadata" in item:
                self.attributes(etree.SubElement(element, "sensorMetadata"), item["sensorMetadata"], {})
            for report in item.get("sensorReport", []):
                self.attributes(etree.SubElement(element, "sensorReport"), report, _REPORT_TERMS)
            self.extensions(element, item, ("sensorMetadata", "sensorReport"))
        else:  # bizTransaction, source, destination
            element = etree.SubElement(holder, name)
            element.text = _text(item[name])
            if "type" in item:
                element.set("type", _text(item["type"], _TERMS.get(name)))

    def event(self, parent: Any, data: Mapping[str, Any], nsmap: Mapping[str, str]) -> None:
        kind = data.get("type")
        if kind not in _BODY:
            raise ValidationError(f"cannot write event type {kind!r} as EPCIS XML")
        element = etree.SubElement(parent, kind, nsmap=dict(nsmap))
        order = _HEAD + _BODY[kind]
        for name in order:
            if name in data and data[name] not in (None, [], {}):
                self.field(element, name, data[name])
        self.extensions(element, data, order)


def export_xml(events: Iterable[Mapping[str, Any]], *, creation_date: str) -> bytes:
    """An EPCIS 2.0 XML document of JSON-LD events. Each event's own prefixes (its ``@context``) are declared on
    its own element, so a prefix means in the XML what it meant in the event, and the event hashes the same."""
    root = etree.Element(
        f"{{{EPCIS_2}}}EPCISDocument", nsmap={"epcis": EPCIS_2}, schemaVersion="2.0", creationDate=creation_date
    )
    event_list = etree.SubElement(etree.SubElement(root, "EPCISBody"), "EventList")
    for data in events:
        own = namespaces_from_context(data.get("@context"))
        _Writer(own).event(event_list, data, {p: u for p, u in own.items() if p.isidentifier()})
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return result
