"""GET/POST /orgs and token balances over HTTP, against a real chain and index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from trace_api.chain.accounts import dev_account
from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.services import apikeys


@pytest.fixture(scope="module")
def client(trace_session_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(trace_session_settings)) as c:
        yield c


def _key(settings: Settings, account: str) -> dict[str, str]:
    from trace_api.index.store import get_engine

    key = apikeys.create_key(get_engine(settings), organisation=f"org-{uuid.uuid4().hex[:6]}", account=account)
    return {"Authorization": f"Bearer {key}"}


def test_admin_vouches_and_everyone_reads(client: TestClient, trace_session_settings: Settings) -> None:
    retailer = dev_account("retailer").address
    body = {
        "account": retailer,
        "profile": {"legal_name": "Corner Coffee Shop BV", "country": "NL", "glns": ["9506000134024"]},
    }
    refused = client.post("/orgs", json=body, headers=_key(trace_session_settings, "producer"))
    assert refused.status_code == 409 and refused.json()["error"] == "OrgUnauthorizedAccount"
    assert "is not a registry admin" in refused.json()["detail"]  # the contract's refusal, for people
    assert client.get(f"/orgs/{retailer}").status_code == 404  # nothing was written
    created = client.post("/orgs", json=body, headers=_key(trace_session_settings, "admin"))
    assert created.status_code == 201, created.text
    shown = client.get(f"/orgs/{retailer}").json()
    assert shown["verified"] is True and shown["profile"]["legal_name"] == "Corner Coffee Shop BV"
    assert retailer in [o["account"] for o in client.get("/orgs").json()]
    bad = client.post(
        "/orgs",
        json={**body, "profile": {"legal_name": "X Co", "country": "XX"}},
        headers=_key(trace_session_settings, "admin"),
    )
    assert bad.status_code == 422


def test_token_balance(client: TestClient) -> None:
    buyer = dev_account("buyer").address
    found = client.get(f"/tokens/USDC/balances/{buyer}")
    assert found.status_code == 200 and found.json()["token"] == "USDC" and int(found.json()["units"]) > 0
    assert client.get(f"/tokens/DOGE/balances/{buyer}").status_code == 422
    assert client.get("/tokens/USDC/balances/not-an-address").status_code == 422
