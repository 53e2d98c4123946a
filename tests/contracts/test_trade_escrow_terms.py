"""TradeEscrow trade terms: Incoterms 2020 rules and their default schedules, UN/LOCODE places, invoices in another
currency converted at a price feed's round (stale and slipped rounds refused by custom error)."""

from types import SimpleNamespace

import pytest
from brownie import accounts, chain
from escrow_helpers import (
    BPS,
    DAY,
    NATIVE,
    Incoterm,
    Milestone,
    State,
    batch_id,
    latest_timestamp,
    reverts,
    terms,
)

USD = 10**6
PRICE = 10_000 * USD
BATCH = batch_id("LOT-T")
BATCH_2 = batch_id("LOT-T2")
ZERO_BATCH = b"\0" * 32
EUR, CNY = b"EUR", b"CNY"
EUR_USD = 108_000_000  # 1.08 USD per EUR, 8 decimals as Chainlink's fiat feeds
MAX_AGE = 3600
NO_INVOICE = (0, b"\0" * 3, 0, 0)

F_AND_C = [
    Incoterm.EXW,
    Incoterm.FCA,
    Incoterm.CPT,
    Incoterm.CIP,
    Incoterm.FAS,
    Incoterm.FOB,
    Incoterm.CFR,
    Incoterm.CIF,
]
D_RULES = [Incoterm.DAP, Incoterm.DPU, Incoterm.DDP]


@pytest.fixture(scope="module")
def env(module_isolation, TradeEscrow, MockTraceRegistry, EscrowTestToken, MockV3Aggregator):
    admin, buyer, seller, arbiter, treasury = accounts[:5]
    registry = MockTraceRegistry.deploy({"from": admin})
    registry.setExists(BATCH, True, {"from": admin})
    registry.setExists(BATCH_2, True, {"from": admin})
    escrow = TradeEscrow.deploy(admin, registry, 100, treasury, {"from": admin})
    usdc = EscrowTestToken.deploy("Test USD", "tUSD", 6, {"from": admin})
    escrow.setTokenAllowed(usdc, True, {"from": admin})
    usdc.mint(buyer, 10**9 * USD, {"from": admin})
    usdc.approve(escrow, 2**256 - 1, {"from": buyer})
    feed = MockV3Aggregator.deploy(8, "EUR / USD", EUR_USD, {"from": admin})
    escrow.setPriceFeed(EUR, usdc, feed, MAX_AGE, 2, {"from": admin})
    return SimpleNamespace(
        admin=admin, buyer=buyer, seller=seller, arbiter=arbiter, registry=registry, escrow=escrow, usdc=usdc, feed=feed
    )


@pytest.fixture(autouse=True)
def isolate(env, fn_isolation):
    pass


def params(
    env,
    *,
    amount=PRICE,
    incoterm=Incoterm.NONE,
    place="",
    invoice=NO_INVOICE,
    shipped_bps=0,
    delivered_bps=0,
    token=None,
    batch=BATCH,
    lines=(),
    deliver_in=30 * DAY,
):
    return terms(
        env.seller,
        env.arbiter,
        token or env.usdc,
        batch,
        amount,
        latest_timestamp() + deliver_in,
        shipped_bps=shipped_bps,
        delivered_bps=delivered_bps,
        incoterm=incoterm,
        place=place,
        invoice=invoice,
        lines=lines,
    )


def open_(env, **kwargs):
    return env.escrow.open(params(env, **kwargs), {"from": env.buyer})


def eur_invoice(cents, quoted=EUR_USD, slippage_bps=50):
    return (cents, EUR, quoted, slippage_bps)


def ship(env, batch=BATCH):
    env.registry.setShipped(batch, env.seller, env.buyer, latest_timestamp(), {"from": env.admin})


def receive(env, batch=BATCH):
    env.registry.setReceived(batch, env.buyer, latest_timestamp(), {"from": env.admin})


# ---------------------------------------------------------------- Incoterms


@pytest.mark.parametrize("rule", F_AND_C)
def test_f_c_and_exw_rules_pay_everything_on_the_sellers_shipment(env, rule):
    tx = open_(env, incoterm=rule, place="NLRTM")
    trade_id = tx.return_value
    assert env.escrow.getTrade(trade_id).dict()["shippedBps"] == BPS
    ship(env)
    paid = env.escrow.release(trade_id, {"from": env.seller})
    assert paid.return_value == PRICE
    assert [int(e["milestone"]) for e in paid.events["MilestoneReleased"]] == [Milestone.SHIPPED]
    assert env.escrow.getTrade(trade_id).dict()["state"] == State.CLOSED


