"""EPCIS 2.0 models: validation with clear errors, import (whole and streamed), export, and the CBV vocabulary."""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from trace_api.epcis import (
    EPCIS_CONTEXT,
    LEGACY_ALGORITHM,
    STEP_CODES,
    AggregationEvent,
    ObjectEvent,
    TransformationEvent,
    biz_step_name,
    event_hash_bytes,
    event_hash_id,
    export_document,
    iter_events,
    parse_document,
    parse_event,
    step_code,
)
from trace_api.epcis.vocab import BIZ_STEPS, DISPOSITIONS, disposition_name
from trace_api.errors import PayloadTooLargeError, ValidationError

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "epcis"
DOCUMENTS = sorted(DATA.glob("*/*.jsonld"))
NS = {"example": "http://ns.example.com/epcis/"}


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T10:15:30.123+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1001"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


def _document(*events: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return {
        "@context": context or [EPCIS_CONTEXT, {"example": "http://ns.example.com/epcis/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T12:00:00.000Z",
        "epcisBody": {"eventList": list(events)},
    }


def _hashes(path: Path) -> list[str]:
    return path.with_suffix(".hashes").read_text(encoding="utf-8").splitlines()


# --- parsing valid input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.stem)
def test_gs1_examples_parse(path: Path) -> None:
    document = parse_document(path.read_text(encoding="utf-8"))
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert [e.type for e in document.events] == [e["type"] for e in raw["epcisBody"]["eventList"]]
    assert [e.to_jsonld() for e in document.events] == raw["epcisBody"]["eventList"]


def test_all_fields_are_modelled() -> None:
    document = parse_document((DATA / "gs1" / "transformation_event_all_possible_fields.jsonld").read_bytes())
    event = document.events[0]
    assert isinstance(event, TransformationEvent)
    assert event.inputQuantityList is not None and event.inputQuantityList[0].quantity == 10
    assert event.transformationID == "urn:epc:id:gdti:0614141.12345.400"
    assert event.sourceList is not None and [s.type for s in event.sourceList] == [
        "location",
        "possessing_party",
        "owning_party",
    ]
    assert event.bizTransactionList is not None and event.bizTransactionList[0].bizTransaction.endswith("1618034")
    assert event.persistentDisposition is not None and event.persistentDisposition.set == ["completeness_verified"]
    report = event.sensorElementList[0].sensorReport[0]  # type: ignore[index]
    assert (report.type, report.value, report.booleanValue, report.uom) == ("Temperature", 26, True, "CEL")
    assert report.extensions == {"ext1:someFurtherReportData": "someText"}
    assert event.ilmd is not None and event.ilmd["cbvmda:lotNumber"] == "ABC123"
    assert event.extensions["ext1:int"] == "10"
    assert event.namespaces == {"ext1": "http://example.com/ext1/", "ext2": "http://example.com/ext2/",
                                "ext3": "http://example.com/ext3/"}  # fmt: skip


def test_single_event_and_query_document_and_event_form() -> None:
    single = parse_document({**_event(), "@context": [EPCIS_CONTEXT, NS]})
    assert len(single.events) == 1 and single.events[0].namespaces == NS
    query = {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T12:00:00Z",
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": [_event()]}}},
    }
    assert [e.type for e in parse_document(query).events] == ["ObjectEvent"]
    body_event = _document()
    body_event["epcisBody"] = {"event": _event(action="ADD")}
    assert parse_document(body_event).events[0].action == "ADD"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "biz_step",
    [
        "shipping",
        "cbv:BizStep-shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
    ],
)
def test_biz_step_forms(biz_step: str) -> None:
    event = parse_event(_event(bizStep=biz_step))
    assert event.bizStep == biz_step  # kept as written: the hash reads it that way
    assert event.biz_step_name == "shipping"
    assert step_code(event.bizStep) == 3


def test_company_biz_step_uri_is_valid_without_chain_step() -> None:
    event = parse_event(_event(bizStep="https://example.com/steps/labelling"))
    assert event.biz_step_name is None
    assert step_code("https://example.com/steps/labelling") is None


def test_extension_fields_are_kept_and_hashed() -> None:
    raw = _event(**{"example:temperature": {"example:celsius": "4.5"}, "example:flag": True})
    event = parse_event(raw, namespaces=NS)
    assert event.extensions == {"example:temperature": {"example:celsius": "4.5"}, "example:flag": True}
    assert event.to_jsonld() == raw
    assert event_hash_bytes(event) == event_hash_bytes(raw, namespaces=NS)
    assert event_hash_bytes(event) != event_hash_bytes(_event(), namespaces=NS)


def test_event_built_in_code() -> None:
    event = ObjectEvent(
        eventTime="2024-03-01T10:15:30.123+01:00",
        eventTimeZoneOffset="+01:00",
        epcList=["urn:epc:id:sgtin:4012345.011111.1001"],
        action="OBSERVE",
        bizStep="shipping",
        readPoint={"id": "urn:epc:id:sgln:4012345.00001.0"},  # type: ignore[arg-type]
    )
    assert event.to_jsonld() == _event()
    assert event_hash_id(event) == event_hash_id(_event())
    changed = parse_event(_event()).model_copy(update={"bizStep": "receiving"})
    assert event_hash_id(changed) == event_hash_id(_event(bizStep="receiving"))


# --- validation errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"eventTime": ...}, "event.eventTime: field required"),
        ({"eventTimeZoneOffset": ...}, "event.eventTimeZoneOffset: field required"),
        ({"eventTime": "2024-03-01 10:15"}, "event.eventTime: '2024-03-01 10:15' is not an ISO 8601 timestamp"),
        ({"eventTime": "2024-03-01T10:15:30"}, "event.eventTime: '2024-03-01T10:15:30' is not an ISO 8601 timestamp"),
        ({"eventTime": "2024-02-30T10:15:30Z"}, "event.eventTime: '2024-02-30T10:15:30Z' is not a valid timestamp"),
        ({"eventTimeZoneOffset": "+25:00"}, "event.eventTimeZoneOffset: '+25:00' is not a time zone offset"),
        ({"eventTimeZoneOffset": "+14:30"}, "event.eventTimeZoneOffset: '+14:30' is not a time zone offset"),
        ({"eventTimeZoneOffset": "0100"}, "event.eventTimeZoneOffset: '0100' is not a time zone offset"),
        ({"action": "UPDATE"}, "event.action: Input should be 'ADD', 'OBSERVE' or 'DELETE', got 'UPDATE'"),
        ({"action": ...}, "event.action: field required"),
        ({"bizStep": "shippingg"}, "event.bizStep: 'shippingg' is not a CBV 2.0 bizStep"),
        ({"bizStep": "cbv:BizStep-teleporting"}, "event.bizStep: 'cbv:BizStep-teleporting' is not a CBV 2.0 bizStep"),
        ({"disposition": "sold"}, "event.disposition: 'sold' is not a CBV 2.0 disposition"),
        ({"epcList": ["not a uri"]}, "event.epcList[0]: 'not a uri' is not a URI"),
        ({"epcList": "urn:epc:id:sgtin:4012345.011111.1"}, "event.epcList: Input should be a valid list"),
        ({"foo": "bar"}, "event: unknown field 'foo' (user extensions must be namespaced, e.g. 'example:foo')"),
        ({"disposition": None}, "event: 'disposition' is null; leave the field out instead"),
        (
            {"quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.011111.L1", "quantity": "ten"}]},
            "event.quantityList[0].quantity: 'ten' is not a number",
        ),
        ({"readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0", "bay": "2"}}, "event.readPoint: unknown field 'bay'"),
    ],
)
def test_invalid_event_names_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_event(_event(**changes))
    assert str(caught.value).startswith(message), str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unknown_and_missing_event_type() -> None:
    with pytest.raises(ValidationError, match=r"^event\.type: unknown event type 'ShipEvent' \(expected one of Obj"):
        parse_event(_event(type="ShipEvent"))
    with pytest.raises(ValidationError, match=r"^event\.type: field required"):
        parse_event(_event(type=...))
    with pytest.raises(ValidationError, match=r"unknown event type 'ShipEvent'"):
        parse_document(_document(_event(), _event(type="ShipEvent")))


