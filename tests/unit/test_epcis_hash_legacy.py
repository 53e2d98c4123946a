"""Hash algorithm 1 (what this project anchored first, equal to epcis-event-hash-generator 1.9.3): static vectors of GS1's reference implementation, rules, and a live cross-check.

The static vectors (``tests/data/epcis/**/*.hashes``) were written by ``epcis-event-hash-generator`` 1.9.3 and
always run. The live cross-check runs the same tool from ``.venv-tools`` and skips when that venv is missing.
"""
# ruff: noqa: E501 - the module docstring names long paths and versions

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from trace_api.epcis import LEGACY_ALGORITHM, namespaces_from_context, parse_document
from trace_api.epcis import event_hash_bytes as _event_hash_bytes
from trace_api.epcis import event_hash_id as _event_hash_id
from trace_api.epcis import prehash_string as _prehash_string
from trace_api.epcis._canon import canonical_time, canonical_value, to_digital_link

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "epcis"
DOCUMENTS = sorted(DATA.glob("*/*.jsonld"))
GENERATED = DATA / "generated" / "generated_events.json"
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "http://ns.example.com/epcis/"},
]
NS = {"example": "http://ns.example.com/epcis/"}
# Events anchored with algorithm 1 must keep verifying: these tests pin it, byte for byte.
event_hash_bytes = functools.partial(_event_hash_bytes, algorithm=LEGACY_ALGORITHM)
event_hash_id = functools.partial(_event_hash_id, algorithm=LEGACY_ALGORITHM)
prehash_string = functools.partial(_prehash_string, algorithm=LEGACY_ALGORITHM)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _events(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["epcisBody"]["eventList"])


def _base_event(**changes: Any) -> dict[str, Any]:
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
    return event


