"""Settlement integrity (issue 11): a trade is paid only by registry facts that belong to it.

Each attack runs on the real TraceRegistry and TradeEscrow, as an auditor replayed it: the two sequences (a skipped
dispute window, returned goods paying a new trade) and the three smaller defects (a default ruling that ignored the
dispute window, a front-runnable anchor, a zero dispute window). They were written first and failed on the
contracts before the fix. The rest pin the legitimate flows the fix must keep: a shipment under way when the trade
opens, a carrier's delivery before the trade with the window counted from the opening, goods the buyer received
and shipped on before anyone called release.
"""

from types import SimpleNamespace

import pytest
from brownie import accounts
from escrow_helpers import BPS, DAY, State, batch_id, latest_timestamp, mine_at, reverts, terms

USD = 10**6
PRICE = 10_000 * USD
RULING = 7 * DAY
WINDOW = 3 * DAY
BATCH = batch_id("LOT-SETTLE")
FEE_BPS = 100
SHIPPING, RECEIVING, STORING, ARRIVING = 3, 4, 6, 8  # ITraceRegistry.Step
EVIDENCE = b"\x11" * 32


@pytest.fixture(scope="module")
def env(module_isolation, TraceRegistry, TradeEscrow, EscrowTestToken):
    admin, buyer, seller, arbiter, carrier, treasury, attacker = accounts[:7]
    registry = TraceRegistry.deploy(admin, {"from": admin})
    registry.grantRole(registry.PRODUCER_ROLE(), seller, {"from": admin})
    registry.grantRole(registry.RETAILER_ROLE(), buyer, {"from": admin})  # the buyer ships returns
    registry.grantRole(registry.CARRIER_ROLE(), carrier, {"from": admin})
    registry.grantRole(registry.CARRIER_ROLE(), attacker, {"from": admin})
    registry.registerBatch(BATCH, b"\x33" * 32, 1_000, b"KGM".ljust(8, b"\0"), {"from": seller})
    escrow = TradeEscrow.deploy(admin, registry, FEE_BPS, treasury, {"from": admin})
    usdc = EscrowTestToken.deploy("Test USD", "tUSD", 6, {"from": admin})
    escrow.setTokenAllowed(usdc, True, {"from": admin})
    usdc.mint(buyer, 10**9 * USD, {"from": admin})
    usdc.approve(escrow, 2**256 - 1, {"from": buyer})
    return SimpleNamespace(
        admin=admin,
        buyer=buyer,
        seller=seller,
        arbiter=arbiter,
        carrier=carrier,
        treasury=treasury,
        attacker=attacker,
        registry=registry,
        escrow=escrow,
        usdc=usdc,
    )


@pytest.fixture(autouse=True)
def isolate(env, fn_isolation):
    pass


_HASHES = iter(range(1, 10**6))


def step(env, step, by, to=None):
    """Record `step` on the batch, with a fresh event hash."""
    to = to or "0x" + "00" * 20
    env.registry.recordEvent(BATCH, step, next(_HASHES).to_bytes(32, "big"), 0, to, {"from": by})


def open_trade(env, *, shipped_bps=0, delivered_bps=0, window=WINDOW, deliver_in=30 * DAY):
    deliver_by = latest_timestamp() + deliver_in
    params = terms(
        env.seller,
        env.arbiter,
        env.usdc,
        BATCH,
        PRICE,
        deliver_by,
        ruling=RULING,
        shipped_bps=shipped_bps,
        delivered_bps=delivered_bps,
        dispute_window=window,
    )
    tx = env.escrow.open(params, {"from": env.buyer})
    return tx.return_value, deliver_by, tx.timestamp


def state(env, trade_id):
    return env.escrow.getTrade(trade_id).dict()["state"]


# ---------------------------------------------------------------- the two attack sequences


def test_attack_a_carrier_delivery_before_the_trade_does_not_skip_the_dispute_window(env):
    """Seller ships, a carrier records arriving, nothing moves; days later the buyer opens a trade."""
    step(env, SHIPPING, env.seller, env.buyer)
    step(env, ARRIVING, env.carrier)
    mine_at(latest_timestamp() + 5 * DAY)
    trade_id, _, opened_at = open_trade(env)

    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == 0  # the window starts at opening
    env.escrow.dispute(trade_id, EVIDENCE, {"from": env.buyer})  # the documented remedy exists
    assert state(env, trade_id) == State.DISPUTED