def test_document_errors_name_the_event_index() -> None:
    with pytest.raises(ValidationError, match=r"^epcisBody\.eventList\[1\]\.eventTime: field required$"):
        parse_document(_document(_event(), _event(eventTime=...)))
    with pytest.raises(ValidationError, match=r"^schemaVersion: schemaVersion '1\.2' is not supported"):
        parse_document({**_document(_event()), "schemaVersion": "1.2"})
    with pytest.raises(ValidationError, match=r"^creationDate: field required"):
        parse_document({k: v for k, v in _document(_event()).items() if k != "creationDate"})


def test_event_type_rules() -> None:
    aggregation = {k: v for k, v in _event(type="AggregationEvent", action="ADD").items() if k != "epcList"}
    with pytest.raises(ValidationError, match=r"event: parentID is required when action is ADD"):
        parse_event(aggregation)
    observed = {k: v for k, v in _event(type="AggregationEvent").items() if k != "epcList"}
    assert isinstance(parse_event(observed), AggregationEvent)
    with pytest.raises(ValidationError, match=r"event\.bizTransactionList: field required"):
        parse_event(_event(type="TransactionEvent"))
    with pytest.raises(ValidationError, match=r"event: unknown field 'action'"):
        parse_event({k: v for k, v in _event(type="TransformationEvent").items() if k != "epcList"})
    with pytest.raises(ValidationError, match=r"event\.parentID: field required"):
        parse_event({k: v for k, v in _event(type="AssociationEvent").items() if k != "epcList"})


