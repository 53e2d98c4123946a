"""Finite numbers only: NaN, Infinity and numbers that overflow to infinity (``1e999``) are refused in every JSON
body with 4xx problem+json and nothing written; data stored before this rule cannot make a JSON view answer 500.

Attack tests (issue 16): on the old code a NaN sensor value was captured, and afterwards the batch's JSON and
JSON-LD resolver views answered 500 for good.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.index import schema as t
from trace_api.index.store import get_engine
from trace_api.services import apikeys

GTIN = "09506000134352"
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]


@pytest.fixture(scope="module")
def client(trace_session_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(trace_session_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def key(trace_session_settings: Settings) -> dict[str, str]:
    token = apikeys.create_key(get_engine(trace_session_settings), organisation="Finite Co", account="producer")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def lot() -> str:
    return "F" + uuid.uuid4().hex[:10].upper()


def _sensor_document(l1: str, value: str) -> str:
    """A capture document whose one sensor value is ``value``, written into the JSON text as is."""
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-20T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{l1}"}],
        "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 12345.5, "uom": "CEL"}]}],
    }
    document = {
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T11:00:00Z",
        "epcisBody": {"eventList": [event]},
    }
    return json.dumps(document).replace("12345.5", value)


def _refused(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _captures(settings: Settings) -> int:
    with get_engine(settings).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.captures)).scalar_one())


@pytest.mark.parametrize("value", NON_FINITE)
def test_a_non_finite_sensor_value_is_refused_and_nothing_is_written(
    client: TestClient, key: dict[str, str], trace_session_settings: Settings, value: str
) -> None:
    l1 = lot()
    before = _captures(trace_session_settings)
    problem = _refused(client.post("/capture", content=_sensor_document(l1, value), headers=key))
    assert "finite" in problem["detail"]
    assert _captures(trace_session_settings) == before
    assert client.get("/events", params={"gtin": GTIN, "lot": l1}).json()["count"] == 0


@pytest.mark.parametrize("value", ['"NaN"', '"Infinity"', '"1e999"'])
def test_a_non_finite_number_in_a_string_is_refused_by_the_model(
    client: TestClient, key: dict[str, str], trace_session_settings: Settings, value: str
) -> None:
    before = _captures(trace_session_settings)
    problem = _refused(client.post("/capture", content=_sensor_document(lot(), value), headers=key))
    assert problem["status"] == 422 and "finite" in problem["detail"]
    assert _captures(trace_session_settings) == before


def test_a_non_finite_number_anywhere_in_any_json_body_is_refused(client: TestClient, key: dict[str, str]) -> None:
    l1 = lot()
    # An extra member the route ignores would otherwise slip through, and the batch would be registered.
    body = f'{{"gtin": "{GTIN}", "lot": "{l1}", "product": "Tea", "note": Infinity}}'
    _refused(client.post("/batches", content=body, headers=key))
    assert client.get(f"/batches/{GTIN}/{l1}").status_code == 404
    signature = '{"uri": "https://id.gs1.org/01/09506000134352/10/X", "signature": "0x00", "n": NaN}'
    _refused(client.post("/verify/signature", content=signature, headers={"Content-Type": "application/json"}))


def test_stored_non_finite_values_do_not_break_the_json_views(
    client: TestClient, key: dict[str, str], trace_session_settings: Settings
) -> None:
    l1 = lot()
    assert client.post("/batches", json={"gtin": GTIN, "lot": l1}, headers=key).status_code == 201
    accepted = client.post("/capture", content=_sensor_document(l1, "12345.5"), headers=key)
    assert accepted.status_code == 202, accepted.text
    assert client.get(accepted.json()["status_url"]).json()["status"] == "done"
    # Data stored by an older version, before finite numbers were enforced.
    with get_engine(trace_session_settings).begin() as conn:
        changed = conn.execute(
            update(t.epcis_events)
            .where(t.epcis_events.c.body.contains("12345.5"))
            .values(body=func.replace(t.epcis_events.c.body, "12345.5", "NaN"))
        )
        assert changed.rowcount == 1
    views = {
        "resolver JSON": client.get(f"/01/{GTIN}/10/{l1}", headers={"Accept": "application/json"}),
        "resolver JSON-LD": client.get(f"/01/{GTIN}/10/{l1}", headers={"Accept": "application/ld+json"}),
        "resolver HTML": client.get(f"/01/{GTIN}/10/{l1}"),
        "history": client.get(f"/batches/{GTIN}/{l1}/history"),
        "summary": client.get(f"/batches/{GTIN}/{l1}"),
        "events": client.get("/events", params={"gtin": GTIN, "lot": l1}),
    }
    assert {name: r.status_code for name, r in views.items() if r.status_code >= 500} == {}
    events = views["events"].json()["events"]
    assert events[0]["sensorElementList"][0]["sensorReport"][0]["value"] is None  # shown as no value
