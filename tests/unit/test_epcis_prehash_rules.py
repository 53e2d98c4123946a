"""Hash algorithm 2: each canonicalisation decision pinned to its clause of CBV 2.0 section 8.9.2.

"Order n" is the row of the canonical property order table, "rule n" the numbered rule. docs/epcis-hash.md says
where other implementations decide differently.
"""

from __future__ import annotations

from typing import Any

import pytest

from trace_api.epcis import HASH_ALGORITHM, LEGACY_ALGORITHM, event_hash_bytes, prehash_string
from trace_api.epcis._standard import canonical_decimal, canonical_time

NS = {"example": "http://ns.example.com/epcis/"}


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent", "eventTime": "2024-03-01T10:15:30.123+01:00", "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1001"], "action": "OBSERVE", "bizStep": "shipping",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
    }  # fmt: skip
    event.update(changes)
    return event


def _pre(event: dict[str, Any]) -> str:
    return prehash_string(event, namespaces=NS)


def test_default_algorithm_is_the_standard_and_legacy_still_available() -> None:
    assert HASH_ALGORITHM == 2
    event = _event(parentID="urn:epc:id:sscc:4012345.0000000001")
    assert event_hash_bytes(event) != event_hash_bytes(event, algorithm=LEGACY_ALGORITHM)
    with pytest.raises(ValueError, match="unknown event hash algorithm"):
        prehash_string(event, algorithm=3)


def test_exact_prehash_of_a_simple_event() -> None:
    assert _pre(_event()) == (
        "eventType=ObjectEventeventTime=2024-03-01T09:15:30.123ZeventTimeZoneOffset=+01:00"
        "epcListepc=https://id.gs1.org/01/04012345111118/21/1001action=OBSERVE"
        "bizStep=https://ref.gs1.org/cbv/BizStep-shippingreadPointid=https://id.gs1.org/414/4012345000016"
    )


def test_order_4_5_epc_list_before_parent_id() -> None:
    pre = _pre(_event(type="AggregationEvent", parentID="urn:epc:id:sscc:4012345.0000000001", action="ADD"))
    assert pre.index("epcList") < pre.index("parentID=") < pre.index("action=")


def test_order_19_23_pair_lists_after_biz_location_before_sensors() -> None:
    pre = _pre(_event(
        bizLocation={"id": "urn:epc:id:sgln:4012345.00002.0"},
        sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 4}]}],
        destinationList=[{"type": "owning_party", "destination": "urn:epc:id:pgln:4012345.00000"}],
        sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00001"}],
        bizTransactionList=[{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:1"}],
    ))  # fmt: skip
    order = [pre.index(n) for n in ("bizLocation", "bizTransactionList", "sourceList", "destinationList",
                                     "sensorElementList")]  # fmt: skip
    assert order == sorted(order)


def test_order_24_25_ilmd_then_event_extensions_last() -> None:
    pre = _pre(
        _event(
            **{"example:z": "1", "ilmd": {"example:bestBefore": "2025-01-01"}},
            sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 4}]}],
        )
    )
    assert pre.endswith("ilmd{http://ns.example.com/epcis/}bestBefore=2025-01-01{http://ns.example.com/epcis/}z=1")