@pytest.mark.parametrize("rule", D_RULES)
def test_d_rules_pay_everything_on_delivery(env, rule):
    trade_id = open_(env, incoterm=rule, place="CNSHA").return_value
    assert env.escrow.getTrade(trade_id).dict()["shippedBps"] == 0
    ship(env)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == 0
    receive(env)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == PRICE
    assert env.escrow.getTrade(trade_id).dict()["state"] == State.CLOSED


def test_rule_and_place_are_recorded_in_terms_and_event(env):
    tx = open_(env, incoterm=Incoterm.FOB, place="CNSHA")
    terms_ = env.escrow.getTerms(tx.return_value).dict()
    assert terms_["incoterm"] == Incoterm.FOB and bytes(terms_["place"]) == b"CNSHA"
    assert bytes(terms_["currency"]) == b"\0" * 3 and terms_["rate"] == 0 and terms_["invoiceAmount"] == 0
    (event,) = tx.events["TradeTermsRecorded"]
    assert event["tradeId"] == tx.return_value
    assert list(event["terms"]) == [Incoterm.FOB, "0x" + b"CNSHA".hex(), "0x000000", 0, 0, 0, 0, 0, 0, 0]


def test_explicit_schedule_wins_over_the_rules_default(env):
    trade_id = open_(env, incoterm=Incoterm.FOB, place="CNSHA", shipped_bps=3000, delivered_bps=7000).return_value
    assert env.escrow.getTrade(trade_id).dict()["shippedBps"] == 3000
    ship(env)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == PRICE * 3000 // BPS


def test_a_plain_trade_records_no_terms(env):
    tx = open_(env)
    assert "TradeTermsRecorded" not in tx.events
    assert env.escrow.getTerms(tx.return_value).dict()["incoterm"] == Incoterm.NONE
    assert env.escrow.getTrade(tx.return_value).dict()["shippedBps"] == 0  # all on delivery, as before


@pytest.mark.parametrize("place", ["", "cnsha", "C1SHA", "CNSH1", "CNSH0", "CN SH", "CNSH"])
def test_open_rejects_a_place_that_is_not_a_locode(env, place):
    with reverts("EscrowInvalidPlace"):
        open_(env, incoterm=Incoterm.DAP, place=place)


def test_locode_may_use_digits_2_to_9_after_the_country(env):
    assert open_(env, incoterm=Incoterm.FCA, place="DEX29").return_value == 1


def test_open_rejects_a_place_without_a_rule(env):
    with reverts("EscrowInvalidPlace"):
        open_(env, place="CNSHA")


def test_open_rejects_an_unknown_rule(env):
    # The ABI decoder refuses an enum value out of range before any code runs.
    with reverts(""):
        env.escrow.open(params(env, incoterm=12, place="CNSHA"), {"from": env.buyer})
    assert env.escrow.tradeCount() == 0


# ---------------------------------------------------------------- invoices


def test_invoice_is_converted_at_the_feed_rate_and_recorded(env):
    before = env.usdc.balanceOf(env.buyer)
    tx = open_(env, amount=0, incoterm=Incoterm.DAP, place="CNSHA", invoice=eur_invoice(1_150_000))
    trade_id = tx.return_value
    expected = 1_150_000 * EUR_USD * USD // 10**10  # 11,500.00 EUR at 1.08 = 12,420 USD
    assert expected == 12_420 * USD
    assert env.escrow.getTrade(trade_id).dict()["amount"] == expected
    assert before - env.usdc.balanceOf(env.buyer) == expected
    assert tx.events["TradeOpened"]["amount"] == expected
    recorded = env.escrow.getTerms(trade_id).dict()
    round_id, _, _, updated_at, _ = env.feed.latestRoundData()
    assert (
        bytes(recorded["currency"]),
        recorded["invoiceAmount"],
        recorded["rate"],
        recorded["rateDecimals"],
        recorded["roundId"],
        recorded["roundTime"],
    ) == (EUR, 1_150_000, EUR_USD, 8, round_id, updated_at)
    event = tx.events["TradeTermsRecorded"]["terms"]
    assert (event[5], event[2], event[8], event[9], event[4]) == (
        1_150_000,
        "0x" + EUR.hex(),
        EUR_USD,
        round_id,
        updated_at,
    )


