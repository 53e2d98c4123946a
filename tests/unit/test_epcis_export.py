"""Export round trip: GS1's 56 example events, imported from their own documents, exported in one document that
re-hashes event for event, validates against GS1's EPCIS 2.0 JSON Schema and expands as JSON-LD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trace_api.epcis import EPCIS_CONTEXT, event_hash_id, export_document, iter_events, parse_document
from trace_api.services.importer import event_dict

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "trace_api" / "epcis" / "schemas"
EXAMPLES = sorted((ROOT / "tests" / "data" / "epcis" / "gs1-epcis" / "json").rglob("*.jsonld"))


def _stored() -> list[dict[str, Any]]:
    """Each example event as the importer stores it (its own prefixes in its own @context)."""
    return [event_dict(e) for path in EXAMPLES for e in iter_events(path)]


@pytest.fixture(scope="module")
def exported() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    stored = _stored()
    return stored, json.loads(json.dumps(export_document(stored)))


def test_each_exported_event_rehashes_to_its_stored_hash(exported: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    stored, document = exported
    assert len(stored) == 56
    again = parse_document(document).events
    assert [event_hash_id(e) for e in again] == [event_hash_id(e) for e in stored]


def test_export_validates_against_gs1_json_schema(exported: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(exported[1]), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]


def test_export_expands_as_json_ld(exported: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    jsonld = pytest.importorskip("pyld.jsonld")
    context = json.loads((SCHEMAS / "epcis-context.jsonld").read_text(encoding="utf-8"))

    def loader(url: str, options: Any = None) -> dict[str, Any]:
        assert url == EPCIS_CONTEXT, f"only GS1's EPCIS context is known offline, not {url}"
        return {"contextUrl": None, "documentUrl": url, "document": context}

    expanded = jsonld.expand(exported[1], {"documentLoader": loader})
    events = expanded[0]["https://ref.gs1.org/epcis/epcisBody"][0]["https://ref.gs1.org/epcis/eventList"]
    assert len(events) == 56
    assert all(e["@type"][0].startswith("https://ref.gs1.org/epcis/") for e in events)


def test_own_shipping_events_name_source_and_destination() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from trace_api.domain import batch_key
    from trace_api.services.batches import build_event

    shipper, consignee = "0x" + "cd" * 20, "0x" + "AB" * 20
    event = build_event(
        key=batch_key("09506000134352", "L1"), step="shipping", gln="9506000134000", to=consignee, shipper=shipper
    )
    assert event["sourceList"] == [
        {"type": "possessing_party", "source": f"ethereum:{shipper}"},
        {"type": "location", "source": "https://id.gs1.org/414/9506000134000"},
    ]
    assert event["destinationList"] == [{"type": "possessing_party", "destination": f"ethereum:{consignee.lower()}"}]
    schema = json.loads((SCHEMAS / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(export_document([event]))
    assert "sourceList" not in build_event(key=batch_key("09506000134352", "L1"), step="storing", gln="9506000134000")
