"""GET /health: 200 with chain id and block; 503 problem+json while the node is down; recovers by itself."""

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import free_port
from trace_api.chain import node
from trace_api.config import Settings
from trace_api.http.app import create_app


def test_health_follows_the_node(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, node_port=free_port())
    client = TestClient(create_app(settings))
    down = client.get("/health")
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
    assert down.json()["status"] == 503 and "chain unavailable" in down.json()["detail"]
    node.start(settings)
    try:
        up = client.get("/health")
        assert up.status_code == 200, up.text
        body = up.json()
        assert body["status"] == "ok" and body["chain_id"] == 31337 and body["block"] >= 0
        node.stop(settings)
        again = client.get("/health")
        assert again.status_code == 503
        node.start(settings)
        assert client.get("/health").status_code == 200
    finally:
        node.stop(settings)
