"""Which batches, items, SSCCs and GLNs an event names, whatever identifier form a partner uses."""

from __future__ import annotations

import pytest

from trace_api.epcis.identifiers import gln_of, subjects
from trace_api.services.import_check import mode
from trace_api.services.import_finder import BatchFinder


@pytest.mark.parametrize(("field", "value", "batches", "items", "ssccs"), [
    ("epcList", ["urn:epc:id:sgtin:4012345.011111.1001"], (), (("04012345111118", "1001"),), ()),
    # a unit's Digital Link that states its lot names the batch too (the lot is dropped only from the hashed form)
    ("epcList", ["https://example.com/01/04012345111118/10/L1/21/1001"], (("04012345111118", "L1"),),
     (("04012345111118", "1001"),), ()),
    ("epcList", ["urn:epc:id:sscc:4012345.0000000001"], (), (), ("040123450000000016",)),
    ("epcList", ["urn:epc:id:grai:4012345.00001.7", "urn:epc:id:giai:4012345.A1", "https://acme.example/x"], (), (), ()),  # noqa: E501
    ("quantityList", [{"epcClass": "urn:epc:class:lgtin:4012345.011111.L%2F1", "quantity": 3}],
     (("04012345111118", "L/1"),), (), ()),
    ("quantityList", [{"epcClass": "https://id.gs1.org/01/04012345111118/10/L1"}], (("04012345111118", "L1"),), (), ()),
    ("quantityList", [{"epcClass": "urn:epc:idpat:sgtin:4012345.011111.*"}], (), (), ()),
])  # fmt: skip
def test_subjects_of_every_identifier_form(field: str, value: list, batches: tuple, items: tuple, ssccs: tuple) -> None:
    found = subjects({field: value})
    assert (found.batches, found.items, found.ssccs) == (batches, items, ssccs)


@pytest.mark.parametrize(("location", "gln"), [
    ({"id": "urn:epc:id:sgln:4012345.00001.0"}, "4012345000016"),
    ({"id": "urn:epc:id:sgln:0614141.07346.1234"}, "0614141073467"),  # with an extension: the GLN of the place
    ({"id": "https://id.gs1.org/414/4012345000016"}, "4012345000016"),
    ({"id": "https://example.com/414/4012345000016/254/7"}, "4012345000016"),
    ({"id": "geo:47.5,11.1"}, None), (None, None),
])  # fmt: skip
def test_gln_of_sgln_and_digital_link(location: object, gln: str | None) -> None:
    assert gln_of(location) == gln


def test_partner_events_are_anchored_unless_they_are_a_registered_batchs_lifecycle() -> None:
    finder = BatchFinder(None)
    batch = {"quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.011111.L1"}]}
    keys = finder.keys(batch)
    known = {keys[0].id_hex}
    assert mode({"bizStep": "receiving", **batch}, keys, known) == "direct"
    assert mode({"bizStep": "receiving", **batch}, keys, set()) == "anchor"  # nobody registered it here
    assert mode({"bizStep": "shipping", **batch}, keys, known) == "anchor"  # no account to move custody to
    assert (
        mode({"bizStep": "shipping", "https://trace.example.org/ns/consignee": "0x1", **batch}, keys, known) == "direct"
    )
    assert mode({"bizStep": "inspecting", **batch}, keys, known) == "anchor"


def test_an_epc_uri_with_digits_of_another_script_still_hashes() -> None:
    """The event hash reads EPC URIs as canonical Digital Links, check digit included: digits of another script
    (a partner's encoding mistake) must not turn hashing a stored event into an internal error."""
    from trace_api.epcis import event_hash_bytes

    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-01-01T00:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sgtin:٠٩٥٠٦٠٠.٠١٣٤٣٥.1"],
    }
    assert len(event_hash_bytes(event)) == 32
    assert event_hash_bytes(event) != event_hash_bytes({**event, "epcList": ["urn:epc:id:sgtin:0950600.013435.1"]})
