"""`trace escrow` disputes an arbiter can judge, trade documents, trade states and statements, on a real anvil:
files stored encrypted for the parties and the arbiter, listed with who sent them and when, downloadable by those
three only and checked against their hash on chain; statements reconciled to the token balances on chain."""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from tests.cli.escrow_env import GTIN, Env, one_error_line, register
from trace_api.chain.accounts import dev_account

BUYER, SELLER, ARBITER, ADMIN = (dev_account(n).address for n in ("buyer", "seller", "arbiter", "admin"))
CLAIM = "bags arrived wet and mouldy"


def _open(e: Env, lot: str, amount: str = "1000", *extra: str) -> str:
    register(e, lot)
    opened = e.ok(
        "escrow",
        "open",
        "--gtin",
        GTIN,
        "--lot",
        lot,
        "--seller",
        "seller",
        "--arbiter",
        "arbiter",
        "--amount",
        amount,
        "--token",
        "USDC",
        *extra,
    )
    return str(opened["trade_id"])


def _stored(e: Env) -> set[str]:
    folder = Path(e.env["TRACE_HOME"]) / "documents"
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()


def test_dispute_reason_evidence_and_documents_for_the_arbiter(chain_env: Env, tmp_path: Path) -> None:
    e = chain_env
    trade_id = _open(e, "FILES-1")
    bill = tmp_path / "BL-MSCU1234567.pdf"
    bill.write_bytes(b"%PDF-1.4 bill of lading MSCU1234567, 300 bags")
    e.ok("escrow", "doc", "add", trade_id, "--kind", "bill-of-lading", "--file", str(bill))  # seller by default
    e.ok("escrow", "dispute", trade_id, "--reason", CLAIM)  # buyer by default
    photo = tmp_path / "sack-17.jpg"
    photo.write_bytes(b"\xff\xd8 photo of a mouldy sack")
    e.ok("escrow", "evidence", trade_id, "--file", str(photo))
    e.ok("escrow", "evidence", trade_id, "--file", str(photo), "--as", "seller")  # the same file, from the seller

    shown = e.ok("escrow", "show", trade_id)
    assert shown["dispute"]["by"] == BUYER and shown["dispute"]["by_name"] == "buyer"
    assert shown["dispute"]["reason"] == CLAIM and shown["dispute"]["at"]
    files = shown["files"]
    assert [(f["kind"], f["name"], f["by_name"], f["role"]) for f in files] == [
        ("bill-of-lading", bill.name, "seller", "seller"),
        ("reason", "reason.txt", "buyer", "buyer"),
        ("evidence", photo.name, "buyer", "buyer"),
        ("evidence", photo.name, "seller", "seller"),
    ]
    photo_sha = "0x" + hashlib.sha256(photo.read_bytes()).hexdigest()
    assert files[2]["sha256"] == files[3]["sha256"] == photo_sha
    assert files[2]["tx_hash"] != files[3]["tx_hash"] and files[2]["block"] < files[3]["block"]  # who, and when
    human = e.trace("escrow", "show", trade_id)
    assert human.code == 0 and CLAIM in human.stdout and bill.name in human.stdout

    # Nothing readable is stored in the clear.
    for name in _stored(e):
        blob = (Path(e.env["TRACE_HOME"]) / "documents" / name).read_bytes()
        assert b"mouldy" not in blob and b"MSCU1234567" not in blob

    # An outsider sees that files exist, who sent them and when, but neither names nor the reason ...
    outside = e.ok("escrow", "show", trade_id, "--as", "producer")
    assert outside["dispute"]["reason"] is None and outside["dispute"]["by"] == BUYER
    assert {f["name"] for f in outside["files"]} == {"private document"}
    # ... and cannot download them.
    refused = e.trace("escrow", "doc", "get", trade_id, "1", "--out", str(tmp_path / "x"), "--as", "producer")
    assert refused.code == 1 and "buyer, seller and arbiter only" in one_error_line(refused)
    assert not (tmp_path / "x").exists()

    # The arbiter downloads each file, checked against its hash on chain.
    got = e.ok("escrow", "doc", "get", trade_id, "1", "--out", str(tmp_path / "bl.pdf"), "--as", "arbiter")
    assert (tmp_path / "bl.pdf").read_bytes() == bill.read_bytes() and got["verified"] is True
    e.ok("escrow", "doc", "get", trade_id, photo_sha[:12], "--out", str(tmp_path / "p.jpg"), "--as", "arbiter")
    assert (tmp_path / "p.jpg").read_bytes() == photo.read_bytes()
    e.ok("escrow", "doc", "get", trade_id, "2", "--out", str(tmp_path / "r.txt"), "--as", "seller")
    assert (tmp_path / "r.txt").read_text() == CLAIM
    listed = e.ok("escrow", "doc", "list", trade_id, "--as", "arbiter")
    assert len(listed["files"]) == 4 and listed["files"][0]["name"] == bill.name

    # A stored copy that no longer matches the chain is refused, not served.
    blob = Path(e.env["TRACE_HOME"]) / "documents" / photo_sha[2:]
    original = blob.read_bytes()
    blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    damaged = e.trace("escrow", "doc", "get", trade_id, "3", "--out", str(tmp_path / "d"), "--as", "arbiter")
    assert damaged.code == 6 and "does not read back as the file whose hash is on chain" in one_error_line(damaged)
    blob.write_bytes(original)

    # Bad input: one line, nothing sent, nothing stored.
    before, nonce = _stored(e), e.nonce(SELLER)
    for args, words in (
        (("--kind", "invoice", "--file", str(bill)), "unknown document kind 'invoice'"),
        (("--kind", "packing-list", "--file", str(tmp_path / "missing.pdf")), "missing.pdf"),
    ):
        bad = e.trace("escrow", "doc", "add", trade_id, *args)
        assert bad.code in (1, 2) and words in bad.stderr
    unknown = e.trace("escrow", "doc", "add", "9999", "--kind", "packing-list", "--file", str(bill))
    assert unknown.code == 1 and "no trade 9999" in one_error_line(unknown)
    assert e.nonce(SELLER) == nonce
    missing = e.trace("escrow", "doc", "get", trade_id, "9", "--as", "arbiter")
    assert missing.code == 1 and "no number 9" in one_error_line(missing)

    e.ok("escrow", "resolve", trade_id, "--seller-share", "40%")
    new = tmp_path / "late.pdf"
    new.write_bytes(b"a packing list sent after the ruling")
    late = e.trace("escrow", "doc", "add", trade_id, "--kind", "packing-list", "--file", str(new))
    assert late.code == 5 and "closed" in one_error_line(late)
    assert e.nonce(SELLER) == nonce and _stored(e) == before  # the refused file was not kept
    assert len(e.ok("escrow", "doc", "list", trade_id)["files"]) == 4


