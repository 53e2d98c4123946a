"""A trade's files and statement over HTTP, on a real anvil: the dispute's reason and the files are listed with
who sent them and when; names, the reason and downloads are for the buyer, the seller and the arbiter only
(outsiders get problem+json 403, no key 401); statements as CSV and PDF; unknown trades are 404 problems."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.api.escrow_api import BUYER, PARTIES, SELLER, Api, serve
from tests.api.escrow_api import open_trade as _open
from tests.api.escrow_api import problem as _problem
from tests.api.escrow_api import register as _batch
from trace_api.chain.accounts import dev_account
from trace_api.index.store import get_engine

CLAIM = "half the sacks are missing"
BILL = b"%PDF-1.4 bill of lading MSCU7654321"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    outsider = ("producer", "Someone Else Ltd")
    yield from serve(tmp_path_factory.mktemp("trade-files-api"), (*PARTIES, outsider))


@pytest.fixture(scope="module")
def trade(api: Api) -> int:
    """A disputed trade with a bill of lading (seller), the buyer's reason, and the same photo from both."""
    _batch(api, "FILES-API")
    opened = _open(api, "FILES-API")
    assert opened.status_code == 201, opened.text
    trade_id: int = opened.json()["trade_id"]
    added = api.post(
        f"/escrow/trades/{trade_id}/documents",
        "seller",
        {"kind": "bill-of-lading", "name": "BL.pdf", "content_base64": base64.b64encode(BILL).decode()},
    )
    assert added.status_code == 201, added.text
    assert added.json()["evidence_sha256"] == "0x" + hashlib.sha256(BILL).hexdigest()
    assert api.post(f"/escrow/trades/{trade_id}/dispute", "buyer", {"text": CLAIM}).status_code == 200
    return trade_id


def test_parties_see_the_dispute_and_the_files(api: Api, trade: int) -> None:
    for who in ("buyer", "seller", "arbiter"):
        shown = api.client.get(f"/escrow/trades/{trade}", headers=api.keys[who]).json()
        assert shown["dispute"]["reason"] == CLAIM and shown["dispute"]["by"] == BUYER
        assert shown["dispute"]["by_name"] == "buyer" and shown["dispute"]["role"] == "buyer"
        assert [(f["kind"], f["name"], f["by"]) for f in shown["files"]] == [
            ("bill-of-lading", "BL.pdf", SELLER),
            ("reason", "reason.txt", BUYER),
        ]
        assert all(f["at"] and f["tx_hash"] and f["stored"] for f in shown["files"])


def test_a_file_whose_transaction_was_not_recorded_is_recovered_from_the_log(api: Api, trade: int) -> None:
    """Write-ahead: a crash between the transaction and the row's completion leaves a pending row; the next read
    completes it from the chain's log."""
    from sqlalchemy import update

    from trace_api.index import schema as t

    engine = get_engine(api.client.app.state.settings)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        assert conn.execute(update(t.trade_files).where(t.trade_files.c.trade_id == trade).values(tx_hash="")).rowcount
    shown = api.client.get(f"/escrow/trades/{trade}", headers=api.keys["arbiter"]).json()
    assert [f["name"] for f in shown["files"]] == ["BL.pdf", "reason.txt"] and shown["dispute"]["reason"] == CLAIM
    with engine.connect() as conn:
        recorded = conn.execute(t.trade_files.select().where(t.trade_files.c.trade_id == trade)).mappings().all()
    assert sorted(r["tx_hash"] for r in recorded) == sorted(f["tx_hash"] for f in shown["files"])


def test_outsiders_see_who_and_when_but_not_what(api: Api, trade: int) -> None:
    for headers in ({}, api.keys["producer"], {"Authorization": "Bearer trk_invalid"}):
        response = api.client.get(f"/escrow/trades/{trade}", headers=headers)
        assert response.status_code == 200
        assert CLAIM not in response.text and "BL.pdf" not in response.text
        shown = response.json()
        assert shown["dispute"]["reason"] is None and shown["dispute"]["by"] == BUYER
        assert [f["name"] for f in shown["files"]] == ["private document", "private document"]


