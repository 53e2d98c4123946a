"""`trace escrow open` with trade terms: Incoterms rule and UN/LOCODE place, invoices converted at the local mock
feeds. Every bad input is one line on stderr and opens nothing."""

from __future__ import annotations

from typing import Any

from tests.cli.escrow_env import GTIN, Env, one_error_line
from trace_api.chain.accounts import dev_account

BUYER = dev_account("buyer").address
EUR_USD, CNY_USD = 108_000_000, 13_800_000  # the deploy's mock feeds, 8 decimals


def _open_args(lot: str, *extra: str) -> tuple[str, ...]:
    return (
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
        "--token",
        "USDC",
        *extra,
    )


def test_dap_shanghai_invoiced_in_cny(chain_env: Env) -> None:
    e, lot = chain_env, "TERMS-CNY-1"
    e.ok("batch", "register", "--gtin", GTIN, "--lot", lot, "--as", "seller")
    before = e.usdc.functions.balanceOf(BUYER).call()
    opened = e.ok(*_open_args(lot, "--invoice", "86250.00", "CNY", "--incoterm", "DAP", "--place", "CNSHA"))
    # 86,250.00 CNY at 0.138 USD = 11,902.50 USDC
    assert opened["amount_units"] == "11902500000"
    assert before - e.usdc.functions.balanceOf(BUYER).call() == 11_902_500_000
    assert opened["incoterm"] == "DAP" and opened["place"] == "CNSHA"
    assert opened["milestones"] == {"shipped_bps": 0, "delivered_bps": 10_000}
    invoice = opened["invoice"]
    round_id, answer, _, updated_at, _ = e.feeds["CNY/USD"].functions.latestRoundData().call()
    assert (
        invoice["amount"],
        invoice["currency"],
        invoice["rate"],
        invoice["rate_units"],
        invoice["rate_decimals"],
        invoice["round_id"],
    ) == ("86250.00", "CNY", "0.138", str(answer), 8, str(round_id))
    on_chain = e.escrow.functions.getTerms(opened["trade_id"]).call()
    assert tuple(on_chain) == (5, b"CNSHA", b"CNY", 8, updated_at, 8_625_000, 0, 0, CNY_USD, round_id)

    shown = e.ok("escrow", "show", str(opened["trade_id"]))
    assert (shown["incoterm"], shown["place"], shown["invoice"]) == ("DAP", "CNSHA", invoice)
    assert [m["name"] for m in shown["lines"][0]["milestones"]] == ["delivered"]
    assert shown["lines"][0]["batch"] == {"gtin": GTIN, "lot": lot}
    table = e.trace("escrow", "show", str(opened["trade_id"]))
    assert table.code == 0 and "DAP CNSHA, invoice 86250.00 CNY at 0.138 USDC/CNY" in table.stdout


def test_fob_with_port_pays_on_shipment_and_explicit_milestones_win(chain_env: Env) -> None:
    e, lot = chain_env, "TERMS-FOB-1"
    e.ok("batch", "register", "--gtin", GTIN, "--lot", lot, "--as", "seller")
    fob = e.ok(*_open_args(lot, "--amount", "100", "--incoterm", "fob", "--place", "cn sha", "--port"))
    assert fob["milestones"] == {"shipped_bps": 10_000, "delivered_bps": 0} and fob["invoice"] is None
    assert e.escrow.functions.getTrade(fob["trade_id"]).call()[2] == 10_000
    mixed = e.ok(
        *_open_args(
            lot, "--amount", "100", "--incoterm", "FCA", "--place", "DEHAM", "--milestones", "shipped=30,delivered=70"
        )
    )
    assert e.escrow.functions.getTrade(mixed["trade_id"]).call()[2] == 3_000
    e.ok("event", "add", GTIN, lot, "--step", "shipping", "--to", "buyer", "--as", "seller")
    paid = e.ok("escrow", "release", str(fob["trade_id"]))
    assert paid["released_units"] == "100000000" and paid["state"] == "paid"


def test_bad_terms_send_nothing(chain_env: Env) -> None:
    e, lot = chain_env, "TERMS-BAD-1"
    e.ok("batch", "register", "--gtin", GTIN, "--lot", lot, "--as", "seller")
    count, nonce = e.escrow.functions.tradeCount().call(), e.w3.eth.get_transaction_count(BUYER)
    cases = [
        (("--amount", "10", "--incoterm", "FOX", "--place", "CNSHA"), "unknown Incoterm 'FOX'"),
        (("--amount", "10", "--incoterm", "DAP", "--place", "CN-SHA"), "is not a UN/LOCODE"),
        (("--amount", "10", "--incoterm", "DAP", "--place", "QQSHA"), "QQ is not an ISO 3166-1 country"),
        (("--amount", "10", "--incoterm", "DAP"), "needs its named place"),
        (("--amount", "10", "--place", "CNSHA"), "give --incoterm too"),
        (("--amount", "10", "--incoterm", "FOB", "--place", "CHBSL"), "must be a port"),
        (("--invoice", "100", "GBP"), "no price feed converts GBP into USDC"),
        (("--invoice", "100", "EURO"), "unknown currency"),
        (("--invoice", "100.001", "EUR"), "more than 2 decimals"),
        (("--invoice", "100", "EUR", "--amount", "10"), "not both"),
        (("--invoice", "100", "EUR", "--max-slippage", "12%"), "between 0% and 10%"),
    ]
    for extra, message in cases:
        result = e.trace(*_open_args(lot, *extra))
        assert result.code == 1, (extra, result.stderr)
        assert message in one_error_line(result), result.stderr
    assert e.w3.eth.get_transaction_count(BUYER) == nonce
    assert e.escrow.functions.tradeCount().call() == count


