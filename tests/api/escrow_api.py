"""What the escrow HTTP tests share: the app over a scratch chain with the contracts deployed, API keys signing as
the parties' accounts, and the chain read directly to check what a route did."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from web3.contract import Contract

from trace_api.chain.accounts import dev_account
from trace_api.http.app import create_app
from trace_api.index.store import get_engine
from trace_api.services import apikeys
from trace_api.services.deploy import scratch_chain

GTIN = "09506000134352"
BUYER, SELLER = dev_account("buyer").address, dev_account("seller").address
PARTIES = (("buyer", "Rotterdam Roasters BV"), ("seller", "Finca La Esperanza"), ("arbiter", "Chamber of Arbitration"))


@dataclass
class Api:
    client: TestClient
    keys: dict[str, dict[str, str]]  # organisation account name -> auth header
    escrow: Contract
    usdc: Contract
    w3: Any

    def post(self, path: str, who: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, json=body or {}, headers=self.keys[who])


def serve(home: Path, organisations: Sequence[tuple[str, str]] = PARTIES) -> Iterator[Api]:
    """The app over a fresh chain in ``home``; one API key per (account name, organisation)."""
    with scratch_chain(home) as (chain, deployed):
        engine = get_engine(chain.settings)
        keys = {
            name: {"Authorization": f"Bearer {apikeys.create_key(engine, organisation=org, account=name)}"}
            for name, org in organisations
        }
        yield Api(
            TestClient(create_app(chain.settings)),
            keys,
            chain.contract("TradeEscrow"),
            chain.contract("MockStablecoin", deployed.deployment.tokens["USDC"]),
            chain.w3,
        )


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def register(api: Api, lot: str) -> None:
    created = api.post("/batches", "seller", {"gtin": GTIN, "lot": lot})
    assert created.status_code == 201, created.text


def open_trade(api: Api, lot: str, **extra: Any) -> Any:
    body = {"gtin": GTIN, "lot": lot, "seller": "seller", "arbiter": "arbiter", "token": "USDC", "amount": "1250.50"}
    return api.post("/escrow/trades", "buyer", body | extra)