def test_document_size_and_json_errors() -> None:
    text = json.dumps(_document(_event()))
    with pytest.raises(PayloadTooLargeError, match=rf"is {len(text)} bytes, over the limit of 100") as caught:
        parse_document(text, max_bytes=100)
    assert caught.value.details == {"size": len(text), "limit": 100}
    assert len(parse_document(text.encode(), max_bytes=len(text)).events) == 1
    with pytest.raises(ValidationError, match=r"^EPCIS document is not valid JSON"):
        parse_document('{"type": "EPCISDocument",')
    with pytest.raises(ValidationError, match=r"must be a JSON object, not list"):
        parse_document("[]")


# --- streaming ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.stem)
def test_iter_events_streams_what_parse_document_reads(path: Path, chunk: int) -> None:
    streamed = list(iter_events(path, chunk=chunk))
    assert [event_hash_id(e, algorithm=LEGACY_ALGORITHM) for e in streamed] == _hashes(
        path
    )  # needs the @context, even when it comes last


def test_iter_events_single_event_file_and_errors(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text(json.dumps({**_event(), "@context": [EPCIS_CONTEXT, NS]}))
    [event] = list(iter_events(single))
    assert event.namespaces == NS and event.action == "OBSERVE"  # type: ignore[union-attr]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_document(_event(), _event(eventTimeZoneOffset="+1"))))
    stream = iter_events(bad)
    assert next(stream).type == "ObjectEvent"
    with pytest.raises(ValidationError, match=r"^epcisBody\.eventList\[1\]\.eventTimeZoneOffset: '\+1' is not"):
        next(stream)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(_document(_event(), _event()))[:-40])
    with pytest.raises(ValidationError, match=r"EPCIS document"):
        list(iter_events(truncated, chunk=16))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**_document(_event()), "type": "Invoice"}))
    with pytest.raises(ValidationError, match=r"^type: expected 'EPCISDocument', got 'Invoice'"):
        list(iter_events(wrong))


def test_iter_events_memory_stays_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonld"
    events = ",".join(json.dumps(_event(epcList=[f"urn:epc:id:sgtin:4012345.011111.{i}"])) for i in range(20000))
    document = json.dumps(_document()).replace('"eventList": []', f'"eventList": [{events}]')
    path.write_text(document)
    assert path.stat().st_size > 5_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_events(path, chunk=1 << 16))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20000
    assert peak < 2_000_000, f"peak {peak} bytes"


