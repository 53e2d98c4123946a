"""POST /escrow/trades with trade terms over HTTP: Incoterms and place, invoices at the mock feeds, orders of
several lines as structured JSON. Bad input is a 4xx problem and opens nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.escrow_api import BUYER, GTIN, Api, serve
from tests.api.escrow_api import register as _batch


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    parties = (("buyer", "Shanghai Coffee Imports"), ("seller", "Rotterdam Roasters BV"))
    yield from serve(tmp_path_factory.mktemp("escrow-terms-api"), parties)


def _body(**extra: Any) -> dict[str, Any]:
    return {"seller": "seller", "arbiter": "arbiter", "token": "USDC", **extra}


def test_two_lines_dap_shanghai_invoiced_in_cny(api: Api) -> None:
    for lot in ("API-L1", "API-L2"):
        _batch(api, lot)
    before = api.usdc.functions.balanceOf(BUYER).call()
    opened = api.post(
        "/escrow/trades",
        "buyer",
        _body(
            lines=[
                {"gtin": GTIN, "lot": "API-L1", "amount": "50000.00"},
                {"gtin": GTIN, "lot": "API-L2", "amount": "36250.00"},
            ],
            invoice={"amount": "86250.00", "currency": "CNY", "max_slippage_bps": 50},
            terms={"incoterm": "DAP", "place": "CNSHA"},
        ),
    )
    assert opened.status_code == 201, opened.text
    body = opened.json()
    first, second = body["trade_ids"]
    assert second == first + 1
    # 50,000.00 and 36,250.00 CNY at 0.138 USD
    assert [line["amount_units"] for line in body["lines"]] == ["6900000000", "5002500000"]
    assert before - api.usdc.functions.balanceOf(BUYER).call() == 11_902_500_000

    shown = api.client.get(f"/escrow/trades/{second}").json()
    assert (shown["incoterm"], shown["place"]) == ("DAP", "CNSHA")
    assert shown["order"] == {"line": 2, "lines": 2, "trade_ids": [first, second]}
    assert shown["invoice"]["currency"] == "CNY" and shown["invoice"]["amount"] == "36250.00"
    assert [(x["trade_id"], x["batch"]["lot"], x["invoice_amount"], x["state"]) for x in shown["lines"]] == [
        (first, "API-L1", "50000.00", "open"),
        (second, "API-L2", "36250.00", "open"),
    ]


@pytest.mark.parametrize(
    "extra, status, detail",
    [
        (
            {"gtin": GTIN, "lot": "API-BAD", "amount": "10", "terms": {"incoterm": "FOX", "place": "CNSHA"}},
            422,
            "unknown Incoterm",
        ),
        (
            {"gtin": GTIN, "lot": "API-BAD", "amount": "10", "terms": {"incoterm": "DAP", "place": "CN1HA"}},
            422,
            "not a UN/LOCODE",
        ),
        (
            {"gtin": GTIN, "lot": "API-BAD", "amount": "10", "terms": {"incoterm": "CIF", "place": "DEMUC"}},
            422,
            "must be a port",
        ),
        ({"gtin": GTIN, "lot": "API-BAD", "invoice": {"amount": "10", "currency": "CHF"}}, 422, "no price feed"),
        (
            {
                "amount": "10",
                "lines": [
                    {"gtin": GTIN, "lot": "API-BAD", "amount": "4"},
                    {"gtin": GTIN, "lot": "API-BAD-2", "amount": "5"},
                ],
            },
            422,
            "add up to 9",
        ),
        ({"gtin": GTIN, "lot": "API-BAD"}, 422, "give the price"),
    ],
)
def test_bad_terms_are_4xx_and_open_nothing(api: Api, extra: dict[str, Any], status: int, detail: str) -> None:
    for lot in ("API-BAD", "API-BAD-2"):
        api.post("/batches", "seller", {"gtin": GTIN, "lot": lot})
    count, balance = api.escrow.functions.tradeCount().call(), api.usdc.functions.balanceOf(BUYER).call()
    response = api.post("/escrow/trades", "buyer", _body(**extra))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.text
    assert api.escrow.functions.tradeCount().call() == count
    assert api.usdc.functions.balanceOf(BUYER).call() == balance
