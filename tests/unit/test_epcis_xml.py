"""EPCIS 1.2 and 2.0 XML: GS1's example documents read through lxml, validated against GS1's XSDs."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace_api.epcis import event_hash_id, iter_events
from trace_api.epcis.xml import is_xml, read_xml
from trace_api.errors import ValidationError

ROOT = Path(__file__).resolve().parents[2]
XML = ROOT / "tests" / "data" / "epcis" / "gs1-epcis" / "xml"
JSON = ROOT / "tests" / "data" / "epcis" / "gs1-epcis" / "json"
# GS1's XSL converter fixtures for 1.2 that carry unqualified extension elements, which EPCIS JSON-LD cannot name
REFUSED = {"1.2/AssociationEvent.xml": "sensorMetaData", "1.2/ObjectEvent.xml": "myField"}
EXAMPLES = sorted(p for p in XML.rglob("*.xml") if p.relative_to(XML).as_posix() not in REFUSED)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(XML).as_posix())
def test_gs1_xml_examples_validate_and_hash(path: Path) -> None:
    events, _, version = read_xml(path)
    assert version == ("1.2" if path.parent.name == "1.2" else "2.0")
    hashes = [event_hash_id(e) for e in iter_events(path)]
    assert len(hashes) == len(events) > 0


def test_all_gs1_xml_example_events_are_read() -> None:
    assert sum(len(read_xml(p)[0]) for p in EXAMPLES) == 64


@pytest.mark.parametrize(("name", "field"), sorted(REFUSED.items()))
def test_unqualified_extension_is_refused_by_name(name: str, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        list(iter_events(XML / name))


def test_same_event_in_xml_and_json_hashes_alike() -> None:
    from_xml = [event_hash_id(e) for e in iter_events(XML / "Example_9.6.1-ObjectEvent-2020_06_18a.xml")]
    from_json = [event_hash_id(e) for e in iter_events(JSON / "Example_9.6.1-ObjectEvent.jsonld")]
    assert from_xml[0] == from_json[0]


def test_xml_read_as_the_json_binding() -> None:
    events, namespaces, _ = read_xml(XML / "Example_9.6.1-ObjectEvent-2020_06_18a.xml")
    first = events[0]
    assert first["type"] == "ObjectEvent" and isinstance(first["epcList"], list)
    assert first["bizTransactionList"][0]["type"].endswith("po")
    assert set(first["bizTransactionList"][0]) == {"type", "bizTransaction"}


def test_schema_violation_and_malformed_xml_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" '
        'creationDate="2024-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent><eventTime>yesterday'
        "</eventTime></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"
    )
    with pytest.raises(ValidationError, match="schema"):
        read_xml(bad)
    with pytest.raises(ValidationError, match="well-formed"):
        read_xml(b"<epcis:EPCISDocument")
    with pytest.raises(ValidationError, match="not an EPCIS"):
        read_xml(b"<html/>")


def test_entities_are_not_expanded(tmp_path: Path) -> None:
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">&x;</epcis:EPCISDocument>'
    )
    with pytest.raises(ValidationError):
        read_xml(evil)


def test_is_xml() -> None:
    assert is_xml(b"\xef\xbb\xbf  <?xml") and is_xml("<a/>") and not is_xml(b'{"type"')


def test_capture_reads_xml_by_content_type_and_refuses_non_finite_json() -> None:
    from trace_api.http.routes.epcis import _capture_events

    body = (XML / "Example_9.6.1-ObjectEvent-2020_06_18a.xml").read_bytes()
    events = _capture_events(body, 10**7, "application/xml; charset=utf-8")
    assert [e["type"] for e in events] == ["ObjectEvent", "ObjectEvent"]
    assert event_hash_id(events[0]) == next(
        event_hash_id(e) for e in iter_events(JSON / "Example_9.6.1-ObjectEvent.jsonld")
    )
    with pytest.raises(ValidationError):
        _capture_events(body, 10**7, "application/json")  # XML sent as JSON: refused, not guessed
    with pytest.raises(ValidationError, match="finite"):
        _capture_events(b'{"type": "EPCISDocument", "x": NaN}', 10**7, "application/ld+json")


def test_xml_export_of_gs1_examples_validates_and_rehashes() -> None:
    from trace_api.epcis import parse_event
    from trace_api.epcis.xml_export import export_xml
    from trace_api.services.importer import event_dict

    stored = [event_dict(e) for p in sorted(JSON.rglob("*.jsonld")) for e in iter_events(p)]
    document = export_xml(stored, creation_date="2024-01-01T00:00:00Z")
    events, namespaces, version = read_xml(document)  # validated against GS1's EPCIS 2.0 XSD
    assert version == "2.0" and len(events) == len(stored) == 56
    again = [event_hash_id(parse_event(e, namespaces=namespaces)) for e in events]
    assert again == [event_hash_id(e) for e in stored]