def test_a_carrier_delivery_before_the_trade_pays_once_the_window_from_opening_has_passed(env):
    step(env, SHIPPING, env.seller, env.buyer)
    step(env, ARRIVING, env.carrier)
    mine_at(latest_timestamp() + 5 * DAY)
    trade_id, _, opened_at = open_trade(env)
    mine_at(opened_at + WINDOW - 2)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == 0
    mine_at(opened_at + WINDOW)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == PRICE
    assert state(env, trade_id) == State.CLOSED


def test_attack_b_returned_goods_do_not_pay_a_new_trade(env):
    """The buyer once received the batch and shipped it back; a new trade must not be paid by that history."""
    step(env, SHIPPING, env.seller, env.buyer)
    step(env, RECEIVING, env.buyer)
    step(env, SHIPPING, env.buyer, env.seller)  # the return
    step(env, RECEIVING, env.seller)
    mine_at(latest_timestamp() + DAY)
    trade_id, deliver_by, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)

    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == 0  # neither milestone
    mine_at(deliver_by + 1)
    tx = env.escrow.refund(trade_id, {"from": env.buyer})  # no longer EscrowAlreadyDelivered
    assert tx.events["TradeRefunded"]["amount"] == PRICE


def test_attack_b_returned_goods_lose_the_default_ruling_too(env):
    step(env, SHIPPING, env.seller, env.buyer)
    step(env, RECEIVING, env.buyer)
    step(env, SHIPPING, env.buyer, env.seller)
    step(env, RECEIVING, env.seller)
    mine_at(latest_timestamp() + DAY)
    trade_id, deliver_by, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    disputed_at = env.escrow.dispute(trade_id, EVIDENCE, {"from": env.buyer}).timestamp
    mine_at(max(disputed_at + RULING, deliver_by) + 1)
    tx = env.escrow.resolveByTimeout(trade_id, {"from": env.buyer})
    assert tx.events["DisputeResolved"]["toSeller"] == 0
    assert tx.events["DisputeResolved"]["toBuyer"] == PRICE


def test_attack_b_a_carrier_delivered_return_does_not_pay_a_new_trade(env):
    """The same return, delivered both ways by a carrier: the old shipment left the buyer before the trade."""
    step(env, SHIPPING, env.seller, env.buyer)
    step(env, ARRIVING, env.carrier)
    step(env, SHIPPING, env.buyer, env.seller)
    step(env, ARRIVING, env.carrier)
    mine_at(latest_timestamp() + DAY)
    trade_id, _, opened_at = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    mine_at(opened_at + WINDOW + 1)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == 0


# ---------------------------------------------------------------- the three smaller defects


def test_default_ruling_counts_a_carrier_delivery_disputed_in_its_window_as_not_delivered(env):
    trade_id, deliver_by, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    step(env, SHIPPING, env.seller, env.buyer)
    step(env, ARRIVING, env.attacker)  # a colluding carrier
    disputed_at = env.escrow.dispute(trade_id, EVIDENCE, {"from": env.buyer}).timestamp  # inside the window
    mine_at(max(disputed_at + RULING, deliver_by) + 1)  # the arbiter never rules
    tx = env.escrow.resolveByTimeout(trade_id, {"from": env.seller})
    shipped = PRICE * 3000 // BPS
    # as refund would: the Shipped milestone the seller earned by shipping, the rest back to the buyer
    assert tx.events["DisputeResolved"]["toSeller"] == shipped
    assert tx.events["DisputeResolved"]["toBuyer"] == PRICE - shipped


