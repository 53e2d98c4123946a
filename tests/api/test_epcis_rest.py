"""EPCIS 2.0 REST bindings: XML capture by Content-Type, event resources, top-level resources, named queries,
version headers, GS1-Capture-Error-Behaviour. On the session's real chain through the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from trace_api.config import Settings
from trace_api.epcis import event_hash_id, iter_events
from trace_api.http.app import create_app
from trace_api.index import schema as t
from trace_api.index.store import get_engine
from trace_api.services import apikeys, epcis_query, events

ROOT = Path(__file__).resolve().parents[2]
XML = ROOT / "tests" / "data" / "epcis" / "gs1-epcis" / "xml" / "Example_9.6.1-ObjectEvent-2020_06_18a.xml"


@pytest.fixture(scope="module")
def client(trace_session_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(trace_session_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def key(trace_session_settings: Settings) -> dict[str, str]:
    secret = apikeys.create_key(get_engine(trace_session_settings), organisation="Partner Co", account="producer")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def captured(client: TestClient, key: dict[str, str]) -> list[str]:
    response = client.post("/capture", content=XML.read_bytes(), headers={**key, "Content-Type": "application/xml"})
    assert response.status_code == 202, response.text
    status = client.get(response.json()["status_url"]).json()
    assert status["status"] == "done", status
    return [event_hash_id(e) for e in iter_events(XML)]


def _events(response: object) -> list[dict]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    assert response.headers["GS1-EPCIS-Version"] == "2.0.0"  # type: ignore[attr-defined]
    assert response.headers["GS1-CBV-Version"] == "2.0.0"  # type: ignore[attr-defined]
    document = response.json()  # type: ignore[attr-defined]
    assert document["type"] == "EPCISQueryDocument"
    return document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def test_event_types(client: TestClient) -> None:
    response = client.get("/eventTypes")
    assert response.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert set(response.json()["member"]) == {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }


def test_event_by_id_epc_step_and_location(client: TestClient, captured: list[str]) -> None:
    (found,) = _events(client.get(f"/events/{quote(captured[0], safe='')}"))
    assert found["eventID"] == captured[0]
    assert client.get("/events/ni:///sha-256;00?ver=CBV2.0").status_code == 404
    # the same EPC in URN form finds the event; the XML wrote it as a URN too, the canonical form decides
    by_epc = _events(client.get("/epcs/" + quote("https://id.gs1.org/01/10614141073464/21/2018", safe="") + "/events"))
    assert {e["eventID"] for e in by_epc} >= set(captured)
    assert captured[0] in {e["eventID"] for e in _events(client.get("/bizSteps/shipping/events"))}
    assert captured[1] in {
        e["eventID"]
        for e in _events(
            client.get("/bizLocations/" + quote("https://id.gs1.org/414/0012345111112", safe="") + "/events")
        )
    }


def test_named_queries(client: TestClient, key: dict[str, str], captured: list[str]) -> None:
    body = {"name": "receipts", "query": {"eventType": ["ObjectEvent"], "EQ_bizStep": ["receiving"]}}
    created = client.post("/queries", json=body, headers=key)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/queries/receipts"
    assert client.post("/queries", json=body, headers=key).status_code == 409
    assert "receipts" in {q["name"] for q in client.get("/queries").json()}
    events = _events(client.get("/queries/receipts/events"))
    assert captured[1] in {e["eventID"] for e in events} and captured[0] not in {e["eventID"] for e in events}
    bad = client.post("/queries", json={"name": "bad", "query": {"EQ_colour": ["red"]}}, headers=key)
    assert bad.status_code == 422 and "EQ_colour" in bad.text
    assert client.delete("/queries/receipts", headers=key).status_code == 204
    assert client.get("/queries/receipts/events").status_code == 404


def test_paging_link_header(client: TestClient, captured: list[str]) -> None:
    first = client.get("/eventTypes/ObjectEvent/events", params={"perPage": 1})
    assert len(_events(first)) == 1 and 'rel="next"' in first.headers["Link"]


def test_capture_error_behaviour_proceed_is_refused(client: TestClient, key: dict[str, str]) -> None:
    response = client.post(
        "/capture",
        content=XML.read_bytes(),
        headers={**key, "Content-Type": "application/xml", "GS1-Capture-Error-Behaviour": "proceed"},
    )
    assert response.status_code == 422 and "rollback" in response.text


def test_events_written_ahead_of_their_transaction_are_not_served(
    client: TestClient, trace_session_settings: Settings
) -> None:
    """An event stored ahead of a transaction that is not indexed yet (and may never be sent) is no part of any
    story: the REST queries leave it out, as GET /events and the history do."""
    event = {"type": "ObjectEvent", "eventTime": "2026-11-21T09:00:00.000Z", "eventTimeZoneOffset": "+00:00",
             "action": "OBSERVE", "bizStep": "inspecting", "epcList": ["urn:epc:id:sgtin:4012345.011111.987654"],
             "readPoint": {"id": "urn:epc:id:sgln:4012345.00077.0"}}  # fmt: skip
    [stored] = events.insert_events(
        get_engine(trace_session_settings), [(event, [])], mode="direct", source="test", capturer="0x" + "ab" * 20,
        awaits="0x" + "cd" * 32,
    )  # fmt: skip
    try:
        assert client.get(f"/events/{stored}").status_code == 404
        served = {e["eventID"] for e in _events(client.get("/bizSteps/inspecting/events?perPage=1000"))}
        assert epcis_query.event_id(stored) not in served
        epc = quote("urn:epc:id:sgtin:4012345.011111.987654", safe="")
        assert _events(client.get(f"/epcs/{epc}/events")) == []
        shown = client.get("/events?bizStep=inspecting&limit=1000").json()["events"]
        assert stored not in {e["eventID"] for e in shown}
    finally:  # the session's index is shared: nothing is left awaiting a transaction that will never come
        with get_engine(trace_session_settings).begin() as conn:
            conn.execute(delete(t.epcis_events).where(t.epcis_events.c.event_hash == stored))
