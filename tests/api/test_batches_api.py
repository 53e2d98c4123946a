"""HTTP API for traceability on a real anvil: API keys, batch writes, capture, EPCIS query, problem+json."""

import json
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.index.store import get_engine
from trace_api.services import apikeys

GTIN = "09506000134352"


@pytest.fixture(scope="module")
def client(trace_session_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(trace_session_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def farm_key(trace_session_settings: Settings) -> dict[str, str]:
    key = apikeys.create_key(get_engine(trace_session_settings), organisation="Farm Co", account="producer")
    return {"Authorization": f"Bearer {key}"}


def lot() -> str:
    return "A" + uuid.uuid4().hex[:10].upper()


def test_writes_need_a_valid_key(client: TestClient) -> None:
    body = {"gtin": GTIN, "lot": lot()}
    missing = client.post("/batches", json=body)
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["title"] == "UnauthorizedError"
    assert client.post("/batches", json=body, headers={"Authorization": "Bearer trk_wrong"}).status_code == 401
    assert client.post("/batches", json=body, headers={"X-API-Key": "nope"}).status_code == 401
    assert client.get(f"/batches/{GTIN}/{body['lot']}").status_code == 404  # nothing was registered


def test_register_record_and_read(client: TestClient, farm_key: dict[str, str]) -> None:
    l1 = lot()
    created = client.post(
        "/batches",
        json={"gtin": GTIN, "lot": l1, "quantity": "10", "uom": "KGM", "product": "Green coffee"},
        headers=farm_key,
    )
    assert created.status_code == 201, created.text
    ev = client.post(
        f"/batches/{GTIN}/{l1}/events", json={"step": "commissioning", "location": "9506000134000"}, headers=farm_key
    )
    assert ev.status_code == 201, ev.text
    summary = client.get(f"/batches/{GTIN}/{l1}").json()
    assert summary["metadata"]["product"] == "Green coffee" and summary["events"] == 1
    history = client.get(f"/batches/{GTIN}/{l1}/history").json()
    (event,) = history["timeline"]
    assert event["status"] == "verified" and event["biz_step"] == "commissioning"
    assert event["where"] == "https://id.gs1.org/414/9506000134000"


def test_contract_rules_are_409_with_the_error_name(client: TestClient, farm_key: dict[str, str]) -> None:
    l1 = lot()
    assert client.post("/batches", json={"gtin": GTIN, "lot": l1}, headers=farm_key).status_code == 201
    again = client.post("/batches", json={"gtin": GTIN, "lot": l1}, headers=farm_key)
    assert again.status_code == 409 and again.json()["error"] == "TraceBatchExists"
    wrong = client.post(f"/batches/{GTIN}/{l1}/events", json={"step": "receiving"}, headers=farm_key)
    assert wrong.status_code == 409 and wrong.json()["error"] == "TraceNotInTransit"


def test_validation_is_422(client: TestClient, farm_key: dict[str, str]) -> None:
    bad_digit = client.post("/batches", json={"gtin": "09506000134353", "lot": lot()}, headers=farm_key)
    assert bad_digit.status_code == 422 and "check digit" in bad_digit.json()["detail"]
    bad_gln = client.post(f"/batches/{GTIN}/X/events", json={"step": "storing", "location": "123"}, headers=farm_key)
    assert bad_gln.status_code == 422 and bad_gln.json()["errors"][0]["loc"][-1] == "location"


def _document(l1: str, n: int, *, bad_index: int | None = None) -> dict:
    events = []
    for i in range(n):
        event = {
            "type": "ObjectEvent",
            "eventTime": f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}.000Z",
            "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE",
            "bizStep": "sensor_reporting",
            "quantityList": [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{l1}"}],
            "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 4 + i % 3, "uom": "CEL"}]}],
        }
        if i == bad_index:
            del event["eventTime"]
        events.append(event)
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T11:00:00Z",
        "epcisBody": {"eventList": events},
    }


def test_capture_is_async_and_all_or_nothing(client: TestClient, farm_key: dict[str, str]) -> None:
    l1 = lot()
    assert client.post("/batches", json={"gtin": GTIN, "lot": l1}, headers=farm_key).status_code == 201
    bad = client.post("/capture", content=json.dumps(_document(l1, 50, bad_index=17)), headers=farm_key)
    assert bad.status_code == 422 and "eventTime" in bad.json()["detail"]
    assert client.get("/events", params={"gtin": GTIN, "lot": l1}).json()["count"] == 0

    accepted = client.post("/capture", content=json.dumps(_document(l1, 50)), headers=farm_key)
    assert accepted.status_code == 202, accepted.text
    status = client.get(accepted.json()["status_url"]).json()
    assert status["status"] == "done", status
    assert status["result"]["new_events"] == 50 and status["result"]["anchored_roots"] == 1

    page = client.get("/events", params={"gtin": GTIN, "lot": l1, "limit": 20}).json()
    assert page["count"] == 20 and page["next_offset"] == 20
    rest = client.get("/events", params={"gtin": GTIN, "lot": l1, "limit": 1000, "offset": 20}).json()
    assert rest["count"] == 30 and rest["next_offset"] is None
    ranged = client.get(
        "/events",
        params={
            "gtin": GTIN,
            "lot": l1,
            "GE_eventTime": "2026-11-20T10:00:10Z",
            "LT_eventTime": "2026-11-20T10:00:20Z",
            "bizStep": "sensor_reporting",
        },
    )
    assert ranged.json()["count"] == 10
    assert client.get("/events", params={"limit": 5000}).status_code == 422  # pagination is capped
    assert client.get("/capture/nope").status_code == 404


def test_writes_over_http_are_recorded_as_coming_from_http(
    client: TestClient, farm_key: dict[str, str], trace_session_settings: Settings
) -> None:
    from sqlalchemy import select

    from trace_api.index import schema as t

    l1 = lot()
    assert client.post("/batches", json={"gtin": GTIN, "lot": l1}, headers=farm_key).status_code == 201
    ev = client.post(f"/batches/{GTIN}/{l1}/events", json={"step": "packing"}, headers=farm_key)
    assert ev.status_code == 201, ev.text
    child = lot()
    derived = client.post(
        "/batches/derive", json={"gtin": GTIN, "lot": child, "parents": [{"gtin": GTIN, "lot": l1}]}, headers=farm_key
    )
    assert derived.status_code == 201, derived.text
    assert client.post(f"/batches/{GTIN}/{child}/recall", json={"reason": "mould"}, headers=farm_key).status_code == 200
    e, b = t.epcis_events, t.event_batches
    with get_engine(trace_session_settings).connect() as conn:
        source = conn.execute(select(e.c.source).where(e.c.event_hash == ev.json()["event_hash"])).scalar()
        child_sources = conn.execute(
            select(e.c.event_type, e.c.source)
            .join(b, b.c.event_hash == e.c.event_hash)
            .where(b.c.batch_id == derived.json()["batch_id"])
            .order_by(e.c.event_type)
        ).all()
    assert source == "http"
    # the transformation that made the child and the child's recall came over HTTP too (they said derive/recall)
    assert [tuple(r) for r in child_sources] == [("ObjectEvent", "http"), ("TransformationEvent", "http")]


def test_openapi_describes_every_field_of_the_write_results(client: TestClient) -> None:
    """Each write answers with its own closed model: OpenAPI lists its fields, and nothing else may appear."""
    schema = client.get("/openapi.json").json()
    paths, models = schema["paths"], schema["components"]["schemas"]
    expected = {
        ("/batches", "BatchRegistered"): {"batch_id", "gtin", "lot", "tx_hash", "block", "gas_used"},
        ("/batches/derive", "BatchDerived"): {
            "batch_id", "gtin", "lot", "parents", "tx_hash", "block", "event_hash", "anchored_root",
        },
        ("/batches/{gtin}/{lot}/events", "EventRecorded"): {
            "batch_id", "step", "event_hash", "tx_hash", "block", "gas_used",
        },
        ("/batches/{gtin}/{lot}/recall", "BatchRecalled"): {
            "batch_id", "recalled", "reason_hash", "tx_hash", "anchored_root",
        },
    }  # fmt: skip
    for (path, name), fields in expected.items():
        answers = paths[path]["post"]["responses"]
        ok = answers.get("201") or answers["200"]
        assert ok["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
        assert set(models[name]["properties"]) == fields, name
        assert models[name]["additionalProperties"] is False, name


def test_write_answers_carry_exactly_the_documented_fields(client: TestClient, farm_key: dict[str, str]) -> None:
    l1 = lot()
    made = client.post("/batches", json={"gtin": GTIN, "lot": l1, "product": "Green coffee"}, headers=farm_key)
    assert made.status_code == 201, made.text
    assert set(made.json()) == {"batch_id", "gtin", "lot", "tx_hash", "block", "gas_used"}
    assert (made.json()["gtin"], made.json()["lot"]) == (GTIN, l1)
    recalled = client.post(f"/batches/{GTIN}/{l1}/recall", json={"reason": "mould"}, headers=farm_key)
    assert recalled.status_code == 200, recalled.text
    assert recalled.json()["recalled"] is True and recalled.json()["batch_id"] == made.json()["batch_id"]