def test_closed_trades_say_how_they_ended(chain_env: Env) -> None:
    e = chain_env
    paid = _open(e, "STATE-PAID", "5")
    e.ok("escrow", "confirm", paid)
    refunded = _open(e, "STATE-REFUND", "5", "--deliver-by", "1d", "--milestones", "shipped:3000,delivered:7000")
    e.time_travel(2 * 86_400)
    e.ok("escrow", "refund", refunded)
    resolved = _open(e, "STATE-RULED", "5")
    e.ok("escrow", "dispute", resolved, "--reason", "never arrived")
    e.ok("escrow", "resolve", resolved, "--seller-share", "0%")

    states = {t["trade_id"]: t["state"] for t in e.ok("escrow", "list", "--account", "buyer")}
    assert (states[int(paid)], states[int(refunded)], states[int(resolved)]) == ("paid", "refunded", "resolved")
    for state, trade_id in (("paid", paid), ("refunded", refunded), ("resolved", resolved)):
        assert [t["trade_id"] for t in e.ok("escrow", "list", "--state", state)][0] == int(trade_id)
        assert int(trade_id) in [t["trade_id"] for t in e.ok("escrow", "list", "--state", "closed")]
        human = e.trace("escrow", "show", trade_id)
        assert human.code == 0 and state.upper() in human.stdout and "pending" not in human.stdout
        released = e.ok("escrow", "release", trade_id) if state != "paid" else None
        assert released is None or released["tx_hash"] is None
    shown = e.ok("escrow", "show", refunded)
    assert [m["status"] for m in shown["milestones"]] == ["refunded to the buyer", "refunded to the buyer"]
    assert [m["status"] for m in e.ok("escrow", "show", resolved)["milestones"]] == ["settled by the ruling"]
    bad = e.trace("escrow", "list", "--state", "finished")
    assert bad.code == 1 and "paid, refunded, resolved" in one_error_line(bad)


