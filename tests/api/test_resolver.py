"""The GS1 resolver routes: content negotiation, link sets, description file, 400 on a bad check digit, scans."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.services.demo import GREEN, ROASTED, UNITS


@pytest.fixture(scope="module")
def client(demo_env) -> Iterator[TestClient]:
    env, _ = demo_env
    settings = Settings(home=Path(env["TRACE_HOME"]), node_port=int(env["TRACE_NODE_PORT"]), trust_proxy=True)
    with TestClient(create_app(settings)) as c:
        yield c


def path(gtin: str, lot: str, serial: str | None = None) -> str:
    return f"/01/{gtin}/10/{lot}" + (f"/21/{serial}" if serial else "")


def test_json_summary(client: TestClient) -> None:
    body = client.get(path(*GREEN), headers={"Accept": "application/json"}).json()
    assert body["verdict"]["level"] == "verified"
    assert body["metadata"]["product"] == "Arabica green coffee"
    assert body["sensors"]["count"] == 1000 and body["sensors"]["verified"] == 1000
    assert body["children"][0]["lot"] == ROASTED[1]


def test_epcis_json_ld(client: TestClient) -> None:
    response = client.get(path(*ROASTED), headers={"Accept": "application/ld+json"})
    assert response.headers["content-type"].startswith("application/ld+json")
    doc = response.json()
    assert doc["type"] == "EPCISDocument" and len(doc["epcisBody"]["eventList"]) == 1 + len(UNITS) + 3


def test_linkset_by_query_and_by_accept(client: TestClient) -> None:
    by_query = client.get(path(*ROASTED), params={"linkType": "all"})
    by_accept = client.get(path(*ROASTED), headers={"Accept": "application/linkset+json"})
    assert by_query.headers["content-type"].startswith("application/linkset+json")
    assert by_query.json() == by_accept.json()
    links = by_query.json()["linkset"][0]
    for rel in ("pip", "traceability", "epcis", "certificationInfo"):
        assert links[f"https://gs1.org/voc/{rel}"][0]["href"].startswith("http")
    redirect = client.get(path(*ROASTED), params={"linkType": "gs1:traceability"}, follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"].endswith(f"/batches/{ROASTED[0]}/{ROASTED[1]}/history")


def test_well_known_description(client: TestClient) -> None:
    body = client.get("/.well-known/gs1resolver").json()
    assert body["supportedPrimaryKeys"] == ["01"] and "gs1:pip" in body["linkTypes"]


def test_bad_check_digit_is_400(client: TestClient) -> None:
    response = client.get("/01/09506000134353/10/X")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "invalid check digit" in response.json()["detail"]


def test_unknown_batch_and_serial(client: TestClient) -> None:
    html = client.get(path("09506000134376", "NOPE"), headers={"Accept": "text/html"})
    assert html.status_code == 404 and "possible counterfeit" in html.text
    assert client.get(path("09506000134376", "NOPE"), headers={"Accept": "application/json"}).status_code == 404
    events = client.get(path("09506000134376", "NOPE"), headers={"Accept": "application/ld+json"})
    assert events.status_code == 404 and events.headers["content-type"].startswith("application/problem+json")
    assert "not registered" in events.json()["detail"]
    unit = client.get(path(*ROASTED, "B9999"), headers={"Accept": "application/json"})
    assert unit.status_code == 404 and unit.json()["verdict"]["level"] == "counterfeit"


def test_scans_from_many_places_are_flagged(client: TestClient) -> None:
    url = path(*ROASTED, UNITS[5])
    levels = []
    for network in ("10.0.1.7", "10.0.2.7", "10.0.2.9", "10.0.3.7"):
        body = client.get(url, headers={"Accept": "application/json", "X-Forwarded-For": network}).json()
        levels.append((body["unit"]["scans"]["count"], body["unit"]["scans"]["places"], body["verdict"]["level"]))
    # 10.0.2.7 and 10.0.2.9 are one place (same /24); the third distinct place raises the flag
    assert levels == [(1, 1, "verified"), (2, 2, "verified"), (3, 2, "verified"), (4, 3, "warning")]
    assert "scanned in 3 different places" in body["unit"]["scans"]["message"]


def test_signature_check_endpoint(client: TestClient, demo_env) -> None:
    _, summary = demo_env
    uri, _, fragment = summary["label"]["signed_uri"].partition("#sig=")
    ok = client.post("/verify/signature", json={"uri": uri, "signature": fragment}).json()
    assert ok["trusted"] is True and ok["registrant"] is True
    tampered = uri.replace(UNITS[0], UNITS[1])
    other = client.post("/verify/signature", json={"uri": tampered, "signature": fragment}).json()
    assert other["trusted"] is False
    assert client.post("/verify/signature", json={"uri": uri, "signature": "0x12"}).status_code == 422
