"""Request limits: body size (413), page size (422 above the cap), and per-client rate limiting of the public
resolver routes (429 with Retry-After). Every refusal is problem+json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.http.limits import TokenBuckets
from trace_api.index.store import get_engine
from trace_api.services import apikeys

GTIN = "09506000134352"
WELL_KNOWN = "/.well-known/gs1resolver"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.fixture(scope="module")
def key(trace_session_settings: Settings) -> dict[str, str]:
    token = apikeys.create_key(get_engine(trace_session_settings), organisation="Limits Co", account="producer")
    return {"Authorization": f"Bearer {token}"}


def _client(settings: Settings, **limits: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits)))


# ---- body size ----
def test_defaults() -> None:
    settings = Settings()
    assert settings.max_request_bytes == 64 * 1024
    assert settings.max_capture_bytes == 5 * 1024 * 1024
    assert settings.resolver_rate_per_minute == 60


def test_a_body_over_the_limit_is_413_before_parsing(trace_session_settings: Settings, key: dict[str, str]) -> None:
    client = _client(trace_session_settings)
    body = json.dumps({"gtin": GTIN, "lot": "L1", "product": "x" * (64 * 1024)})
    # Without a key the answer is 401 whatever the size: the key is checked before the body is read.
    assert _problem(client.post("/batches", content=body), 401)["title"] == "UnauthorizedError"
    response = client.post("/batches", content=body, headers={**key, "Content-Type": "application/json"})
    problem = _problem(response, 413)
    assert problem["title"] == "PayloadTooLargeError" and problem["limit"] == 64 * 1024
    assert "65536" in problem["detail"]


def test_a_chunked_body_is_counted_as_it_arrives(trace_session_settings: Settings) -> None:
    client = _client(trace_session_settings, max_request_bytes=1000)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the middleware has to count
        yield b'{"uri": "'
        for _ in range(20):
            yield b"a" * 100
        yield b'", "signature": "0x00"}'

    _problem(client.post("/verify/signature", content=chunks(), headers={"Content-Type": "application/json"}), 413)
    small = client.post(
        "/verify/signature",
        content=iter([b'{"uri": "x", ', b'"signature": "0x12"}']),
        headers={"Content-Type": "application/json"},
    )
    assert _problem(small, 422)["errors"][0]["loc"] == ["body", "signature"]  # reached the route, body intact


def test_capture_has_its_own_larger_limit(trace_session_settings: Settings, key: dict[str, str]) -> None:
    client = _client(trace_session_settings, max_request_bytes=1024, max_capture_bytes=4096)
    padded = json.dumps(
        {
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-11-20T11:00:00Z",
            "epcisBody": {"eventList": []},
            "comment": "x" * 2000,
        }
    )
    assert len(padded) > 1024
    # Over the general limit, within the capture limit: it reaches the route (which answers for the document).
    assert client.post("/capture", content=padded, headers=key).status_code in (202, 422)
    # The general limit still holds everywhere else.
    _problem(client.post("/batches", content=padded, headers={**key, "Content-Type": "application/json"}), 413)
    too_big = json.dumps({"type": "EPCISDocument", "comment": "x" * 5000})
    assert _problem(client.post("/capture", content=too_big, headers=key), 413)["limit"] == 4096


def test_bodies_within_the_limit_pass_unchanged(trace_session_settings: Settings, key: dict[str, str]) -> None:
    client = _client(trace_session_settings)
    # An invalid GTIN is refused by the route itself: the body arrived whole.
    response = client.post("/batches", json={"gtin": "09506000134353", "lot": "L1"}, headers=key)
    assert "check digit" in _problem(response, 422)["detail"]


# ---- pagination ----
def test_list_routes_cap_their_page_size(trace_session_settings: Settings) -> None:
    client = _client(trace_session_settings)
    schema = client.get("/openapi.json").json()
    capped = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["name"] == "limit":
                    maximum = param["schema"].get("maximum")
                    assert maximum is not None and maximum <= 1000, f"{method.upper()} {path}: limit is not capped"
                    capped.append(path)
    assert {"/events", "/escrow/trades"} <= set(capped)
    for path in capped:
        _problem(client.get(path, params={"limit": 1001}), 422)
        _problem(client.get(path, params={"limit": 0}), 422)
    assert client.get("/events", params={"limit": 1000}).status_code == 200
    assert client.get("/escrow/trades", params={"limit": 1000}).status_code == 200
    _problem(client.get("/events", params={"offset": 10**12}), 422)  # bounded too: SQLite integers overflow


# ---- rate limiting of the public resolver routes ----
def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)  # one token a second
    assert buckets.take("b") == 0.0  # per client
    now[0] = 2.5
    assert buckets.take("a") == 0.0 and buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 1000.0
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refills up to the burst, no further


def test_token_bucket_memory_is_bounded() -> None:
    buckets = TokenBuckets(per_minute=60, max_clients=100)
    for i in range(1000):
        buckets.take(f"10.0.{i // 256}.{i % 256}")
    assert len(buckets) == 100
    assert TokenBuckets(per_minute=0).take("x") == 0.0  # 0 disables


def test_resolver_routes_answer_429_per_client(trace_session_settings: Settings) -> None:
    client = _client(trace_session_settings, resolver_rate_per_minute=3)
    assert [client.get(WELL_KNOWN).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(WELL_KNOWN)
    problem = _problem(limited, 429)
    assert problem["title"] == "RateLimitedError"
    assert 1 <= int(limited.headers["Retry-After"]) <= 20
    # Every public resolver route spends the same client's tokens ...
    _problem(client.get(f"/01/{GTIN}/10/L1"), 429)
    _problem(client.post("/verify/signature", json={"uri": "x", "signature": "0x00"}), 429)
    # ... and so does every other public read; /health is not limited.
    assert client.get("/health").status_code == 200
    _problem(client.get("/events", params={"limit": 1}), 429)
    # X-Forwarded-For is ignored unless the proxy is trusted: it cannot buy a fresh bucket.
    _problem(client.get(WELL_KNOWN, headers={"X-Forwarded-For": "203.0.113.9"}), 429)


def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(trace_session_settings: Settings) -> None:
    client = _client(trace_session_settings, resolver_rate_per_minute=2, trust_proxy=True)
    first = {"X-Forwarded-For": "203.0.113.7"}
    second = {"X-Forwarded-For": "198.51.100.4"}
    assert [client.get(WELL_KNOWN, headers=first).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get(f"/01/{GTIN}/10/L1", headers={**second, "Accept": "application/json"}).status_code != 429
    assert client.get(WELL_KNOWN, headers=second).status_code == 200
    assert client.get(WELL_KNOWN, headers=second).status_code == 429


def test_burst_and_rate_are_configurable(trace_session_settings: Settings) -> None:
    client = _client(trace_session_settings, resolver_rate_per_minute=1, resolver_rate_burst=5)
    statuses = [client.get(WELL_KNOWN).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert 55 <= int(client.get(WELL_KNOWN).headers["Retry-After"]) <= 60  # one token a minute
    unlimited = _client(trace_session_settings, resolver_rate_per_minute=0)
    assert {unlimited.get(WELL_KNOWN).status_code for _ in range(100)} == {200}


def test_openapi_declares_the_limits(trace_session_settings: Settings) -> None:
    schema = _client(trace_session_settings).get("/openapi.json").json()["paths"]
    for path, method in ((WELL_KNOWN, "get"), ("/{primary}/{rest}", "get"), ("/verify/signature", "post")):
        declared = schema[path][method]["responses"]["429"]
        assert "Retry-After" in declared["headers"]
        assert "application/problem+json" in declared["content"]
    assert "413" in schema["/capture"]["post"]["responses"] and "413" in schema["/batches"]["post"]["responses"]


# ---- inputs the fuzzer did not reach: limits the services do not set ----
def test_capture_nesting_is_limited(trace_session_settings: Settings, key: dict[str, str]) -> None:
    client = _client(trace_session_settings)
    bomb = "[" * 60_000  # deeper than the JSON decoder recurses
    assert "not valid JSON" in _problem(client.post("/capture", content=bomb, headers=key), 422)["detail"]
    deep: Any = []
    for _ in range(500):
        deep = [deep]
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-20T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "https://example.org/x": deep,
    }
    response = client.post("/capture", content=json.dumps(event), headers=key)
    assert "nests deeper than 64" in _problem(response, 422)["detail"]
    # Elsewhere FastAPI parses the body: a nesting bomb is a 400, not a crash.
    _problem(client.post("/batches", content=bomb, headers={**key, "Content-Type": "application/json"}), 400)


def test_numbers_beyond_the_contract_types_are_422(trace_session_settings: Settings, key: dict[str, str]) -> None:
    client = _client(trace_session_settings)
    huge = 10**80  # above uint256: the route takes it, the contract ABI cannot
    assert "contract" in _problem(client.get(f"/escrow/trades/{huge}"), 422)["detail"]
    _problem(client.post(f"/escrow/trades/{huge}/release", headers=key), 422)


# ---- every public read is limited, per client network ----
NOT_LIMITED = {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def test_every_public_read_route_is_rate_limited(trace_session_settings: Settings) -> None:
    from trace_api.http.deps import get_caller, rate_limit
    from trace_api.http.introspect import operations

    app = create_app(trace_session_settings)
    reads = [op for op in operations(app) if "GET" in op.methods and op.path not in NOT_LIMITED]
    assert len(reads) >= 9
    assert [op.path for op in reads if not (op.depends_on(rate_limit) or op.depends_on(get_caller))] == []


def test_clients_are_keyed_by_network() -> None:
    from trace_api.http.limits import client_network

    assert client_network("203.0.113.7") == "203.0.113.7"
    same = {client_network(f"2001:db8:1:2:{i:x}::1") for i in range(1000)}  # one subscriber's /64
    assert same == {"2001:db8:1:2::/64"}
    assert client_network("2001:db8:1:3::1") != client_network("2001:db8:1:2::1")
    assert client_network("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_network(None) == "unknown"


def test_an_ipv6_client_cannot_rotate_addresses_for_fresh_buckets(trace_session_settings: Settings) -> None:
    client = _client(trace_session_settings, resolver_rate_per_minute=2, trust_proxy=True)
    statuses = [
        client.get(WELL_KNOWN, headers={"X-Forwarded-For": f"2001:db8:5:6::{i + 1:x}"}).status_code for i in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert client.get("/batches/09506000134352/L1", headers={"X-Forwarded-For": "2001:db8:5:6::99"}).status_code == 429