def test_rule_13_type_first_then_members_sorted_whatever_the_json_order() -> None:
    a = _event(
        bizTransactionList=[
            {"bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:2", "type": "po"},
            {"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:1"},
        ]
    )
    b = _event(
        bizTransactionList=list(
            reversed(
                [
                    {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:2"},
                    {"bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:1", "type": "inv"},
                ]
            )
        )
    )
    assert _pre(a) == _pre(b)
    assert _pre(a).endswith(
        "bizTransactionListtype=https://ref.gs1.org/cbv/BTT-invbizTransaction=urn:epcglobal:cbv:bt:4012345000009:1"
        "type=https://ref.gs1.org/cbv/BTT-pobizTransaction=urn:epcglobal:cbv:bt:4012345000009:2"
    )


def test_booleans_written_true_false() -> None:
    pre = _pre(_event(sensorElementList=[{"sensorReport": [{"type": "Temperature", "booleanValue": True}]}]))
    assert "booleanValue=true" in pre and "True" not in pre


def test_rule_6_strings_never_pass_through_a_float() -> None:
    value = "111100001111000011110000"  # 24 digits: a float keeps 17
    pre = _pre(_event(sensorElementList=[{"sensorReport": [{"type": "Temperature", "stringValue": value}]}]))
    assert f"stringValue={value}" in pre
    assert _pre(_event(**{"example:lot": "007"})).endswith("{http://ns.example.com/epcis/}lot=007")


@pytest.mark.parametrize(("raw", "canonical"), [
    ("12.50", "12.5"), (10.0, "10"), ("1E+3", "1000"), (0.1, "0.1"), ("-0.0", "0"), (-3, "-3"),
    ("12345678901234567890.10", "12345678901234567890.1"), ("nan", None), ("inf", None), ("abc", None), (True, None),
])  # fmt: skip
def test_rule_6_quantitative_values_lose_trailing_zeros_exactly(raw: Any, canonical: str | None) -> None:
    assert canonical_decimal(raw) == canonical


def test_rule_6_applies_to_quantities_and_sensor_decimals() -> None:
    pre = _pre(
        _event(
            quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.011111.L1", "quantity": "200.50"}],
            sensorElementList=[{"sensorReport": [{"type": "Temperature", "minValue": 26.0}]}],
        )
    )
    assert "quantity=200.5" in pre and "minValue=26" in pre


@pytest.mark.parametrize(("stamp", "canonical"), [
    ("2023-01-18T11:04:03.1415Z", "2023-01-18T11:04:03.142Z"),  # rule 9's own example
    ("2023-01-18T11:04:03.1425Z", "2023-01-18T11:04:03.143Z"),  # half up, not half even
    ("2023-01-18T11:04:03.9995Z", "2023-01-18T11:04:04.000Z"),
    ("2023-01-18T11:04:03+02:00", "2023-01-18T09:04:03.000Z"),  # rule 8
    ("not a time", "not a time"),
])  # fmt: skip
def test_rules_8_9_timestamps(stamp: str, canonical: str) -> None:
    assert canonical_time(stamp) == canonical


def test_rules_14_16_vocabulary_forms_hash_alike() -> None:
    bare = _pre(_event(bizStep="shipping", disposition="in_transit"))
    assert _pre(_event(bizStep="urn:epcglobal:cbv:bizstep:shipping", disposition="cbv:Disp-in_transit")) == bare
    assert (
        _pre(
            _event(
                bizStep="https://ref.gs1.org/cbv/BizStep-shipping",
                disposition="https://ref.gs1.org/cbv/Disp-in_transit",
            )
        )
        == bare
    )
    # a bare word outside a vocabulary position stays as written
    assert "{http://ns.example.com/epcis/}note=shipping" in _pre(_event(**{"example:note": "shipping"}))


def test_rules_17_18_identifiers_as_digital_links() -> None:
    urn = _pre(_event(epcList=["urn:epc:id:sgtin:4012345.011111.1001"]))
    assert _pre(_event(epcList=["https://example.com/01/04012345111118/21/1001?17=250101"])) == urn


def test_rule_21_nested_extensions_close_their_parent() -> None:
    pre = _pre(_event(readPoint={"id": "urn:epc:id:sgln:4012345.00001.0", "example:door": "3"}))
    assert "readPointid=https://id.gs1.org/414/4012345000016{http://ns.example.com/epcis/}door=3" in pre


def test_fields_left_out() -> None:
    noisy = _event(
        eventID="ni:///sha-256;00?ver=CBV2.0",
        recordTime="2024-03-02T00:00:00Z",
        comment="x",
        errorDeclaration={"declarationTime": "2024-03-02T00:00:00Z", "reason": "incorrect_data"},
    )
    assert _pre(noisy) == _pre(_event())


def test_rules_19_20_full_iri_key_hashes_as_its_curie_and_xml_forms() -> None:
    curie = _pre(_event(**{"example:note": "x"}))
    assert _pre(_event(**{"http://ns.example.com/epcis/note": "x"})) == curie
    assert curie.endswith("{http://ns.example.com/epcis/}note=x")