def test_quote_matches_what_open_takes(env):
    amount, rate, round_id, updated_at = env.escrow.quote(EUR, env.usdc, 1_150_000)
    assert (amount, rate) == (12_420 * USD, EUR_USD)
    opened = open_(env, amount=0, invoice=eur_invoice(1_150_000))
    assert env.escrow.getTrade(opened.return_value).dict()["amount"] == amount


def test_conversion_rounds_down(env):
    env.feed.updateAnswer(108_333_333, {"from": env.admin})
    tx = open_(env, amount=0, invoice=eur_invoice(1, quoted=108_333_333))  # one cent
    assert env.escrow.getTrade(tx.return_value).dict()["amount"] == 10_833  # 0.0108333 USD, floored


def test_stale_round_is_refused_at_max_age_plus_one(env):
    now = latest_timestamp()
    env.feed.updateRoundData(EUR_USD, now - MAX_AGE - 1, {"from": env.admin})  # mined at now + 1
    round_id = env.feed.latestRoundData()[0]
    with reverts("EscrowStaleRate", EUR, round_id, now - MAX_AGE - 1, MAX_AGE):
        open_(env, amount=0, invoice=eur_invoice(1_150_000))
    assert env.escrow.tradeCount() == 0


def test_round_exactly_max_age_old_is_accepted(env):
    now = latest_timestamp()
    # The open is mined two blocks later (one second apart each): updatedAt + MAX_AGE == its timestamp.
    env.feed.updateRoundData(EUR_USD, now + 2 - MAX_AGE, {"from": env.admin})
    assert open_(env, amount=0, invoice=eur_invoice(100)).return_value == 1


def test_round_from_the_future_is_refused(env):
    env.feed.updateRoundData(EUR_USD, latest_timestamp() + 3600, {"from": env.admin})
    with reverts("EscrowStaleRate"):
        open_(env, amount=0, invoice=eur_invoice(100))


@pytest.mark.parametrize(
    "moved, ok", [(108_540_000, True), (108_540_001, False), (107_460_000, True), (107_459_999, False)]
)
def test_rate_slipped_beyond_the_buyers_tolerance_is_refused(env, moved, ok):
    env.feed.updateAnswer(moved, {"from": env.admin})
    if ok:  # 0.5% of 1.08 is exactly 0.0054
        assert open_(env, amount=0, invoice=eur_invoice(100, slippage_bps=50)).return_value == 1
    else:
        with reverts("EscrowRateSlipped", EUR_USD, moved, 50):
            open_(env, amount=0, invoice=eur_invoice(100, slippage_bps=50))


def test_zero_quote_never_matches(env):
    with reverts("EscrowRateSlipped"):
        open_(env, amount=0, invoice=eur_invoice(100, quoted=0, slippage_bps=BPS))


def test_unknown_pair_is_refused(env):
    with reverts("EscrowNoPriceFeed"):
        open_(env, amount=0, invoice=(100, CNY, EUR_USD, 50))
    with reverts("EscrowNoPriceFeed"):
        env.escrow.open(params(env, amount=0, invoice=eur_invoice(100), token=NATIVE), {"from": env.buyer})


@pytest.mark.parametrize("answer", [0, -1])
def test_non_positive_rate_is_refused(env, answer):
    env.feed.updateAnswer(answer, {"from": env.admin})
    with reverts("EscrowInvalidRate", answer):
        open_(env, amount=0, invoice=eur_invoice(100))


def test_invoice_needs_a_zero_amount_and_a_valid_invoice_amount(env):
    with reverts("EscrowInvalidAmount", PRICE):
        open_(env, amount=PRICE, invoice=eur_invoice(100))
    with reverts("EscrowInvalidInvoice"):
        open_(env, amount=0, invoice=eur_invoice(0))
    with reverts("EscrowInvalidInvoice"):
        open_(env, amount=0, invoice=eur_invoice(2**96))


def test_fx_trade_settles_in_the_token(env):
    trade_id = open_(env, amount=0, incoterm=Incoterm.CIF, place="CNSHA", invoice=eur_invoice(1_150_000)).return_value
    ship(env)
    paid = env.escrow.release(trade_id, {"from": env.seller}).return_value
    assert paid == 12_420 * USD
    assert env.escrow.withdrawable(env.seller, env.usdc) == paid - paid * 100 // BPS