# --- export ---------------------------------------------------------------------------------------------------------


def test_export_round_trip_keeps_hashes() -> None:
    path = DATA / "gs1" / "aggregation_event_all_possible_fields.jsonld"
    events = parse_document(path.read_text(encoding="utf-8")).events
    exported = export_document(events, creation_date="2024-03-01T12:00:00.000Z", sender="urn:epc:id:pgln:4012345.00000")
    assert exported["@context"] == [EPCIS_CONTEXT]
    assert exported["epcisBody"]["eventList"][0]["@context"] == [
        {"ext1": "http://example.com/ext1/", "ext2": "http://example.com/ext2/", "ext3": "http://example.com/ext3/"}
    ]
    assert (exported["type"], exported["schemaVersion"], exported["creationDate"]) == (
        "EPCISDocument", "2.0", "2024-03-01T12:00:00.000Z")  # fmt: skip
    assert exported["sender"] == "urn:epc:id:pgln:4012345.00000"
    again = parse_document(json.dumps(exported))
    assert [event_hash_id(e, algorithm=LEGACY_ALGORITHM) for e in again.events] == _hashes(path)


def test_export_builds_a_valid_document_from_dicts() -> None:
    exported = export_document([_event(), _event(action="ADD")])
    assert exported["@context"] == [EPCIS_CONTEXT]
    assert exported["creationDate"].endswith("Z") and len(exported["creationDate"]) == 24
    assert len(parse_document(exported).events) == 2
    with pytest.raises(ValidationError, match=r"^events\[1\]\.action"):
        export_document([_event(), _event(action="MOVE")])


def test_export_keeps_each_events_prefixes_even_when_documents_disagree() -> None:
    first = parse_event(_event(**{"example:x": "1"}), namespaces={"example": "http://a.example/"})
    second = parse_event(_event(**{"example:x": "1"}), namespaces={"example": "http://b.example/"})
    exported = export_document([first, second])
    assert [e["@context"] for e in exported["epcisBody"]["eventList"]] == [
        [{"example": "http://a.example/"}],
        [{"example": "http://b.example/"}],
    ]
    again = parse_document(exported).events
    assert [event_hash_id(e) for e in again] == [event_hash_id(first), event_hash_id(second)]
    assert event_hash_id(first) != event_hash_id(second)


# --- vocabulary -----------------------------------------------------------------------------------------------------


def test_step_codes_come_from_the_contracts_enum() -> None:
    members = re.search(r"enum Step \{(.*?)\}", (ROOT / "contracts/interfaces/ITraceRegistry.sol").read_text(), re.S)
    assert members is not None
    declared = [line.split("//")[0].strip(" ,") for line in members.group(1).splitlines()]
    declared = [name for name in declared if name]
    assert list(STEP_CODES.values()) == list(range(len(declared)))
    assert [name.replace("_", "") for name in STEP_CODES] == [name.lower() for name in declared]
    assert set(STEP_CODES) - {"transforming"} <= BIZ_STEPS  # every other on-chain step is a CBV 2.0 business step
    assert step_code("https://ref.gs1.org/cbv/BizStep-destroying") == 12
    assert step_code("urn:epcglobal:cbv:bizstep:holding") == 11
    assert step_code("cbv:BizStep-retail_selling") == 7
    assert step_code("transforming") == 5
    assert step_code("other") is None
    assert step_code("loading") is None
    assert step_code("cbv:BizStep-transforming") is None


def test_cbv_vocabulary() -> None:
    assert len(BIZ_STEPS) == 41 and len(DISPOSITIONS) == 33
    assert {"shipping", "receiving", "commissioning", "void_shipping"} <= BIZ_STEPS
    assert biz_step_name("urn:epcglobal:cbv:bizstep:void_shipping") == "void_shipping"
    assert biz_step_name("cbv:Disp-in_transit") is None
    assert disposition_name("https://ref.gs1.org/cbv/Disp-in_transit") == "in_transit"
    assert disposition_name("in_transit") == "in_transit"
