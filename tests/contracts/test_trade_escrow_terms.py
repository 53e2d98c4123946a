"""TradeEscrow trade terms: Incoterms 2020 rules and their default schedules, UN/LOCODE places, invoices in another
currency converted at a price feed's round (stale and slipped rounds refused by custom error)."""

from types import SimpleNamespace

import pytest
from brownie import accounts
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
EUR, CNY = b"EUR", b"CNY"
EUR_USD = 108_000_000  # 1.08 USD per EUR, 8 decimals as Chainlink's fiat feeds
MAX_AGE = 3600
NO_INVOICE = (0, b"\0" * 3, 0, 0)

F_AND_C = [Incoterm.EXW, Incoterm.FCA, Incoterm.CPT, Incoterm.CIP, Incoterm.FAS, Incoterm.FOB, Incoterm.CFR,
           Incoterm.CIF]
D_RULES = [Incoterm.DAP, Incoterm.DPU, Incoterm.DDP]


@pytest.fixture(scope="module")
def env(module_isolation, TradeEscrow, MockTraceRegistry, EscrowTestToken, MockV3Aggregator):
    admin, buyer, seller, arbiter, treasury = accounts[:5]
    registry = MockTraceRegistry.deploy({"from": admin})
    registry.setExists(BATCH, True, {"from": admin})
    escrow = TradeEscrow.deploy(admin, registry, 100, treasury, {"from": admin})
    usdc = EscrowTestToken.deploy("Test USD", "tUSD", 6, {"from": admin})
    escrow.setTokenAllowed(usdc, True, {"from": admin})
    usdc.mint(buyer, 10**9 * USD, {"from": admin})
    usdc.approve(escrow, 2**256 - 1, {"from": buyer})
    feed = MockV3Aggregator.deploy(8, "EUR / USD", EUR_USD, {"from": admin})
    escrow.setPriceFeed(EUR, usdc, feed, MAX_AGE, 2, {"from": admin})
    return SimpleNamespace(admin=admin, buyer=buyer, seller=seller, arbiter=arbiter, registry=registry,
                           escrow=escrow, usdc=usdc, feed=feed)


@pytest.fixture(autouse=True)
def isolate(env, fn_isolation):
    pass


def params(env, *, amount=PRICE, incoterm=Incoterm.NONE, place="", invoice=NO_INVOICE, shipped_bps=0,
           delivered_bps=0, token=None):
    return terms(env.seller, env.arbiter, token or env.usdc, BATCH, amount, latest_timestamp() + 30 * DAY,
                 shipped_bps=shipped_bps, delivered_bps=delivered_bps, incoterm=incoterm, place=place,
                 invoice=invoice)


def open_(env, **kwargs):
    return env.escrow.open(params(env, **kwargs), {"from": env.buyer})


def eur_invoice(cents, quoted=EUR_USD, slippage_bps=50):
    return (cents, EUR, quoted, slippage_bps)


def ship(env):
    env.registry.setShipped(BATCH, env.seller, env.buyer, latest_timestamp(), {"from": env.admin})


def receive(env):
    env.registry.setReceived(BATCH, env.buyer, latest_timestamp(), {"from": env.admin})


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
    assert event["tradeId"] == tx.return_value and event["incoterm"] == Incoterm.FOB
    assert bytes(event["place"]) == b"CNSHA" and event["roundId"] == 0


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
    assert (bytes(recorded["currency"]), recorded["invoiceAmount"], recorded["rate"], recorded["rateDecimals"],
            recorded["roundId"], recorded["roundTime"]) == (EUR, 1_150_000, EUR_USD, 8, round_id, updated_at)
    event = tx.events["TradeTermsRecorded"]
    assert (event["invoiceAmount"], bytes(event["currency"]), event["rate"], event["roundId"],
            event["roundTime"]) == (1_150_000, EUR, EUR_USD, round_id, updated_at)


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


@pytest.mark.parametrize("moved, ok", [(108_540_000, True), (108_540_001, False), (107_460_000, True),
                                       (107_459_999, False)])
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
        "feed": cny.address, "maxAge": 7200, "feedDecimals": 8, "tokenDecimals": 6, "currencyDecimals": 2}
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