def test_downloads_are_for_the_parties_and_the_arbiter_only(api: Api, trade: int) -> None:
    path = f"/escrow/trades/{trade}/files"
    _problem(api.client.get(f"{path}/1"), 401)
    forbidden = _problem(api.client.get(f"{path}/1", headers=api.keys["producer"]), 403)
    assert "buyer, seller and arbiter only" in forbidden["detail"]
    for who in ("buyer", "seller", "arbiter"):
        got = api.client.get(f"{path}/1", headers=api.keys[who])
        assert got.status_code == 200 and got.content == BILL
        assert got.headers["x-content-sha256"] == "0x" + hashlib.sha256(BILL).hexdigest()
        assert 'filename="BL.pdf"' in got.headers["content-disposition"]
    reason = api.client.get(f"{path}/0x{hashlib.sha256(CLAIM.encode()).hexdigest()}", headers=api.keys["arbiter"])
    assert reason.status_code == 200 and reason.text == CLAIM
    _problem(api.client.get(f"{path}/7", headers=api.keys["arbiter"]), 404)
    _problem(api.client.get(f"{path}/{'ab' * 32}", headers=api.keys["arbiter"]), 404)
    _problem(api.client.get("/escrow/trades/9999/files/1", headers=api.keys["arbiter"]), 404)
    _problem(api.client.get(f"{path}/not-a-ref", headers=api.keys["arbiter"]), 422)


def test_bad_documents_are_422_and_send_nothing(api: Api, trade: int) -> None:
    nonce = api.w3.eth.get_transaction_count(SELLER)
    path = f"/escrow/trades/{trade}/documents"
    good = base64.b64encode(b"packing list").decode()
    _problem(api.post(path, "seller", {"kind": "invoice", "name": "x.pdf", "content_base64": good}), 422)
    _problem(api.post(path, "seller", {"kind": "packing-list", "name": "x.pdf", "content_base64": "%%%"}), 422)
    _problem(api.client.post(path, json={"kind": "packing-list", "name": "x.pdf", "content_base64": good}), 401)
    arbiter = _problem(
        api.post(path, "arbiter", {"kind": "packing-list", "name": "x.pdf", "content_base64": good}), 409
    )
    assert arbiter["error"] == "EscrowNotParty"
    assert api.w3.eth.get_transaction_count(SELLER) == nonce
    assert len(api.client.get(f"/escrow/trades/{trade}").json()["files"]) == 2


def test_statement_csv_and_pdf(api: Api, trade: int) -> None:
    ruled = api.post(f"/escrow/trades/{trade}/resolve", "arbiter", {"seller_percent": 25})
    assert ruled.status_code == 200, ruled.text
    assert api.client.get(f"/escrow/trades/{trade}").json()["state"] == "resolved"
    response = api.client.get(f"/escrow/trades/{trade}/statement")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    totals = {r["movement"]: Decimal(r["amount"]) for r in rows if r["movement"].startswith("total ")}
    moves = [r for r in rows if not r["movement"].startswith("total ")]
    assert [r["movement"] for r in moves] == ["funded", "ruling to seller", "fee", "ruling to buyer"]
    assert moves[2]["to"] == dev_account("admin").address  # the fee recipient the FeeUpdated log names
    assert moves[0]["from"] == BUYER and moves[1]["to"] == SELLER and moves[3]["to"] == BUYER
    assert totals["total funded"] == Decimal("1250.5") == sum((Decimal(r["amount"]) for r in moves[1:]), Decimal(0))
    assert totals["total in escrow"] == 0
    pdf = api.client.get(f"/escrow/trades/{trade}/statement", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    by_accept = api.client.get(f"/escrow/trades/{trade}/statement", headers={"Accept": "application/pdf"})
    assert by_accept.content.startswith(b"%PDF-")
    missing = _problem(api.client.get("/escrow/trades/9999/statement"), 404)
    assert "no trade 9999" in missing["detail"]
    _problem(api.client.get(f"/escrow/trades/{trade}/statement", params={"format": "xlsx"}), 422)
