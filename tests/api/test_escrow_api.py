"""Escrow routes on a real anvil: API keys sign as their organisation's account; errors are problem+json."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.escrow_api import BUYER, GTIN, SELLER, Api, serve
from tests.api.escrow_api import open_trade as _open
from tests.api.escrow_api import problem as _problem
from tests.api.escrow_api import register as _batch


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from serve(tmp_path_factory.mktemp("escrow-api"))


def test_writes_need_an_api_key(api: Api) -> None:
    problem = _problem(api.client.post("/escrow/trades", json={}), 401)
    assert "API key" in problem["detail"]
    _problem(api.client.post("/escrow/trades/1/release", headers={"Authorization": "Bearer nope"}), 401)


def test_milestones_dispute_and_ruling_over_http(api: Api) -> None:
    lot = "API-STORY-1"
    _batch(api, lot)
    buyer_usdc = api.usdc.functions.balanceOf(BUYER).call()
    opened = _open(api, lot, milestones={"shipped_bps": 3000, "delivered_bps": 7000})
    assert opened.status_code == 201, opened.text
    trade = opened.json()
    trade_id = trade["trade_id"]
    assert trade["funding"] == "permit" and len(trade["tx_hashes"]) == 1
    assert trade["amount_units"] == "1250500000"
    assert api.usdc.functions.balanceOf(BUYER).call() == buyer_usdc - 1_250_500_000

    shown = api.client.get(f"/escrow/trades/{trade_id}").json()
    assert shown["state"] == "open" and shown["buyer"] == BUYER and shown["seller"] == SELLER
    assert [(m["name"], m["amount"]) for m in shown["milestones"]] == [("shipped", "375.15"), ("delivered", "875.35")]
    listed = api.client.get("/escrow/trades", params={"account": SELLER, "state": "open"}).json()
    assert trade_id in [t["trade_id"] for t in listed["trades"]] and listed["count"] == len(listed["trades"])

    shipped = api.post(f"/batches/{GTIN}/{lot}/events", "seller", {"step": "shipping", "to": BUYER})
    assert shipped.status_code == 201, shipped.text
    released = api.post(f"/escrow/trades/{trade_id}/release", "seller")
    assert released.status_code == 200, released.text
    assert released.json()["released"] == "375.15"

    disputed = api.post(f"/escrow/trades/{trade_id}/dispute", "buyer", {"text": "half the sacks are missing"})
    assert disputed.status_code == 200 and disputed.json()["state"] == "disputed"
    evidence = api.post(f"/escrow/trades/{trade_id}/evidence", "seller", {"sha256": "ab" * 32})
    assert evidence.status_code == 201 and evidence.json()["evidence_sha256"] == "0x" + "ab" * 32

    frozen = _problem(api.post(f"/escrow/trades/{trade_id}/release", "seller"), 409)
    assert frozen["error"] == "EscrowTradeNotOpen"
    not_arbiter = _problem(api.post(f"/escrow/trades/{trade_id}/resolve", "buyer", {"seller_bps": 10_000}), 409)
    assert not_arbiter["error"] == "EscrowNotArbiter"

    ruled = api.post(f"/escrow/trades/{trade_id}/resolve", "arbiter", {"seller_percent": 70})
    assert ruled.status_code == 200, ruled.text
    body = ruled.json()
    # 70% of the 875.35 still frozen; the 0.5% fee is taken from the seller's share only.
    assert (body["to_seller"], body["to_buyer"], body["fee"]) == ("612.745", "262.605", "3.063725")
    assert api.client.get(f"/escrow/trades/{trade_id}").json()["state"] == "resolved"

    seller_usdc = api.usdc.functions.balanceOf(SELLER).call()
    owed = api.escrow.functions.withdrawable(SELLER, api.usdc.address).call()
    assert owed == (375_150_000 - 1_875_750) + (612_745_000 - 3_063_725)
    paid = api.post("/escrow/withdraw", "seller", {"token": "USDC"})
    assert paid.status_code == 200, paid.text
    assert paid.json()["withdrawals"][0]["amount_units"] == str(owed)
    assert api.usdc.functions.balanceOf(SELLER).call() == seller_usdc + owed
    balances = api.client.get("/escrow/balances/seller").json()["balances"]
    assert {b["token"]["symbol"]: b["amount_units"] for b in balances}["USDC"] == "0"


def test_bad_input_is_422_and_sends_nothing(api: Api) -> None:
    lot = "API-BAD-1"
    _batch(api, lot)
    nonce, count = api.w3.eth.get_transaction_count(BUYER), api.escrow.functions.tradeCount().call()
    problem = _problem(_open(api, lot, amount="1250.5000001"), 422)
    assert "more than 6 decimals" in problem["detail"]
    _problem(_open(api, lot, milestones={"shipped_bps": 5000, "delivered_bps": 4000}), 422)
    _problem(_open(api, lot, deliver_by="2020-01-01"), 422)
    assert "must be between 1 and 30 days" in _problem(_open(api, lot, dispute_window="0"), 422)["detail"]
    _problem(api.post("/escrow/trades/1/resolve", "arbiter", {"seller_bps": 1, "seller_percent": 1}), 422)
    _problem(api.post("/escrow/trades/1/dispute", "buyer", {}), 422)
    _problem(_open(api, "API-NEVER-REGISTERED"), 404)
    assert api.w3.eth.get_transaction_count(BUYER) == nonce
    assert api.escrow.functions.tradeCount().call() == count
    _problem(api.client.get("/escrow/trades/9999"), 404)
    _problem(api.client.get("/escrow/trades/0"), 422)
    _problem(api.client.get("/escrow/trades", params={"state": "lost"}), 422)


def test_native_coin_trade_confirmed_by_the_buyer(api: Api) -> None:
    lot = "API-NATIVE-1"
    _batch(api, lot)
    opened = _open(api, lot, token="ETH", amount="2.25")
    assert opened.status_code == 201, opened.text
    assert opened.json()["funding"] == "native"
    trade_id = opened.json()["trade_id"]
    before = api.escrow.functions.withdrawable(SELLER, "0x" + "00" * 20).call()
    confirmed = api.post(f"/escrow/trades/{trade_id}/confirm", "buyer")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["released"] == "2.25" and confirmed.json()["fee"] == "0.01125"
    assert api.escrow.functions.withdrawable(SELLER, "0x" + "00" * 20).call() == before + 2_238_750_000_000_000_000