def _rows(path: Path) -> tuple[list[dict[str, str]], dict[str, Decimal]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    data = [r for r in rows if not r["movement"].startswith("total ")]
    totals = {
        r["movement"].removeprefix("total "): Decimal(r["amount"]) for r in rows if r["movement"].startswith("total ")
    }
    return data, totals


def test_statement_reconciles_to_the_token_movements_on_chain(chain_env: Env, tmp_path: Path) -> None:
    e = chain_env
    usdc = e.usdc.functions
    for who in ("seller", "buyer"):  # start from empty escrow credits, so withdrawals are this trade's
        if e.escrow.functions.withdrawable(dev_account(who).address, e.usdc.address).call():
            e.ok("escrow", "withdraw", "USDC", "--as", who)
    wallets = {a: usdc.balanceOf(a).call() for a in (BUYER, SELLER)}
    vault = usdc.balanceOf(e.escrow.address).call()

    lot = "STATEMENT-1"
    trade_id = _open(e, lot, "1250.50", "--milestones", "shipped:3000,delivered:7000")
    e.ok("event", "add", GTIN, lot, "--step", "shipping", "--to", "buyer", "--as", "seller")
    e.ok("escrow", "release", trade_id)
    e.ok("escrow", "dispute", trade_id, "--reason", "half the sacks are missing")
    e.ok("escrow", "resolve", trade_id, "--seller-share", "70%")
    e.ok("escrow", "withdraw", "USDC", "--as", "seller")
    e.ok("escrow", "withdraw", "USDC", "--as", "buyer")

    out = tmp_path / "statement.csv"
    written = e.ok("escrow", "statement", trade_id, "--format", "csv", "--out", str(out))
    assert written["out"] == str(out)
    data, totals = _rows(out)
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in data:
        sums[row["movement"]] += Decimal(row["amount"])
        assert row["block"] and row["time"].endswith("Z") and row["tx_hash"].startswith("0x")
        assert e.w3.eth.get_transaction_receipt(row["tx_hash"])["blockNumber"] == int(row["block"])
    assert [r["movement"] for r in data] == [
        "funded",
        "released",
        "fee",
        "ruling to seller",
        "fee",
        "ruling to buyer",
        "withdrawal",
        "withdrawal",
    ]
    assert data[1]["milestone"] == "shipped" and data[3]["milestone"] == "by the arbiter"
    for movement in ("funded", "released", "fee", "ruling to seller", "ruling to buyer"):
        assert totals[movement] == sums[movement], movement
    assert totals["in escrow"] == 0
    assert (
        totals["funded"] == totals["released"] + totals["fee"] + totals["ruling to seller"] + totals["ruling to buyer"]
    )

    # The chain's token balances moved by exactly these amounts.
    units = lambda value: int(value * 10**6)  # noqa: E731 - USDC has 6 decimals
    withdrawn = {r["to"].lower(): units(Decimal(r["amount"])) for r in data if r["movement"] == "withdrawal"}
    assert usdc.balanceOf(BUYER).call() - wallets[BUYER] == -units(totals["funded"]) + units(totals["ruling to buyer"])
    assert withdrawn[BUYER.lower()] == units(totals["ruling to buyer"])
    assert usdc.balanceOf(SELLER).call() - wallets[SELLER] == units(totals["released"] + totals["ruling to seller"])
    assert withdrawn[SELLER.lower()] == units(totals["released"] + totals["ruling to seller"])
    assert usdc.balanceOf(e.escrow.address).call() - vault == units(totals["fee"])  # the fee waits for the admin
    assert all(r["invoice_currency"] == "" for r in data)  # no invoice currency on this trade

    pdf = tmp_path / "statement.pdf"
    e.ok("escrow", "statement", trade_id, "--format", "pdf", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF-")
    stdout = e.trace("escrow", "statement", trade_id)
    assert stdout.code == 0 and stdout.stdout.splitlines()[0].startswith("trade_id,block,time,tx_hash")

    unknown = e.trace("escrow", "statement", "9999")
    assert unknown.code == 1 and "no trade 9999" in one_error_line(unknown)
    bad = e.trace("escrow", "statement", trade_id, "--format", "xlsx")
    assert bad.code == 1 and "unknown statement format 'xlsx'" in one_error_line(bad)