# ---------------------------------------------------------------- admin


def test_set_price_feed(env, MockV3Aggregator):
    cny = MockV3Aggregator.deploy(8, "CNY / USD", 13_800_000, {"from": env.admin})
    tx = env.escrow.setPriceFeed(CNY, env.usdc, cny, 7200, 2, {"from": env.admin})
    assert tx.events["PriceFeedUpdated"]["feed"] == cny
    assert env.escrow.priceFeed(CNY, env.usdc).dict() == {
        "feed": cny.address,
        "maxAge": 7200,
        "feedDecimals": 8,
        "tokenDecimals": 6,
        "currencyDecimals": 2,
    }
    env.escrow.setPriceFeed(CNY, env.usdc, NATIVE, 0, 0, {"from": env.admin})
    assert env.escrow.priceFeed(CNY, env.usdc).dict()["feed"] == NATIVE


def test_set_price_feed_rejects_bad_input_and_non_admin(env):
    with reverts("AccessControlUnauthorizedAccount"):
        env.escrow.setPriceFeed(CNY, env.usdc, env.feed, MAX_AGE, 2, {"from": env.buyer})
    with reverts("EscrowInvalidPriceFeed"):
        env.escrow.setPriceFeed(CNY, env.usdc, env.buyer, MAX_AGE, 2, {"from": env.admin})
    with reverts("EscrowInvalidPriceFeed"):
        env.escrow.setPriceFeed(CNY, env.usdc, env.feed, 59, 2, {"from": env.admin})
    with reverts("EscrowInvalidPriceFeed"):
        env.escrow.setPriceFeed(CNY, env.usdc, env.feed, MAX_AGE, 5, {"from": env.admin})
    with reverts("EscrowInvalidToken"):
        env.escrow.setPriceFeed(CNY, NATIVE, env.feed, MAX_AGE, 2, {"from": env.admin})


# ---------------------------------------------------------------- orders of several lines

A_SHARE, B_SHARE = 6_000 * USD, 4_000 * USD
TWO_LINES = ((BATCH, A_SHARE), (BATCH_2, B_SHARE))


def open_order(env, **kwargs):
    kwargs.setdefault("lines", TWO_LINES)
    return env.escrow.open(params(env, batch=ZERO_BATCH, **kwargs), {"from": env.buyer})


def in_escrow(env):
    """What the escrow owes: every trade's unreleased remainder (open or disputed) plus every credited balance."""
    owed = 0
    for trade_id in range(1, env.escrow.tradeCount() + 1):
        t = env.escrow.getTrade(trade_id).dict()
        if t["state"] != State.CLOSED:
            owed += t["amount"] - t["released"]
    for account in (env.buyer, env.seller, accounts[4]):
        owed += env.escrow.withdrawable(account, env.usdc)
    return owed


def test_two_lines_open_two_trades_funded_by_one_transfer(env):
    before = env.usdc.balanceOf(env.buyer)
    tx = open_order(env, amount=PRICE, incoterm=Incoterm.DAP, place="CNSHA")
    first = tx.return_value
    assert first == 1 and env.escrow.tradeCount() == 2
    assert before - env.usdc.balanceOf(env.buyer) == PRICE
    assert len(tx.events["Transfer"]) == 1
    opened = tx.events["TradeOpened"]
    assert [(e["tradeId"], e["batchId"], e["amount"]) for e in opened] == [
        (1, "0x" + BATCH.hex(), A_SHARE),
        (2, "0x" + BATCH_2.hex(), B_SHARE),
    ]
    for trade_id, line in ((1, 1), (2, 2)):
        recorded = env.escrow.getTerms(trade_id).dict()
        assert (recorded["line"], recorded["lineCount"], recorded["incoterm"]) == (line, 2, Incoterm.DAP)
        assert env.escrow.getTrade(trade_id).dict()["batchId"] == "0x" + (BATCH if line == 1 else BATCH_2).hex()


def test_lines_that_do_not_add_up_are_refused(env):
    before = env.usdc.balanceOf(env.buyer)
    with reverts("EscrowLinesMismatch", A_SHARE + B_SHARE, PRICE + 1):
        open_order(env, amount=PRICE + 1)
    assert env.escrow.tradeCount() == 0 and env.usdc.balanceOf(env.buyer) == before