# --- static vectors of the reference implementation ------------------------------------------------------------


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.stem)
def test_gs1_example_documents_match_reference_prehashes_and_hashes(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    namespaces = namespaces_from_context(document.get("@context"))
    events = _events(document)
    expected_pre = _lines(path.with_suffix(".prehashes"))
    expected_ids = _lines(path.with_suffix(".hashes"))
    assert len(events) == len(expected_ids) == len(expected_pre)
    for event, pre, hash_id in zip(events, expected_pre, expected_ids, strict=True):
        assert prehash_string(event, namespaces=namespaces) == pre
        assert event_hash_id(event, namespaces=namespaces) == hash_id


def test_generated_events_match_reference_hashes() -> None:
    data = json.loads(GENERATED.read_text(encoding="utf-8"))
    namespaces = namespaces_from_context(data["context"])
    expected = _lines(GENERATED.with_suffix(".hashes"))
    got = [event_hash_id(event, namespaces=namespaces) for event in data["events"]]
    assert len(got) == 300
    wrong = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    first = prehash_string(data["events"][wrong[0]], namespaces=namespaces) if wrong else ""
    assert wrong == [], f"events {wrong[:10]} differ; ours for the first: {first}"


def test_known_event_hash_id_and_bytes32() -> None:
    path = DATA / "hashgen" / "ReferenceEventHashAlgorithm3.jsonld"
    event = _events(json.loads(path.read_text(encoding="utf-8")))[0]
    namespaces = {"example": "https://ns.example.com/epcis/"}
    digest = event_hash_bytes(event, namespaces=namespaces)
    assert digest.hex() == "a13cbe6c8bb6df3710b3edaeff760a1365ec8fd69ca1f4d7e0c10eb5189a883a"
    assert digest == hashlib.sha256(prehash_string(event, namespaces=namespaces).encode()).digest()
    assert event_hash_id(event, namespaces=namespaces) == f"ni:///sha-256;{digest.hex()}?ver=CBV2.0"
    assert re.fullmatch(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0", event_hash_id(_base_event()))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.stem)
def test_parsed_model_hashes_like_its_json(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    document = parse_document(raw)
    expected = _lines(path.with_suffix(".hashes"))
    assert [event_hash_id(event) for event in document.events] == expected
    built = [type(e).model_validate(e.model_dump(by_alias=True, exclude_none=True)) for e in document.events]
    for event, rebuilt in zip(document.events, built, strict=True):  # the model alone, without its source
        rebuilt.with_namespaces(event.namespaces)
        assert event_hash_id(rebuilt) == event_hash_id(event)


# --- the rules, on exact pre-hash strings ----------------------------------------------------------------------


def test_prehash_of_a_simple_event_is_exact() -> None:
    assert prehash_string(_base_event(), namespaces=NS) == (
        "eventType=ObjectEventeventTime=2024-03-01T09:15:30.123ZeventTimeZoneOffset=+01:00"
        "epcListepc=https://id.gs1.org/01/04012345111118/21/1001action=OBSERVE"
        "bizStep=https://ref.gs1.org/cbv/BizStep-shippingreadPointid=https://id.gs1.org/414/4012345000016"
    )


@pytest.mark.parametrize(
    ("epc", "digital_link"),
    [
        ("urn:epc:id:sgtin:4012345.011111.9876", "https://id.gs1.org/01/04012345111118/21/9876"),
        (
            "urn:epc:id:sgtin:0614141.107346.A!(B)*+,:",
            "https://id.gs1.org/01/10614141073464/21/A%21%28B%29%2A%2B%2C%3A",
        ),
        ("urn:epc:id:sscc:4012345.0000000333", "https://id.gs1.org/00/040123450000003338"),
        ("urn:epc:id:sgln:4012345.00011.987", "https://id.gs1.org/414/4012345000115/254/987"),
        ("urn:epc:id:sgln:4012345.00001.0", "https://id.gs1.org/414/4012345000016"),
        ("urn:epc:id:grai:4012345.66666.87", "https://id.gs1.org/8003/0401234566666387"),
        ("urn:epc:id:giai:4012345.AAbb", "https://id.gs1.org/8004/4012345AAbb"),
        ("urn:epc:id:gsrn:4012345.9876540000", "https://id.gs1.org/8018/401234598765400000"),
        ("urn:epc:id:gsrnp:4012345.0000098765", "https://id.gs1.org/8017/401234500000987658"),
        ("urn:epc:id:gdti:4012345.55555.98", "https://id.gs1.org/253/401234555555498"),
        ("urn:epc:id:cpi:4012345.ABC.123", "https://id.gs1.org/8010/4012345ABC/8011/123"),
        ("urn:epc:id:sgcn:4012345.99999.44", "https://id.gs1.org/255/401234599999044"),
        ("urn:epc:id:ginc:4012345.333", "https://id.gs1.org/401/4012345333"),
        ("urn:epc:id:gsin:4012345.999987654", "https://id.gs1.org/402/40123459999876541"),
        ("urn:epc:id:itip:4012345.012345.01.02.999", "https://id.gs1.org/8006/040123451234560102/21/999"),
        ("urn:epc:id:upui:4012345.012345.AB12", "https://id.gs1.org/01/04012345123456/235/AB12"),
        ("urn:epc:id:pgln:4012345.00000", "https://id.gs1.org/417/4012345000009"),
        ("urn:epc:class:lgtin:4012345.012345.998877", "https://id.gs1.org/01/04012345123456/10/998877"),
        ("urn:epc:idpat:sgtin:4012345.012345.*", "https://id.gs1.org/01/04012345123456"),
        ("https://example.com/01/9520123456788/10/ABC/21/XYZ?17=201231", "https://id.gs1.org/01/09520123456788/21/XYZ"),
        ("http://id.gs1.org/gtin/09520123456788/cpv/X1/ser/123", "https://id.gs1.org/01/09520123456788/21/123"),
        ("https://example.org/giai/401234599999", "https://id.gs1.org/8004/401234599999"),
        ("geo:47.5,11.1", None),
        ("urn:epc:id:grai:123456789012..5", None),  # 12-digit prefix GRAI: the reference does not convert it
    ],
)
def test_identifiers_become_constrained_digital_links(epc: str, digital_link: str | None) -> None:
    assert to_digital_link(epc) == digital_link


@pytest.mark.parametrize(
    ("stamp", "canonical"),
    [
        ("2019-04-02T15:00:00.1234+01:00", "2019-04-02T14:00:00.123Z"),
        ("2019-04-02T15:00:00.0005Z", "2019-04-02T15:00:00.000Z"),  # half to even
        ("2019-04-02T15:00:00.0015Z", "2019-04-02T15:00:00.002Z"),
        ("2019-04-02T15:00:00-06:00", "2019-04-02T21:00:00.000Z"),
        ("2019-04-02T15:00:00.123456789Z", "2019-04-02T15:00:00.123Z"),
        ("2019-12-31T23:59:59.9996Z", "2020-01-01T00:00:00.000Z"),  # the reference fails here; we carry over
        ("not a time", "not a time"),
    ],
)
def test_timestamps_go_to_utc_milliseconds(stamp: str, canonical: str) -> None:
    assert canonical_time(stamp) == canonical


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("007", "7"),
        ("10.0", "10"),
        ("1.50", "1.5"),
        ("1e3", "1000"),
        ("-0", "0"),
        ("nan", "nan"),
        ("12345678901234567890.5", "12345678901234567168"),
        ("urn:epcglobal:cbv:disp:in_transit", "https://ref.gs1.org/cbv/Disp-in_transit"),
    ],
)
def test_values_are_canonicalised_like_the_reference(value: str, canonical: str) -> None:
    assert canonical_value(value) == canonical


def test_cbv_term_forms() -> None:
    bare = prehash_string(_base_event(bizStep="shipping"))
    assert prehash_string(_base_event(bizStep="https://ref.gs1.org/cbv/BizStep-shipping")) == bare
    assert prehash_string(_base_event(bizStep="urn:epcglobal:cbv:bizstep:shipping")) == bare
    # 1.9.3 leaves a CURIE as written unless the document declares the prefix (CBV 2.0 rule 15 would expand it)
    assert "bizStep=cbv:BizStep-shipping" in prehash_string(_base_event(bizStep="cbv:BizStep-shipping"))
    declared = prehash_string(
        _base_event(bizStep="cbv:BizStep-shipping"), namespaces={"cbv": "https://ref.gs1.org/cbv/"}
    )
    assert declared == bare


def test_bare_value_equal_to_a_cbv_term_of_the_event_is_expanded_anywhere() -> None:
    event = _base_event(**{"example:note": "shipping", "example:other": "receiving"})
    assert prehash_string(event, namespaces=NS).endswith(
        "{http://ns.example.com/epcis/}note=https://ref.gs1.org/cbv/BizStep-shipping"
        "{http://ns.example.com/epcis/}other=receiving"
    )


def test_user_extensions_sorted_after_fields_and_nested_ones_after_their_parent() -> None:
    event = _base_event(
        readPoint={"id": "urn:epc:id:sgln:4012345.00001.0", "example:bay": "B2", "example:aisle": "7"},
        ilmd={"example:lot": "007"},
        **{"example:zeta": {"example:b": [3, 1.50], "example:a": True}, "example:alpha": "x"},
    )
    assert prehash_string(event, namespaces=NS).endswith(
        "readPointid=https://id.gs1.org/414/4012345000016"
        "{http://ns.example.com/epcis/}aisle=7{http://ns.example.com/epcis/}bay=B2"
        "ilmd{http://ns.example.com/epcis/}lot=7"
        "{http://ns.example.com/epcis/}alpha=x"
        "{http://ns.example.com/epcis/}zeta{http://ns.example.com/epcis/}a=True"
        "{http://ns.example.com/epcis/}b=1.5{http://ns.example.com/epcis/}b=3"
    )


def test_undeclared_prefix_keeps_the_key_as_written() -> None:
    assert prehash_string(_base_event(**{"acme:x": "1"})).endswith("acme:x=1")


def test_lists_quantities_sources_and_transactions() -> None:
    event = _base_event(
        epcList=["urn:epc:id:sgtin:4012345.011111.2", "urn:epc:id:sgtin:4012345.011111.10"],
        quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.011111.L1", "quantity": 10.0, "uom": "KGM"}],
        bizTransactionList=[{"bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:PO1", "type": "po"}],
        sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"}],
    )
    pre = prehash_string(event)
    assert (
        "epcListepc=https://id.gs1.org/01/04012345111118/21/10epc=https://id.gs1.org/01/04012345111118/21/2"
        "quantityListquantityElementepcClass=https://id.gs1.org/01/04012345111118/10/L1quantity=10uom=KGMaction="
    ) in pre
    # bizTransaction, source and destination keep the key order they were written in (as 1.9.3 does)
    assert pre.endswith(
        "bizTransactionListbizTransaction=urn:epcglobal:cbv:bt:4012345000009:PO1type=https://ref.gs1.org/cbv/BTT-po"
        "sourceListtype=https://ref.gs1.org/cbv/SDT-owning_partysource=https://id.gs1.org/417/4012345000009"
    )


def test_business_transaction_without_type_hashes() -> None:
    event = _base_event(bizTransactionList=[{"bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:PO1"}])
    assert prehash_string(event).endswith("bizTransactionListbizTransaction=urn:epcglobal:cbv:bt:4012345000009:PO1")


def test_sensor_elements() -> None:
    event = _base_event(
        sensorElementList=[
            {
                "sensorMetadata": {"time": "2024-03-01T10:00:00+01:00", "example:calibrated": "yes"},
                "sensorReport": [
                    {"type": "Temperature", "value": 26.0, "uom": "CEL"},
                    {"type": "gs1:Humidity", "value": 12.1},
                ],
            }
        ]
    )
    assert prehash_string(event, namespaces=NS).endswith(
        "sensorElementListsensorElementsensorMetadatatime=2024-03-01T09:00:00.000Z"
        "{http://ns.example.com/epcis/}calibrated=yes"
        "sensorReporttype=gs1:Humidityvalue=12.1sensorReporttype=https://gs1.org/voc/Temperaturevalue=26uom=CEL"
    )


def test_hash_ignores_key_order_record_time_event_id_and_error_declaration() -> None:
    event = _base_event(bizTransactionList=[{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:1"}])
    reordered = dict(reversed(list(event.items())))
    noisy = dict(
        event,
        recordTime="2024-03-02T00:00:00Z",
        eventID="urn:uuid:0b7e1b1c-1111-4222-8333-444455556666",
        errorDeclaration={"declarationTime": "2024-03-03T00:00:00Z", "reason": "incorrect_data"},
    )
    assert event_hash_bytes(reordered) == event_hash_bytes(event) == event_hash_bytes(noisy)


@pytest.mark.parametrize(
    "change",
    [
        {"eventTime": "2024-03-01T10:15:30.124+01:00"},
        {"eventTimeZoneOffset": "+02:00"},
        {"action": "ADD"},
        {"bizStep": "receiving"},
        {"disposition": "in_transit"},
        {"epcList": ["urn:epc:id:sgtin:4012345.011111.1002"]},
        {"readPoint": {"id": "urn:epc:id:sgln:4012345.00001.1"}},
        {"example:x": "1"},
    ],
)
def test_any_change_changes_the_hash(change: dict[str, Any]) -> None:
    assert event_hash_bytes(_base_event(**change)) != event_hash_bytes(_base_event())


def test_same_instant_in_another_zone_hashes_the_same() -> None:
    assert event_hash_bytes(_base_event(eventTime="2024-03-01T09:15:30.123Z")) == event_hash_bytes(_base_event())


def test_hashing_does_not_change_the_event() -> None:
    event = _base_event(**{"example:n": {"example:m": ["shipping"]}})
    before = copy.deepcopy(event)
    event_hash_bytes(event, namespaces=NS)
    assert event == before


def _all_events() -> list[tuple[dict[str, Any], dict[str, str]]]:
    found = []
    for path in DOCUMENTS:
        document = json.loads(path.read_text(encoding="utf-8"))
        found += [(e, namespaces_from_context(document.get("@context"))) for e in _events(document)]
    generated = json.loads(GENERATED.read_text(encoding="utf-8"))
    return found + [(e, NS) for e in generated["events"]]


def test_fast_path_writes_what_the_tree_writes() -> None:
    """Common shapes skip the tree; on every example and generated event the two must agree, and the fast path
    must actually take the sensor events it was written for."""
    from trace_api.epcis._prehash import Builder, collect, suffix_index, tree_prehash
    from trace_api.epcis.hashing import _Fast, _Irregular

    fast_sensor_events = 0
    for event, namespaces in _all_events():
        ns = {**namespaces_from_context(event.get("@context")), **namespaces}
        candidates: set[str] = set()
        collect(event, "", ns, candidates)
        builder = Builder(suffix_index(candidates), ns)
        try:
            fast = _Fast(builder).prehash(event)
        except _Irregular:
            continue
        assert fast == tree_prehash(event, builder)
        fast_sensor_events += "sensorElementList" in event
    assert fast_sensor_events >= 3


# --- live cross-check with GS1's tool ----------------------------------------------------------------------------

REFERENCE_DRIVER = """
import json, logging, sys
logging.disable(logging.CRITICAL)
from epcis_event_hash_generator import hash_generator, json_to_py

def hashes(document):
    json_to_py._namespaces = {}  # the tool keeps prefixes in a module global across documents
    events = json_to_py.event_list_from_epcis_document_json(document)
    return hash_generator.calculate_hashes_from_pre_hashes(hash_generator.derive_prehashes_from_events(events))

job = json.load(sys.stdin)
out = [hashes(d) for d in job["documents"]]
for event in job["events"]:
    doc = {"@context": job["context"], "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2024-01-01T00:00:00Z", "epcisBody": {"eventList": [event]}}
    out.append(hashes(doc))
json.dump(out, sys.stdout)
"""

requires_tool = pytest.mark.skipif(
    not TOOLS_PYTHON.exists(),
    reason="GS1's epcis-event-hash-generator is not installed: python3 -m venv .venv-tools && "
    ".venv-tools/bin/pip install epcis-event-hash-generator==1.9.3",
)


def _reference(documents: list[dict[str, Any]], events: list[dict[str, Any]], context: Any) -> list[list[str]]:
    job = json.dumps({"documents": documents, "events": events, "context": context})
    done = subprocess.run([str(TOOLS_PYTHON), "-c", REFERENCE_DRIVER], input=job, capture_output=True, text=True,
                          timeout=300, check=True)  # fmt: skip
    result: list[list[str]] = json.loads(done.stdout)
    return result


EDGE_EVENTS: list[dict[str, Any]] = [
    _base_event(eventTime="2024-03-01T10:15:30.0005-05:30", eventTimeZoneOffset="-05:30"),
    _base_event(eventTime="2024-03-01T10:15:30+14:00", eventTimeZoneOffset="+14:00", disposition="cbv:Disp-active"),
    _base_event(quantityList=[{"epcClass": "urn:epc:idpat:sgtin:4012345.011111.*", "quantity": "12.50"},
                              {"epcClass": "https://id.gs1.org/01/04012345111118/10/A1", "quantity": 3, "uom": "KGM"}]),
    {"type": "TransformationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
     "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.011111.L1", "quantity": 100, "uom": "KGM"}],
     "outputEPCList": ["urn:epc:id:sgtin:4012345.022222.1"], "bizStep": "commissioning",
     "ilmd": {"example:bestBefore": "2025-01-01", "cbvmda:countryOfOrigin": "DE"}},
    {"type": "AggregationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
     "parentID": "urn:epc:id:sscc:4012345.0000000001", "childEPCs": ["urn:epc:id:sgtin:4012345.011111.9"],
     "action": "ADD", "bizStep": "packing",
     "destinationList": [{"destination": "urn:epc:id:sgln:4012345.00002.0", "type": "location"}]},
    _base_event(sensorElementList=[{"sensorMetadata": {"deviceID": "urn:epc:id:giai:4012345.1"},
                                    "sensorReport": [{"type": "Temperature", "minValue": -18.5, "maxValue": -17,
                                                      "uom": "CEL", "exception": "ALARM_CONDITION"}],
                                    "example:zone": "freezer"}]),
    _base_event(persistentDisposition={"set": ["completeness_verified"], "unset": ["completeness_inferred"]},
                certificationInfo="https://example.org/certificates/1"),
    _base_event(**{"example:nested": {"example:itemList": [{"example:id": "a"}, {"example:id": "b"}]}}),
]  # fmt: skip


@requires_tool
def test_cross_check_with_gs1_reference_tool() -> None:
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in DOCUMENTS]
    generated = json.loads(GENERATED.read_text(encoding="utf-8"))
    reference = _reference(documents, generated["events"] + EDGE_EVENTS, generated["context"] + CONTEXT[1:])
    for path, document, expected in zip(DOCUMENTS, documents, reference, strict=False):
        namespaces = namespaces_from_context(document.get("@context"))
        assert [event_hash_id(e, namespaces=namespaces) for e in _events(document)] == expected, path.name
    namespaces = namespaces_from_context(generated["context"] + CONTEXT[1:])
    singles = reference[len(documents) :]
    ours = [[event_hash_id(e, namespaces=namespaces)] for e in generated["events"] + EDGE_EVENTS]
    assert ours == singles
    assert [h[0] for h in singles[: len(generated["events"])]] == _lines(GENERATED.with_suffix(".hashes"))