def test_stale_feed_is_refused_by_name_and_opens_nothing(chain_env: Env) -> None:
    e, lot = chain_env, "TERMS-STALE-1"
    e.ok("batch", "register", "--gtin", GTIN, "--lot", lot, "--as", "seller")
    feed = e.feeds["EUR/USD"]
    now = e.w3.eth.get_block("latest")["timestamp"]
    e.transact(feed.functions.updateRoundData(EUR_USD, now - 26 * 3600))
    count, balance = e.escrow.functions.tradeCount().call(), e.usdc.functions.balanceOf(BUYER).call()
    try:
        result = e.trace(*_open_args(lot, "--invoice", "11500.00", "EUR"))
        assert result.code == 5, result.stderr  # a contract revert, decoded
        line = one_error_line(result)
        assert 'The "EUR" rate is stale' in line and "more than 25 h ago" in line, line
    finally:
        e.transact(feed.functions.updateAnswer(EUR_USD))
    assert e.escrow.functions.tradeCount().call() == count
    assert e.usdc.functions.balanceOf(BUYER).call() == balance
    opened = e.ok(*_open_args(lot, "--invoice", "11500.00", "EUR", "--max-slippage", "1%"))
    assert opened["amount_units"] == "12420000000"


def test_two_lines_each_settled_on_its_own(chain_env: Env, tmp_path: Any) -> None:
    e = chain_env
    for lot in ("TERMS-L1", "TERMS-L2"):
        e.ok("batch", "register", "--gtin", GTIN, "--lot", lot, "--as", "seller")
    opened = e.ok(
        "escrow",
        "open",
        "--seller",
        "seller",
        "--arbiter",
        "arbiter",
        "--token",
        "USDC",
        "--lot",
        f"{GTIN}/TERMS-L1=600",
        "--lot",
        f"{GTIN}/TERMS-L2=400",
        "--deliver-by",
        "10d",
    )
    first, second = opened["trade_ids"]
    assert opened["amount_units"] == "1000000000"
    assert [(x["lot"], x["amount"]) for x in opened["lines"]] == [("TERMS-L1", "600"), ("TERMS-L2", "400")]
    e.ok("event", "add", GTIN, "TERMS-L1", "--step", "shipping", "--to", "buyer", "--as", "seller")
    e.ok("event", "add", GTIN, "TERMS-L1", "--step", "receiving", "--as", "buyer")
    assert e.ok("escrow", "release", str(first))["released_units"] == "600000000"
    assert e.ok("escrow", "release", str(second))["released_units"] == "0"
    shown = e.ok("escrow", "show", str(second))
    assert [x["state"] for x in shown["lines"]] == ["paid", "open"]
    disputed = e.ok("escrow", "dispute", str(second), "--text", "lot 2 never left the roastery")
    assert disputed["state"] == "disputed"

    csv_file = tmp_path / "lines.csv"
    csv_file.write_text(f"gtin,lot,amount\n{GTIN},TERMS-L1,10\n{GTIN},TERMS-L2,5\n")
    count = e.escrow.functions.tradeCount().call()
    wrong = e.trace(
        "escrow",
        "open",
        "--seller",
        "seller",
        "--arbiter",
        "arbiter",
        "--token",
        "USDC",
        "--lines",
        str(csv_file),
        "--amount",
        "16",
    )
    assert wrong.code == 1 and "the lines add up to 15 USDC, not to the amount 16 USDC" in one_error_line(wrong)
    missing = e.trace(
        *(
            "escrow",
            "open",
            "--seller",
            "seller",
            "--arbiter",
            "arbiter",
            "--token",
            "USDC",
            "--lot",
            f"{GTIN}/TERMS-L1=1",
            "--lot",
            f"{GTIN}/TERMS-L2",
        )
    )
    assert missing.code == 1 and "GTIN/LOT=AMOUNT" in one_error_line(missing)
    assert e.escrow.functions.tradeCount().call() == count
    from_csv = e.ok(
        "escrow", "open", "--seller", "seller", "--arbiter", "arbiter", "--token", "USDC", "--lines", str(csv_file)
    )
    assert from_csv["amount_units"] == "15000000" and len(from_csv["trade_ids"]) == 2