def test_default_ruling_counts_a_carrier_delivery_not_disputed_in_its_window(env):
    trade_id, deliver_by, _ = open_trade(env)
    step(env, SHIPPING, env.seller, env.buyer)
    arrived = env.registry.recordEvent(
        BATCH, ARRIVING, b"\x77" * 32, 0, "0x" + "00" * 20, {"from": env.carrier}
    ).timestamp
    mine_at(arrived + WINDOW)
    disputed_at = env.escrow.dispute(trade_id, EVIDENCE, {"from": env.buyer}).timestamp  # too late
    mine_at(disputed_at + RULING + 1)
    tx = env.escrow.resolveByTimeout(trade_id, {"from": env.seller})
    assert tx.events["DisputeResolved"]["toSeller"] == PRICE


def test_anchoring_cannot_be_hijacked_by_copying_a_pending_root(env):
    root = b"\x5a" * 32
    # the attacker copies the producer's root from the mempool and gets in first, with its own count and meta
    env.registry.anchorRoot(root, 1, b"\x66" * 32, {"from": env.attacker})
    tx = env.registry.anchorRoot(root, 1024, b"\x01" * 32, {"from": env.seller})  # still succeeds
    assert tx.events["RootAnchored"]["anchorer"] == env.seller
    anchored_at, count = env.registry.rootInfo(env.seller, root)
    assert (anchored_at, count) == (tx.timestamp, 1024)
    assert env.registry.rootInfo(env.attacker, root)[1] == 1
    with reverts("TraceRootExists"):
        env.registry.anchorRoot(root, 1024, b"\x01" * 32, {"from": env.seller})


def test_open_refuses_a_zero_dispute_window(env):
    deliver_by = latest_timestamp() + 30 * DAY
    zero_filled = terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, deliver_by, ruling=RULING, dispute_window=0)
    with reverts("EscrowInvalidDisputeWindow", 0):
        env.escrow.open(zero_filled, {"from": env.buyer})
    min_window = env.escrow.MIN_DISPUTE_WINDOW()
    assert min_window >= DAY
    short = terms(
        env.seller, env.arbiter, env.usdc, BATCH, PRICE, deliver_by, ruling=RULING, dispute_window=min_window - 1
    )
    with reverts("EscrowInvalidDisputeWindow", min_window - 1):
        env.escrow.open(short, {"from": env.buyer})


# ---------------------------------------------------------------- flows the fix keeps


def test_a_shipment_under_way_when_the_trade_opens_counts(env):
    step(env, SHIPPING, env.seller, env.buyer)  # the container is at sea
    trade_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == PRICE * 3000 // BPS
    step(env, RECEIVING, env.buyer)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == PRICE - PRICE * 3000 // BPS


def test_a_receipt_before_the_trade_does_not_pay_it(env):
    step(env, SHIPPING, env.seller, env.buyer)
    step(env, RECEIVING, env.buyer)
    mine_at(latest_timestamp() + DAY)
    trade_id, deliver_by, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == 0
    mine_at(deliver_by + 1)
    assert env.escrow.refund(trade_id, {"from": env.buyer}).events["TradeRefunded"]["amount"] == PRICE


def test_goods_received_and_shipped_on_before_release_still_pay_the_trade(env):
    trade_id, deliver_by, _ = open_trade(env)
    step(env, SHIPPING, env.seller, env.buyer)
    step(env, RECEIVING, env.buyer)
    step(env, SHIPPING, env.buyer, env.carrier)  # sold on before anyone called release
    step(env, ARRIVING, env.attacker)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == PRICE


def test_goods_received_and_shipped_on_bar_the_refund(env):
    trade_id, deliver_by, _ = open_trade(env)
    step(env, SHIPPING, env.seller, env.buyer)
    received = env.registry.recordEvent(
        BATCH, RECEIVING, b"\x78" * 32, 0, "0x" + "00" * 20, {"from": env.buyer}
    ).timestamp
    step(env, SHIPPING, env.buyer, env.seller)
    mine_at(deliver_by + 1)
    with reverts("EscrowAlreadyDelivered", trade_id, received):
        env.escrow.refund(trade_id, {"from": env.buyer})


def test_a_shipment_to_someone_else_pays_nothing(env):
    trade_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    step(env, SHIPPING, env.seller, env.carrier)
    step(env, RECEIVING, env.carrier)
    assert env.escrow.release(trade_id, {"from": env.seller}).return_value == 0
