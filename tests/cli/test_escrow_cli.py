"""`trace escrow`: the real command against a real anvil, checked against balances and states read from the chain."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.cli.escrow_env import ADMIN, GTIN, Env, one_error_line, register
from trace_api.chain.accounts import dev_account

BUYER, SELLER = (dev_account(n).address for n in ("buyer", "seller"))
NATIVE = "0x" + "00" * 20
FEE_BPS = 50


def _fee(amount: int) -> int:
    return amount * FEE_BPS // 10_000


def test_story_permit_milestones_release_and_withdraw(chain_env: Env) -> None:
    e, lot = chain_env, "STORY-1"
    register(e, lot)
    buyer_usdc, buyer_nonce = e.usdc.functions.balanceOf(BUYER).call(), e.nonce(BUYER)

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
        "1250.50",
        "--token",
        "USDC",
        "--milestones",
        "shipped:3000,delivered:7000",
    )
    trade_id = opened["trade_id"]
    assert opened["funding"] == "permit"
    assert len(opened["tx_hashes"]) == 1 and e.nonce(BUYER) == buyer_nonce + 1  # permit: one tx, no approve
    assert opened["amount_units"] == "1250500000" and opened["amount"] == "1250.5"
    assert e.usdc.functions.balanceOf(BUYER).call() == buyer_usdc - 1_250_500_000
    assert e.usdc.functions.allowance(BUYER, e.escrow.address).call() == 0  # the permit was spent exactly
    assert e.escrow.functions.getTrade(trade_id).call()[7] == 1  # Open

    # Nothing shipped yet: nothing due, nothing sent.
    seller_nonce = e.nonce(SELLER)
    idle = e.ok("escrow", "release", str(trade_id))
    assert idle["tx_hash"] is None and idle["released_units"] == "0"
    assert e.nonce(SELLER) == seller_nonce

    e.ok("event", "add", GTIN, lot, "--step", "shipping", "--to", "buyer", "--as", "seller")
    shown = e.ok("escrow", "show", str(trade_id))
    assert shown["releasable_now_units"] == "375150000"
    first = e.ok("escrow", "release", str(trade_id))
    assert [m["name"] for m in first["milestones"]] == ["shipped"]
    assert first["released_units"] == "375150000" and first["state"] == "open"

    e.ok("event", "add", GTIN, lot, "--step", "receiving", "--as", "buyer")
    second = e.ok("escrow", "release", str(trade_id))
    assert [m["name"] for m in second["milestones"]] == ["delivered"]
    assert second["released_units"] == "875350000" and second["state"] == "paid"

    shown = e.ok("escrow", "show", str(trade_id))
    assert shown["state"] == "paid" and shown["released_units"] == shown["amount_units"]
    assert [m["status"] for m in shown["milestones"]] == ["paid", "paid"]
    assert [m["paid"] for m in shown["milestones"]] == [True, True]
    assert shown["in_escrow_units"] == "0" and shown["refunded_to_buyer"] == "0"

    fee = _fee(375_150_000) + _fee(875_350_000)
    seller_usdc = e.usdc.functions.balanceOf(SELLER).call()
    paid = e.ok("escrow", "withdraw", "USDC")  # signs as seller by default
    assert paid["withdrawals"][0]["amount_units"] == str(1_250_500_000 - fee)
    assert e.usdc.functions.balanceOf(SELLER).call() == seller_usdc + 1_250_500_000 - fee
    assert e.escrow.functions.withdrawable(SELLER, e.usdc.address).call() == 0
    assert e.escrow.functions.withdrawable(ADMIN, e.usdc.address).call() >= fee  # the platform's fee


def test_bad_input_sends_nothing(chain_env: Env) -> None:
    e, lot = chain_env, "BAD-INPUT-1"
    register(e, lot)
    count, nonce = e.escrow.functions.tradeCount().call(), e.nonce(BUYER)
    base = ("escrow", "open", "--gtin", GTIN, "--lot", lot, "--seller", "seller", "--arbiter", "arbiter")
    cases = [
        (("--amount", "1250.5000001", "--token", "USDC"), "more than 6 decimals"),
        (("--amount", "2000000", "--token", "USDC"), "needs 2000000 USDC"),
        (("--amount", "10", "--token", "USDC", "--deliver-by", "2020-01-01"), "not in the future"),
        (("--amount", "10", "--token", "USDC", "--milestones", "shipped:3000,delivered:6000"), "add up to 10000"),
        (("--amount", "10", "--token", "DOGE"), "unknown token"),
        (("--amount", "10", "--token", "USDC", "--arbiter", "seller"), "arbiter must be"),
    ]
    for extra, message in cases:
        result = e.trace(*base, *extra)
        assert result.code == 1, (extra, result.stderr)
        assert message in one_error_line(result), result.stderr
    unknown = e.trace(
        "escrow",
        "open",
        "--gtin",
        GTIN,
        "--lot",
        "NEVER-REGISTERED",
        "--seller",
        "seller",
        "--arbiter",
        "arbiter",
        "--amount",
        "10",
        "--token",
        "USDC",
    )
    assert unknown.code == 1 and "not registered" in one_error_line(unknown)
    assert e.nonce(BUYER) == nonce
    assert e.escrow.functions.tradeCount().call() == count


def test_native_coin_refund_after_deadline(chain_env: Env) -> None:
    e, lot = chain_env, "NATIVE-1"
    register(e, lot)
    escrow_eth = e.w3.eth.get_balance(e.escrow.address)
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
        "1.5",
        "--token",
        "ETH",
        "--deliver-by",
        "2d",
    )
    trade_id = opened["trade_id"]
    assert opened["funding"] == "native" and opened["token"]["symbol"] == "ETH"
    assert opened["amount_units"] == str(15 * 10**17)
    assert e.w3.eth.get_balance(e.escrow.address) == escrow_eth + 15 * 10**17

    early = e.trace("escrow", "refund", str(trade_id))
    assert early.code == 5
    assert "can be refunded only after its delivery deadline" in one_error_line(early)

    e.time_travel(3 * 86_400)
    shown = e.ok("escrow", "show", str(trade_id))
    assert shown["overdue"] is True and shown["refundable_now"] is True
    refunded = e.ok("escrow", "refund", str(trade_id))
    assert refunded["refunded"] == "1.5" and refunded["state"] == "refunded"
    assert refunded["released_to_seller"] == "0"  # nothing was shipped, so no milestone was earned
    assert e.escrow.functions.withdrawable(BUYER, NATIVE).call() == 15 * 10**17

    before = e.w3.eth.get_balance(BUYER)
    paid = e.ok("escrow", "withdraw", "ETH", "--as", "buyer")
    receipt = e.w3.eth.get_transaction_receipt(paid["withdrawals"][0]["tx_hash"])
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert e.w3.eth.get_balance(BUYER) == before + 15 * 10**17 - gas_cost
    assert e.escrow.functions.getTrade(trade_id).call()[7] == 3  # Closed


def test_dispute_then_resolve_70_30(chain_env: Env, tmp_path: Path) -> None:
    e, lot = chain_env, "DISPUTE-1"
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
        "1000",
        "--token",
        "USDC",
    )
    trade_id = str(opened["trade_id"])
    claim = "the beans arrived mouldy"
    disputed = e.ok("escrow", "dispute", trade_id, "--reason", claim)
    assert disputed["state"] == "disputed"
    assert disputed["evidence_sha256"] == "0x" + hashlib.sha256(claim.encode()).hexdigest()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg")
    evidence = e.ok("escrow", "evidence", trade_id, "--file", str(photo), "--as", "seller")
    assert evidence["evidence_sha256"] == "0x" + hashlib.sha256(photo.read_bytes()).hexdigest()

    # Decoded reverts: exit 5, one line naming the custom error, nothing sent.
    seller_nonce = e.nonce(SELLER)
    frozen = e.trace("escrow", "release", trade_id)
    assert frozen.code == 5
    assert "is disputed, not open" in one_error_line(frozen)
    not_arbiter = e.trace("escrow", "resolve", trade_id, "--seller-share", "70%", "--as", "seller")
    assert not_arbiter.code == 5 and "Only the arbiter of trade" in one_error_line(not_arbiter)
    assert e.nonce(SELLER) == seller_nonce

    seller_before = e.escrow.functions.withdrawable(SELLER, e.usdc.address).call()
    buyer_before = e.escrow.functions.withdrawable(BUYER, e.usdc.address).call()
    ruled = e.ok("escrow", "resolve", trade_id, "--seller-share", "70%")  # signs as arbiter by default
    assert (ruled["to_seller"], ruled["to_buyer"], ruled["fee"]) == ("700", "300", "3.5")
    assert ruled["seller_bps"] == 7000 and ruled["by_timeout"] is False
    assert e.escrow.functions.withdrawable(SELLER, e.usdc.address).call() == seller_before + 696_500_000
    assert e.escrow.functions.withdrawable(BUYER, e.usdc.address).call() == buyer_before + 300_000_000
    assert e.escrow.functions.getTrade(int(trade_id)).call()[7] == 3  # Closed


def test_json_shapes_of_show_and_list(chain_env: Env) -> None:
    e, lot = chain_env, "SHAPE-1"
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
        "99.99",
        "--token",
        "EURC",
        "--no-permit",
    )
    assert opened["funding"] == "approve" and len(opened["tx_hashes"]) == 2
    trade_id = opened["trade_id"]
    shown = e.ok("escrow", "show", str(trade_id))
    assert {
        "trade_id",
        "state",
        "buyer",
        "seller",
        "arbiter",
        "token",
        "amount",
        "released",
        "in_escrow",
        "milestones",
        "releasable_now",
        "deliver_by",
        "batch",
        "fee_bps",
    } <= shown.keys()
    assert shown["batch"] == {"gtin": GTIN, "lot": lot}
    assert shown["token"]["symbol"] == "EURC" and shown["token"]["decimals"] == 6
    assert shown["milestones"] == [
        {
            "name": "delivered",
            "bps": 10_000,
            "amount": "99.99",
            "condition_met": False,
            "met_at": None,
            "paid": False,
            "status": "pending",
        }
    ]
    listed = e.ok("escrow", "list", "--account", "buyer", "--state", "open")
    assert isinstance(listed, list) and listed[0]["trade_id"] == trade_id  # newest first
    assert all(t["state"] == "open" and t["buyer"] == BUYER for t in listed)
    assert e.ok("escrow", "list", "--account", "retailer") == []
    missing = e.trace("escrow", "show", "9999")
    assert missing.code == 1 and "no trade 9999" in one_error_line(missing)
    human = e.trace("escrow", "show", str(trade_id))
    assert human.code == 0 and "99.99 EURC" in human.stdout


def test_carrier_delivery_pays_after_the_dispute_window(chain_env: Env) -> None:
    e, lot = chain_env, "WINDOW-1"
    register(e, lot)
    buyer_nonce = e.nonce(BUYER)
    too_long = e.trace(
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
        "10",
        "--token",
        "USDC",
        "--dispute-window",
        "31d",
    )
    assert too_long.code != 0 and "dispute window 31d" in one_error_line(too_long)
    for short in ("0", "23h"):  # a carrier's word alone would pay the seller
        refused = e.trace(
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
            "10",
            "--token",
            "USDC",
            "--dispute-window",
            short,
        )
        assert refused.code == 1 and f"dispute window {short}: must be between 1 and 30 days" in one_error_line(refused)
    assert e.nonce(BUYER) == buyer_nonce  # nothing sent

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
        "10",
        "--token",
        "USDC",
        "--dispute-window",
        "1d",
    )
    trade_id = str(opened["trade_id"])
    assert opened["dispute_window_s"] == 86_400 and opened["warnings"] == []
    e.ok("event", "add", GTIN, lot, "--step", "shipping", "--to", "buyer", "--as", "seller")
    e.ok("event", "add", GTIN, lot, "--step", "arriving", "--as", "carrier")  # not the buyer's own receipt

    shown = e.ok("escrow", "show", trade_id)
    assert shown["state"] == "open" and shown["dispute_window_s"] == 86_400 and shown["received_by_buyer_at"] is None
    assert shown["delivered_at"] is not None
    [milestone] = shown["milestones"]
    assert milestone["condition_met"] is False and milestone["met_at"] is not None  # due a day after delivery
    assert shown["releasable_now_units"] == "0" and shown["refundable_now"] is False
    early = e.ok("escrow", "release", trade_id)
    assert early["tx_hash"] is None and early["released_units"] == "0"
    # release tells the story show tells: due at the end of the window, not "nothing due"
    assert milestone["status"] == f"due {milestone['met_at']}"
    assert early["due_at"] == milestone["met_at"] and f"is due {milestone['met_at']}" in early["note"]
    human = e.trace("escrow", "release", trade_id)
    assert human.code == 0 and f"due {milestone['met_at']}" in human.stdout

    e.time_travel(86_400)
    paid = e.ok("escrow", "release", trade_id)
    assert paid["released_units"] == "10000000" and paid["state"] == "paid"


def test_open_warns_when_the_buyer_already_holds_the_batch(chain_env: Env) -> None:
    e, lot = chain_env, "HELD-1"
    register(e, lot)
    e.ok("event", "add", GTIN, lot, "--step", "shipping", "--to", "buyer", "--as", "seller")
    e.ok("event", "add", GTIN, lot, "--step", "receiving", "--as", "buyer")
    e.time_travel(60)
    opened = e.trace(
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
        "10",
        "--token",
        "USDC",
        "--milestones",
        "shipped:3000,delivered:7000",
        "--json",
    )
    assert opened.code == 0, opened.stderr
    [warning] = opened.stderr.strip().splitlines()
    assert warning.startswith("trace: warning: ") and "already in the buyer's custody" in warning
    trade_id = str(json.loads(opened.stdout)["trade_id"])

    # the receipt before the trade pays nothing, and show says so instead of promising it
    shown = e.ok("escrow", "show", trade_id)
    assert shown["shipped_by_seller"] is False and shown["delivered_at"] is None
    assert [m["condition_met"] for m in shown["milestones"]] == [False, False]
    assert shown["releasable_now_units"] == "0"
    idle = e.ok("escrow", "release", trade_id)
    assert idle["tx_hash"] is None

    # once the buyer has shipped it on, the warning says the delivery does not pay this trade either
    e.ok("role", "grant", "retailer", "buyer")  # a buyer that sells on ships with a role
    e.ok("event", "add", GTIN, lot, "--step", "shipping", "--to", "seller", "--as", "buyer")
    e.ok("event", "add", GTIN, lot, "--step", "arriving", "--as", "carrier")
    again = e.trace(
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
        "10",
        "--token",
        "USDC",
    )
    assert again.code == 0 and "was already delivered to the buyer" in again.stderr