def test_an_order_needs_two_to_max_lines_and_no_batch_beside_them(env):
    with reverts("EscrowInvalidLines"):
        open_order(env, amount=A_SHARE, lines=((BATCH, A_SHARE),))
    with reverts("EscrowInvalidLines"):
        env.escrow.open(params(env, amount=PRICE, lines=TWO_LINES), {"from": env.buyer})  # batchId given too
    many = tuple((BATCH, USD) for _ in range(env.escrow.MAX_LINES() + 1))
    with reverts("EscrowInvalidLines"):
        open_order(env, amount=len(many) * USD, lines=many)


def test_a_line_of_an_unknown_batch_opens_nothing(env):
    with reverts("EscrowUnknownBatch"):
        open_order(env, amount=PRICE, lines=((BATCH, A_SHARE), (batch_id("NOPE"), B_SHARE)))
    assert env.escrow.tradeCount() == 0


def test_a_zero_line_is_refused(env):
    with reverts("EscrowInvalidAmount", 0):
        open_order(env, amount=A_SHARE, lines=((BATCH, A_SHARE), (BATCH_2, 0)))


def test_each_line_is_paid_by_its_own_delivery_and_refunded_on_its_own(env):
    open_order(env, amount=PRICE, deliver_in=10 * DAY)
    total = in_escrow(env)
    ship(env, BATCH)
    receive(env, BATCH)
    assert env.escrow.release(1, {"from": env.seller}).return_value == A_SHARE
    assert env.escrow.release(2, {"from": env.seller}).return_value == 0  # line B not shipped: nothing
    assert in_escrow(env) == total
    env.registry.setShipped(BATCH_2, env.seller, env.buyer, latest_timestamp(), {"from": env.admin})
    chain_sleep(11 * DAY)
    # Line B shipped but never delivered: its refund is its own; line A stays paid.
    with reverts("EscrowTradeNotOpen"):
        env.escrow.refund(1, {"from": env.buyer})
    tx = env.escrow.refund(2, {"from": env.buyer})
    assert tx.events["TradeRefunded"]["amount"] == B_SHARE
    assert [env.escrow.getTrade(i).dict()["state"] for i in (1, 2)] == [State.CLOSED, State.CLOSED]
    assert in_escrow(env) == total
    assert env.usdc.balanceOf(env.escrow) == total


def test_a_disputed_line_freezes_only_itself(env):
    open_order(env, amount=PRICE)
    total = in_escrow(env)
    env.escrow.dispute(2, b"\x22" * 32, {"from": env.buyer})
    ship(env, BATCH)
    receive(env, BATCH)
    assert env.escrow.release(1, {"from": env.seller}).return_value == A_SHARE
    with reverts("EscrowTradeNotOpen"):
        env.escrow.release(2, {"from": env.seller})
    ruled = env.escrow.resolve(2, 2_500, {"from": env.arbiter})
    assert (ruled.events["DisputeResolved"]["toSeller"], ruled.events["DisputeResolved"]["toBuyer"]) == (
        B_SHARE // 4,
        B_SHARE - B_SHARE // 4,
    )
    assert env.escrow.withdrawable(env.buyer, env.usdc) == B_SHARE - B_SHARE // 4
    assert in_escrow(env) == total == env.usdc.balanceOf(env.escrow)


def test_an_invoiced_order_converts_each_line(env):
    lines = ((BATCH, 333), (BATCH_2, 667))  # 3.33 and 6.67 EUR
    env.feed.updateAnswer(108_333_333, {"from": env.admin})
    tx = open_order(env, amount=0, lines=lines, invoice=(1_000, EUR, 108_333_333, 50))
    amounts = [e["amount"] for e in tx.events["TradeOpened"]]
    assert amounts == [333 * 108_333_333 * USD // 10**10, 667 * 108_333_333 * USD // 10**10]
    assert env.usdc.balanceOf(env.escrow) == sum(amounts)
    assert [env.escrow.getTerms(i).dict()["invoiceAmount"] for i in (1, 2)] == [333, 667]
    with reverts("EscrowLinesMismatch", 1_000, 1_001):
        open_order(env, amount=0, lines=lines, invoice=(1_001, EUR, 108_333_333, 50))


def chain_sleep(seconds):
    chain.sleep(seconds)
    chain.mine()
