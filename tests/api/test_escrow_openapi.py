"""The OpenAPI document describes every escrow answer completely: each route names its result model, and no model
lets undeclared fields through (no `extra="allow"`), so a client generated from it sees every field it gets."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from trace_api.config import Settings
from trace_api.http.app import create_app


def _schema(settings: Settings) -> dict[str, Any]:
    document: dict[str, Any] = TestClient(create_app(settings)).get("/openapi.json").json()
    return document


def _model(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    responses = document["paths"][path][method]["responses"]
    (ok,) = [r for code, r in responses.items() if code.startswith("2")]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    model: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return model


def test_every_escrow_json_route_declares_a_closed_result_model(trace_session_settings: Settings) -> None:
    document = _schema(trace_session_settings)
    routes = [
        (path, method)
        for path, methods in document["paths"].items()
        if path.startswith("/escrow/")
        for method, spec in methods.items()
        if "application/json" in next(r for c, r in spec["responses"].items() if c.startswith("2")).get("content", {})
    ]
    assert len(routes) >= 12
    for path, method in routes:
        model = _model(document, path, method)
        assert model.get("properties"), f"{method} {path}: no declared fields"
        assert model.get("additionalProperties") is not True, f"{method} {path} lets undeclared fields through"


def test_a_trade_is_described_field_by_field(trace_session_settings: Settings) -> None:
    document = _schema(trace_session_settings)
    trade = _model(document, "/escrow/trades/{trade_id}", "get")["properties"]
    for field in ("milestones", "releasable_now", "in_escrow", "order", "invoice", "files", "dispute", "lines"):
        assert field in trade, field
    opened = _model(document, "/escrow/trades", "post")["properties"]
    assert {"trade_ids", "funding", "tx_hashes", "warnings", "milestones", "lines"} <= set(opened)
    released = _model(document, "/escrow/trades/{trade_id}/release", "post")["properties"]
    assert {"tx_hash", "released", "milestones", "note", "due_at"} <= set(released)
