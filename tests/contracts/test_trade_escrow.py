"""Unit tests for TradeEscrow: every function, every revert by custom error, deadline edges at -1/0/+1 s.

Milestones are driven through MockTraceRegistry; one integration test at the end uses the real TraceRegistry.
"""

from types import SimpleNamespace

import pytest
from brownie import accounts, web3
from escrow_helpers import (
    BPS,
    DAY,
    NATIVE,
    REENTRANT_CALL,
    RULING,
    ZERO,
    Milestone,
    State,
    abi_signature,
    batch_id,
    fee_of,
    latest_timestamp,
    mine_at,
    plain,
    reverts,
    same,
    selector,
    sign_permit,
    terms,
    warp,
)

FEE_BPS = 100  # 1 %
USD = 10**6  # one unit of the 6-decimal test stablecoin
PRICE = 10_000 * USD
BATCH = batch_id("LOT-A")
OTHER_BATCH = batch_id("LOT-B")
EVIDENCE = b"\x11" * 32


@pytest.fixture(scope="module")
def env(module_isolation, TradeEscrow, MockTraceRegistry, EscrowTestToken, FeeOnTransferToken, BlocklistToken):
    admin, buyer, seller, arbiter, treasury, stranger = accounts[:6]
    registry = MockTraceRegistry.deploy({"from": admin})
    for batch in (BATCH, OTHER_BATCH):
        registry.setExists(batch, True, {"from": admin})
    escrow = TradeEscrow.deploy(admin, registry, FEE_BPS, treasury, {"from": admin})
    usdc = EscrowTestToken.deploy("Test USD", "tUSD", 6, {"from": admin})
    fot = FeeOnTransferToken.deploy(0, {"from": admin})
    blk = BlocklistToken.deploy({"from": admin})
    for token in (usdc, fot, blk):
        escrow.setTokenAllowed(token, True, {"from": admin})
        for holder in (buyer, seller):
            token.mint(holder, 10**9 * USD, {"from": admin})
            token.approve(escrow, 2**256 - 1, {"from": holder})
    return SimpleNamespace(
        admin=admin,
        buyer=buyer,
        seller=seller,
        arbiter=arbiter,
        treasury=treasury,
        stranger=stranger,
        registry=registry,
        escrow=escrow,
        usdc=usdc,
        fot=fot,
        blk=blk,
    )


@pytest.fixture(autouse=True)
def isolate(env, fn_isolation):
    pass


def open_trade(
    env,
    *,
    token=None,
    amount=PRICE,
    shipped_bps=0,
    delivered_bps=0,
    batch=BATCH,
    deliver_in=30 * DAY,
    buyer=None,
    seller=None,
    value=None,
    dispute_window=DAY,
):
    """Open a trade and return (trade id, deliverBy, tx)."""
    token = env.usdc if token is None else token
    buyer = buyer or env.buyer
    seller = seller or env.seller
    deliver_by = latest_timestamp() + deliver_in
    params = terms(
        seller,
        env.arbiter,
        token,
        batch,
        amount,
        deliver_by,
        shipped_bps=shipped_bps,
        delivered_bps=delivered_bps,
        dispute_window=dispute_window,
    )
    if value is None:
        value = amount if str(token) == NATIVE else 0
    tx = env.escrow.open(params, {"from": buyer, "value": value})
    return tx.return_value, deliver_by, tx


def trade(env, trade_id):
    return env.escrow.getTrade(trade_id).dict()


def ship(env, batch=BATCH, seller=None, buyer=None):
    env.registry.setShipped(batch, seller or env.seller, buyer or env.buyer, latest_timestamp(), {"from": env.admin})


def deliver(env, batch=BATCH, buyer=None, shipper=None):
    """A shipment to the buyer, by the seller unless `shipper` is given, delivered by a carrier (its Arriving),
    which the buyer did not record itself. Returns the delivery time."""
    ship(env, batch, shipper or env.seller, buyer)
    when = latest_timestamp()  # the time recorded, not the next block's: that may be a second later
    env.registry.setDelivered(batch, buyer or env.buyer, when, {"from": env.admin})
    return when


def receive(env, batch=BATCH, buyer=None, shipper=None):
    """A shipment to the buyer, by the seller unless `shipper` is given, received by the buyer itself. Returns the
    delivery time."""
    ship(env, batch, shipper or env.seller, buyer)
    when = latest_timestamp()
    env.registry.setReceived(batch, buyer or env.buyer, when, {"from": env.admin})
    return when


def dispute(env, trade_id, by=None):
    tx = env.escrow.dispute(trade_id, EVIDENCE, {"from": by or env.buyer})
    return tx.timestamp + RULING, tx


def balances(env, token):
    w = env.escrow.withdrawable
    return w(env.seller, token), w(env.treasury, token), w(env.buyer, token)


# ---------------------------------------------------------------- deployment


def test_constructor_sets_roles_fee_and_native(env, TradeEscrow):
    escrow = env.escrow
    assert escrow.hasRole(escrow.DEFAULT_ADMIN_ROLE(), env.admin)
    assert escrow.registry() == env.registry
    assert escrow.feeBps() == FEE_BPS
    assert escrow.feeRecipient() == env.treasury
    assert escrow.isTokenAllowed(NATIVE)
    assert escrow.tradeCount() == 0
    assert escrow.MAX_FEE_BPS() == 500
    tx = escrow.tx
    assert tx.events["FeeUpdated"]["feeBps"] == FEE_BPS
    assert tx.events["TokenAllowlistUpdated"]["token"] == NATIVE


def test_constructor_rejects_bad_arguments(env, TradeEscrow):
    a = env.admin
    with reverts("EscrowInvalidAddress", ZERO):
        TradeEscrow.deploy(ZERO, env.registry, 0, a, {"from": a})
    with reverts("EscrowInvalidAddress", env.stranger):
        TradeEscrow.deploy(a, env.stranger, 0, a, {"from": a})
    with reverts("EscrowFeeTooHigh", 501, 500):
        TradeEscrow.deploy(a, env.registry, 501, a, {"from": a})
    with reverts("EscrowInvalidFeeRecipient", ZERO):
        TradeEscrow.deploy(a, env.registry, 0, ZERO, {"from": a})


def test_supports_interfaces(env, interface):
    escrow = env.escrow
    interface_id = 0
    for item in interface.ITradeEscrow.abi:
        if item["type"] == "function":
            interface_id ^= int.from_bytes(selector(abi_signature(item)), "big")
    assert escrow.supportsInterface(interface_id.to_bytes(4, "big"))
    assert escrow.supportsInterface("0x01ffc9a7")  # ERC-165
    assert escrow.supportsInterface("0x7965db0b")  # IAccessControl
    assert not escrow.supportsInterface("0xffffffff")


# ---------------------------------------------------------------- admin


def test_set_token_allowed(env):
    tx = env.escrow.setTokenAllowed(env.usdc, False, {"from": env.admin})
    assert same(tx.events["TokenAllowlistUpdated"], [env.usdc, False])
    assert not env.escrow.isTokenAllowed(env.usdc)
    now = latest_timestamp()
    with reverts("EscrowTokenNotAllowed", env.usdc):
        env.escrow.open(terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, now + DAY), {"from": env.buyer})


def test_set_token_allowed_can_disable_native(env):
    env.escrow.setTokenAllowed(NATIVE, False, {"from": env.admin})
    with reverts("EscrowTokenNotAllowed", NATIVE):
        open_trade(env, token=NATIVE, amount=10**18)


def test_set_token_allowed_rejects_non_contract_and_non_admin(env):
    with reverts("EscrowInvalidToken", env.stranger):
        env.escrow.setTokenAllowed(env.stranger, True, {"from": env.admin})
    with reverts("AccessControlUnauthorizedAccount", env.stranger, bytes(32)):
        env.escrow.setTokenAllowed(env.usdc, False, {"from": env.stranger})


def test_disallowing_a_token_does_not_affect_open_trades(env):
    trade_id, _, _ = open_trade(env)
    env.escrow.setTokenAllowed(env.usdc, False, {"from": env.admin})
    receive(env)
    env.escrow.release(trade_id, {"from": env.stranger})
    env.escrow.withdraw(env.usdc, {"from": env.seller})
    assert trade(env, trade_id)["state"] == State.CLOSED


def test_set_fee(env):
    tx = env.escrow.setFee(500, env.stranger, {"from": env.admin})
    assert same(tx.events["FeeUpdated"], [500, env.stranger])
    assert env.escrow.feeBps() == 500
    assert env.escrow.feeRecipient() == env.stranger


def test_set_fee_rejects_cap_zero_recipient_and_non_admin(env):
    with reverts("EscrowFeeTooHigh", 501, 500):
        env.escrow.setFee(501, env.treasury, {"from": env.admin})
    with reverts("EscrowInvalidFeeRecipient", ZERO):
        env.escrow.setFee(100, ZERO, {"from": env.admin})
    with reverts("AccessControlUnauthorizedAccount"):
        env.escrow.setFee(0, env.treasury, {"from": env.buyer})


def test_fee_is_snapshotted_at_open_and_recipient_is_current(env):
    trade_id, _, _ = open_trade(env)
    env.escrow.setFee(500, env.stranger, {"from": env.admin})
    assert trade(env, trade_id)["feeBps"] == FEE_BPS
    receive(env)
    env.escrow.release(trade_id, {"from": env.stranger})
    fee = fee_of(PRICE, FEE_BPS)
    assert env.escrow.withdrawable(env.stranger, env.usdc) == fee
    assert env.escrow.withdrawable(env.treasury, env.usdc) == 0
    assert env.escrow.withdrawable(env.seller, env.usdc) == PRICE - fee


def test_pause_stops_new_trades_only(env):
    disputed, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    released, _, _ = open_trade(env, batch=OTHER_BATCH)
    confirmed, _, _ = open_trade(env, batch=OTHER_BATCH)
    refunded, refund_after, _ = open_trade(env, batch=OTHER_BATCH, deliver_in=DAY)
    ship(env)
    env.escrow.release(disputed, {"from": env.stranger})

    tx = env.escrow.pause({"from": env.admin})
    assert "Paused" in tx.events
    with reverts("EnforcedPause"):
        open_trade(env)
    with reverts("EnforcedPause"):
        env.escrow.openWithPermit(
            terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, latest_timestamp() + DAY),
            PRICE,
            0,
            27,
            b"\0" * 32,
            b"\0" * 32,
            {"from": env.buyer},
        )

    # everything else keeps working while paused
    env.escrow.withdraw(env.usdc, {"from": env.seller})
    env.escrow.confirmReceipt(confirmed, {"from": env.buyer})
    env.escrow.addEvidence(disputed, EVIDENCE, {"from": env.seller})
    dispute(env, disputed)
    env.escrow.resolve(disputed, 5000, {"from": env.arbiter})
    warp(refund_after + 1)
    env.escrow.refund(refunded, {"from": env.stranger})
    deliver(env, OTHER_BATCH)
    env.escrow.release(released, {"from": env.stranger})
    env.escrow.withdraw(env.usdc, {"from": env.buyer})
    env.escrow.withdraw(env.usdc, {"from": env.treasury})

    tx = env.escrow.unpause({"from": env.admin})
    assert "Unpaused" in tx.events
    open_trade(env)


def test_pause_and_unpause_are_admin_only(env):
    with reverts("AccessControlUnauthorizedAccount"):
        env.escrow.pause({"from": env.buyer})
    env.escrow.pause({"from": env.admin})
    with reverts("AccessControlUnauthorizedAccount"):
        env.escrow.unpause({"from": env.buyer})


# ---------------------------------------------------------------- open


def test_open_erc20_pulls_funds_and_records_trade(env):
    before = env.usdc.balanceOf(env.buyer)
    trade_id, deliver_by, tx = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    assert trade_id == 1 and env.escrow.tradeCount() == 1
    assert env.usdc.balanceOf(env.escrow) == PRICE
    assert env.usdc.balanceOf(env.buyer) == before - PRICE
    t = trade(env, trade_id)
    assert t["buyer"] == env.buyer and t["seller"] == env.seller and t["arbiter"] == env.arbiter
    assert t["token"] == env.usdc and plain(t["batchId"]) == plain(BATCH)
    assert t["amount"] == PRICE and t["released"] == 0
    assert t["deliverBy"] == deliver_by and t["rulingPeriod"] == RULING
    assert (t["shippedBps"], t["deliveredBps"], t["feeBps"]) == (3000, 7000, FEE_BPS)
    assert t["state"] == State.OPEN and t["openedAt"] == tx.timestamp and t["disputedAt"] == 0
    assert t["disputeWindow"] == DAY
    event = tx.events["TradeOpened"]
    assert event["tradeId"] == 1 and event["buyer"] == env.buyer and event["seller"] == env.seller
    assert event["amount"] == PRICE and event["token"] == env.usdc and event["feeBps"] == FEE_BPS
    assert (event["shippedBps"], event["deliveredBps"]) == (3000, 7000)
    second, _, _ = open_trade(env)
    assert second == 2 and env.escrow.tradeCount() == 2


def test_open_native(env):
    amount = 3 * 10**18
    before = env.buyer.balance()
    trade_id, _, tx = open_trade(env, token=NATIVE, amount=amount)
    assert env.escrow.balance() == amount
    assert env.buyer.balance() == before - amount  # gas price is 0 on the test chain
    assert trade(env, trade_id)["token"] == NATIVE


def test_open_native_value_must_match(env):
    amount = 10**18
    with reverts("EscrowNativeValueMismatch", amount - 1, amount):
        open_trade(env, token=NATIVE, amount=amount, value=amount - 1)
    with reverts("EscrowNativeValueMismatch", amount + 1, amount):
        open_trade(env, token=NATIVE, amount=amount, value=amount + 1)


def test_open_erc20_rejects_native_value(env):
    with reverts("EscrowNativeValueMismatch", 1, 0):
        open_trade(env, value=1)


def test_open_default_schedule_is_all_on_delivery(env):
    trade_id, _, tx = open_trade(env)
    t = trade(env, trade_id)
    assert (t["shippedBps"], t["deliveredBps"]) == (0, BPS)
    assert tx.events["TradeOpened"]["deliveredBps"] == BPS


@pytest.mark.parametrize("shipped,delivered", [(3000, 6000), (0, 9999), (10000, 1), (65535, 65535)])
def test_open_rejects_schedule_not_summing_to_10000(env, shipped, delivered):
    with reverts("EscrowInvalidSchedule", shipped, delivered):
        open_trade(env, shipped_bps=shipped, delivered_bps=delivered)


def test_open_rejects_bad_parties(env):
    now = latest_timestamp()
    cases = [
        ("EscrowInvalidSeller", ZERO, env.arbiter),
        ("EscrowInvalidSeller", env.buyer, env.arbiter),
        ("EscrowInvalidArbiter", env.seller, ZERO),
        ("EscrowInvalidArbiter", env.seller, env.buyer),
        ("EscrowInvalidArbiter", env.seller, env.seller),
    ]
    for error, seller, arbiter in cases:
        bad = seller if error == "EscrowInvalidSeller" else arbiter
        with reverts(error, bad):
            env.escrow.open(terms(seller, arbiter, env.usdc, BATCH, PRICE, now + DAY), {"from": env.buyer})


def test_open_rejects_bad_amount(env):
    now = latest_timestamp()
    for amount in (0, 2**96):  # stored in 96 bits
        with reverts("EscrowInvalidAmount", amount):
            env.escrow.open(terms(env.seller, env.arbiter, env.usdc, BATCH, amount, now + DAY), {"from": env.buyer})


def test_open_deliver_by_edges(env):
    """deliverBy must be after the opening block: -1 and 0 s revert, +1 s opens; and at most MAX_DELIVERY_WINDOW."""
    escrow = env.escrow
    window = escrow.MAX_DELIVERY_WINDOW()
    at = latest_timestamp() + 100
    cases = [(-1, False), (0, False), (1, True), (window, True), (window + 1, False)]
    for offset, ok in cases:
        at += 1
        warp(at)
        params = terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, at + offset)
        if ok:
            assert escrow.open(params, {"from": env.buyer}).timestamp == at
        else:
            with reverts("EscrowInvalidDeadline", at + offset, at):
                escrow.open(params, {"from": env.buyer})


def test_open_ruling_period_bounds(env):
    now = latest_timestamp()
    low, high = env.escrow.MIN_RULING_PERIOD(), env.escrow.MAX_RULING_PERIOD()
    for period in (low - 1, high + 1):
        with reverts("EscrowInvalidRulingPeriod", period):
            env.escrow.open(
                terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, now + DAY, ruling=period), {"from": env.buyer}
            )
    for period in (low, high):
        env.escrow.open(
            terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, now + DAY, ruling=period), {"from": env.buyer}
        )


def test_open_dispute_window_bounds(env):
    now = latest_timestamp()
    low, high = env.escrow.MIN_DISPUTE_WINDOW(), env.escrow.MAX_DISPUTE_WINDOW()
    assert low == DAY
    for window in (0, low - 1, high + 1):
        with reverts("EscrowInvalidDisputeWindow", window):
            env.escrow.open(
                terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, now + DAY, dispute_window=window),
                {"from": env.buyer},
            )
    for window in (low, high):
        tx = env.escrow.open(
            terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, now + DAY, dispute_window=window),
            {"from": env.buyer},
        )
        assert tx.events["TradeOpened"]["disputeWindow"] == window
        assert trade(env, tx.return_value)["disputeWindow"] == window


# ---------------------------------------------------------------- dispute window after a carrier's delivery


def test_carrier_delivery_pays_only_after_the_dispute_window(env):
    trade_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000, dispute_window=3 * DAY)
    delivered_at = deliver(env, shipper=env.seller)
    shipped = PRICE * 3000 // BPS
    warp(delivered_at + 3 * DAY - 1)  # the next transaction lands 1 s before the window ends
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    paid = [(e["milestone"], e["amount"]) for e in tx.events["MilestoneReleased"]]
    assert paid == [(Milestone.SHIPPED, shipped)]  # the shipment pays at once, its delivery waits
    assert tx.timestamp == delivered_at + 3 * DAY - 1
    warp(delivered_at + 3 * DAY)
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    assert tx.timestamp == delivered_at + 3 * DAY
    paid = [(e["milestone"], e["amount"]) for e in tx.events["MilestoneReleased"]]
    assert paid == [(Milestone.DELIVERED, PRICE - shipped)]
    assert tx.return_value == PRICE - shipped and trade(env, trade_id)["state"] == State.CLOSED


def test_buyer_disputes_a_carrier_delivery_inside_the_window(env):
    trade_id, _, _ = open_trade(env, dispute_window=3 * DAY)
    deliver(env)
    assert env.escrow.release(trade_id, {"from": env.stranger}).return_value == 0  # inside the window
    env.escrow.dispute(trade_id, EVIDENCE, {"from": env.buyer})
    warp(latest_timestamp() + 3 * DAY)
    with reverts("EscrowTradeNotOpen", trade_id, State.DISPUTED):  # the window passing pays nothing now
        env.escrow.release(trade_id, {"from": env.stranger})
    tx = env.escrow.resolve(trade_id, 0, {"from": env.arbiter})  # the arbiter sides with the buyer
    assert same(tx.events["DisputeResolved"], [trade_id, env.arbiter, 0, PRICE, 0, False])


def test_buyer_own_receipt_pays_at_once_whatever_the_window(env):
    trade_id, _, _ = open_trade(env, dispute_window=env.escrow.MAX_DISPUTE_WINDOW())
    receive(env)
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    assert tx.return_value == PRICE and trade(env, trade_id)["state"] == State.CLOSED


def test_open_rejects_unknown_and_recalled_batch(env):
    unknown = batch_id("NOPE")
    with reverts("EscrowUnknownBatch", unknown):
        open_trade(env, batch=unknown)
    env.registry.setRecalled(BATCH, True, {"from": env.admin})
    with reverts("EscrowBatchRecalled", BATCH):
        open_trade(env)


def test_open_without_allowance_fails(env):
    env.usdc.approve(env.escrow, PRICE - 1, {"from": env.buyer})
    with reverts("ERC20InsufficientAllowance", env.escrow, PRICE - 1, PRICE):
        open_trade(env)


def test_open_rejects_fee_on_transfer_shortfall(env):
    env.fot.setFeeBps(100, {"from": env.admin})
    with reverts("EscrowTransferAmountMismatch", env.fot, PRICE, PRICE - PRICE // 100):
        open_trade(env, token=env.fot)
    assert env.fot.balanceOf(env.escrow) == 0


def test_fee_on_transfer_switched_on_later_still_settles(env):
    """A token that starts charging on transfer (like USDT could) after open: the escrow pays what it credited."""
    trade_id, _, _ = open_trade(env, token=env.fot)
    env.fot.setFeeBps(200, {"from": env.admin})
    receive(env)
    env.escrow.release(trade_id, {"from": env.stranger})
    seller_credit = PRICE - fee_of(PRICE, FEE_BPS)
    before = env.fot.balanceOf(env.seller)
    env.escrow.withdraw(env.fot, {"from": env.seller})
    assert env.fot.balanceOf(env.seller) - before == seller_credit - seller_credit * 200 // BPS
    env.escrow.withdraw(env.fot, {"from": env.treasury})
    assert env.fot.balanceOf(env.escrow) == 0


# ---------------------------------------------------------------- openWithPermit


@pytest.fixture
def permit_buyer(env):
    owner = accounts.add()
    env.usdc.mint(owner, PRICE, {"from": env.admin})
    return owner


def _permit_terms(env):
    return terms(env.seller, env.arbiter, env.usdc, BATCH, PRICE, latest_timestamp() + 30 * DAY)


def test_open_with_permit(env, permit_buyer):
    deadline = latest_timestamp() + DAY
    v, r, s = sign_permit(
        env.usdc, permit_buyer.private_key, permit_buyer.address, env.escrow.address, PRICE, deadline, web3.eth.chain_id
    )
    tx = env.escrow.openWithPermit(_permit_terms(env), PRICE, deadline, v, r, s, {"from": permit_buyer})
    assert tx.events["TradeOpened"]["buyer"] == permit_buyer
    assert env.usdc.balanceOf(env.escrow) == PRICE
    assert env.usdc.nonces(permit_buyer) == 1


def test_open_with_permit_survives_front_run_permit(env, permit_buyer):
    deadline = latest_timestamp() + DAY
    v, r, s = sign_permit(
        env.usdc, permit_buyer.private_key, permit_buyer.address, env.escrow.address, PRICE, deadline, web3.eth.chain_id
    )
    # someone copies the signature from the mempool and submits the permit first
    env.usdc.permit(permit_buyer, env.escrow, PRICE, deadline, v, r, s, {"from": env.stranger})
    tx = env.escrow.openWithPermit(_permit_terms(env), PRICE, deadline, v, r, s, {"from": permit_buyer})
    assert "TradeOpened" in tx.events


def test_open_with_permit_bad_signature_falls_back_to_allowance(env, permit_buyer):
    with reverts("ERC20InsufficientAllowance", env.escrow, 0, PRICE):
        env.escrow.openWithPermit(
            _permit_terms(env), PRICE, latest_timestamp() + DAY, 27, b"\x01" * 32, b"\x02" * 32, {"from": permit_buyer}
        )
    # with an allowance already in place, a useless permit does not matter
    env.usdc.approve(env.escrow, PRICE, {"from": permit_buyer})
    tx = env.escrow.openWithPermit(_permit_terms(env), PRICE, 0, 0, b"\0" * 32, b"\0" * 32, {"from": permit_buyer})
    assert "TradeOpened" in tx.events


def test_open_with_permit_rejects_native(env):
    params = terms(env.seller, env.arbiter, NATIVE, BATCH, PRICE, latest_timestamp() + DAY)
    with reverts("EscrowInvalidToken", NATIVE):
        env.escrow.openWithPermit(params, PRICE, 0, 0, b"\0" * 32, b"\0" * 32, {"from": env.buyer})


# ---------------------------------------------------------------- release


def test_release_nothing_due_is_a_noop(env):
    trade_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    assert tx.return_value == 0
    assert "MilestoneReleased" not in tx.events
    assert trade(env, trade_id)["state"] == State.OPEN


def test_release_pays_shipped_then_delivered(env):
    trade_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    ship(env)
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    first = PRICE * 3000 // BPS
    assert tx.return_value == first
    assert same(tx.events["MilestoneReleased"], [trade_id, Milestone.SHIPPED, first, fee_of(first, FEE_BPS)])
    assert balances(env, env.usdc) == (first - fee_of(first, FEE_BPS), fee_of(first, FEE_BPS), 0)
    assert trade(env, trade_id)["released"] == first

    again = env.escrow.release(trade_id, {"from": env.stranger})  # idempotent
    assert again.return_value == 0 and "MilestoneReleased" not in again.events

    receive(env)
    tx = env.escrow.release(trade_id, {"from": env.buyer})
    rest = PRICE - first
    assert tx.return_value == rest
    assert same(tx.events["MilestoneReleased"], [trade_id, Milestone.DELIVERED, rest, fee_of(rest, FEE_BPS)])
    fees = fee_of(first, FEE_BPS) + fee_of(rest, FEE_BPS)
    assert balances(env, env.usdc) == (PRICE - fees, fees, 0)
    t = trade(env, trade_id)
    assert t["state"] == State.CLOSED and t["released"] == PRICE
    with reverts("EscrowTradeNotOpen", trade_id, State.CLOSED):
        env.escrow.release(trade_id, {"from": env.stranger})


def test_release_default_schedule_waits_for_delivery(env):
    trade_id, _, _ = open_trade(env)
    ship(env)
    assert env.escrow.release(trade_id, {"from": env.stranger}).return_value == 0
    receive(env)
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    assert tx.return_value == PRICE
    assert len(tx.events["MilestoneReleased"]) == 1
    assert tx.events["MilestoneReleased"]["milestone"] == Milestone.DELIVERED


def test_release_delivery_of_someone_elses_shipment_pays_nothing(env):
    """Only the seller's own shipment is the trade's: a batch someone else shipped to the buyer (a producer's drop
    shipment, say) is settled by the buyer's confirmReceipt, not by release."""
    trade_id, _, _ = open_trade(env, shipped_bps=2500, delivered_bps=7500)
    receive(env, shipper=env.stranger)
    assert env.escrow.release(trade_id, {"from": env.stranger}).return_value == 0
    receive(env, shipper=env.seller)
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    events = tx.events["MilestoneReleased"]
    assert [e["milestone"] for e in events] == [Milestone.SHIPPED, Milestone.DELIVERED]
    assert [e["amount"] for e in events] == [PRICE // 4, PRICE - PRICE // 4]
    assert trade(env, trade_id)["state"] == State.CLOSED


def test_release_all_on_shipment_closes_before_delivery(env):
    trade_id, _, _ = open_trade(env, shipped_bps=10000, delivered_bps=0)
    ship(env)
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    assert tx.return_value == PRICE
    assert trade(env, trade_id)["state"] == State.CLOSED


def test_release_rounding_goes_to_last_milestone(env):
    amount = 1_000_001
    trade_id, _, _ = open_trade(env, amount=amount, shipped_bps=3333, delivered_bps=6667)
    ship(env)
    first = env.escrow.release(trade_id, {"from": env.stranger}).return_value
    receive(env)
    second = env.escrow.release(trade_id, {"from": env.stranger}).return_value
    assert first == amount * 3333 // BPS and first + second == amount


def test_release_only_counts_the_trade_seller_and_buyer(env):
    trade_id, _, _ = open_trade(env, shipped_bps=5000, delivered_bps=5000)
    ship(env, seller=env.stranger)
    ship(env, buyer=env.stranger)  # the seller shipping to someone else (an accomplice) earns nothing
    deliver(env, buyer=env.stranger)
    assert env.escrow.release(trade_id, {"from": env.stranger}).return_value == 0
    ship(env)
    assert env.escrow.release(trade_id, {"from": env.stranger}).return_value == PRICE // 2


def test_release_pays_nothing_once_recalled(env):
    trade_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    ship(env)
    env.escrow.release(trade_id, {"from": env.stranger})
    env.registry.setRecalled(BATCH, True, {"from": env.admin})
    deliver(env)
    tx = env.escrow.release(trade_id, {"from": env.stranger})
    assert tx.return_value == 0 and "MilestoneReleased" not in tx.events
    t = trade(env, trade_id)
    assert t["state"] == State.OPEN and t["released"] == PRICE * 3000 // BPS  # paid milestones stay paid


def test_release_reverts_unknown_and_disputed(env):
    with reverts("EscrowUnknownTrade", 7):
        env.escrow.release(7, {"from": env.stranger})
    trade_id, _, _ = open_trade(env)
    dispute(env, trade_id)
    deliver(env)
    with reverts("EscrowTradeNotOpen", trade_id, State.DISPUTED):
        env.escrow.release(trade_id, {"from": env.stranger})


# ---------------------------------------------------------------- confirmReceipt


def test_confirm_receipt_releases_remainder(env):
    trade_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    ship(env)
    env.escrow.release(trade_id, {"from": env.stranger})
    tx = env.escrow.confirmReceipt(trade_id, {"from": env.buyer})
    rest = PRICE - PRICE * 3000 // BPS
    assert same(tx.events["ReceiptConfirmed"], [trade_id, env.buyer, rest, fee_of(rest, FEE_BPS)])
    t = trade(env, trade_id)
    assert t["state"] == State.CLOSED and t["released"] == PRICE
    assert env.escrow.withdrawable(env.buyer, env.usdc) == 0


def test_confirm_receipt_settles_a_dispute(env):
    trade_id, _, _ = open_trade(env)
    dispute(env, trade_id, by=env.seller)
    env.escrow.confirmReceipt(trade_id, {"from": env.buyer})
    assert trade(env, trade_id)["state"] == State.CLOSED
    assert env.escrow.withdrawable(env.seller, env.usdc) == PRICE - fee_of(PRICE, FEE_BPS)


def test_confirm_receipt_reverts(env):
    with reverts("EscrowUnknownTrade", 1):
        env.escrow.confirmReceipt(1, {"from": env.buyer})
    trade_id, _, _ = open_trade(env)
    for account in (env.seller, env.arbiter, env.stranger):
        with reverts("EscrowNotBuyer", trade_id, account):
            env.escrow.confirmReceipt(trade_id, {"from": account})
    env.escrow.confirmReceipt(trade_id, {"from": env.buyer})
    with reverts("EscrowTradeClosed", trade_id):
        env.escrow.confirmReceipt(trade_id, {"from": env.buyer})


# ---------------------------------------------------------------- refund


def test_refund_deadline_edges(env):
    trade_id, deliver_by, _ = open_trade(env, deliver_in=10 * DAY)
    for at in (deliver_by - 1, deliver_by):
        warp(at)
        with reverts("EscrowDeliveryDeadlineNotPassed", trade_id, deliver_by):
            env.escrow.refund(trade_id, {"from": env.stranger})
    warp(deliver_by + 1)
    tx = env.escrow.refund(trade_id, {"from": env.stranger})
    assert tx.timestamp == deliver_by + 1
    assert same(tx.events["TradeRefunded"], [trade_id, env.buyer, PRICE])
    assert balances(env, env.usdc) == (0, 0, PRICE)  # no fee on refunds
    assert trade(env, trade_id)["state"] == State.CLOSED
    before = env.usdc.balanceOf(env.buyer)
    env.escrow.withdraw(env.usdc, {"from": env.buyer})
    assert env.usdc.balanceOf(env.buyer) == before + PRICE


def test_refund_returns_only_the_unreleased_remainder(env):
    trade_id, deliver_by, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    ship(env)
    env.escrow.release(trade_id, {"from": env.stranger})
    warp(deliver_by + 1)
    tx = env.escrow.refund(trade_id, {"from": env.buyer})
    assert tx.events["TradeRefunded"]["amount"] == PRICE - PRICE * 3000 // BPS


def test_refund_pays_an_earned_unreleased_shipped_milestone_first(env):
    """The seller shipped but nobody called release before the deadline: refund pays the Shipped share to the
    seller, as release and the default ruling would, and returns only the rest."""
    trade_id, deliver_by, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    ship(env)
    warp(deliver_by + 1)
    tx = env.escrow.refund(trade_id, {"from": env.stranger})
    shipped = PRICE * 3000 // BPS
    assert same(tx.events["MilestoneReleased"], [trade_id, Milestone.SHIPPED, shipped, fee_of(shipped, FEE_BPS)])
    assert same(tx.events["TradeRefunded"], [trade_id, env.buyer, PRICE - shipped])
    assert balances(env, env.usdc) == (shipped - fee_of(shipped, FEE_BPS), fee_of(shipped, FEE_BPS), PRICE - shipped)
    assert trade(env, trade_id)["released"] == shipped and trade(env, trade_id)["state"] == State.CLOSED


def test_refund_pays_no_milestone_for_a_recalled_batch_or_a_shipment_elsewhere(env):
    recalled_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    elsewhere_id, deliver_by, _ = open_trade(env, batch=OTHER_BATCH, shipped_bps=3000, delivered_bps=7000)
    ship(env)
    ship(env, batch=OTHER_BATCH, buyer=env.stranger)
    env.registry.setRecalled(BATCH, True, {"from": env.admin})
    warp(deliver_by + 1)  # the later of the two deadlines
    for trade_id in (recalled_id, elsewhere_id):
        tx = env.escrow.refund(trade_id, {"from": env.stranger})
        assert "MilestoneReleased" not in tx.events
        assert tx.events["TradeRefunded"]["amount"] == PRICE
    assert env.escrow.withdrawable(env.buyer, env.usdc) == 2 * PRICE


def test_refund_rejects_delivered_trade(env):
    trade_id, deliver_by, _ = open_trade(env)
    ship(env)
    warp(deliver_by - 5)
    env.registry.setDelivered(BATCH, env.buyer, deliver_by - 5, {"from": env.admin})
    warp(deliver_by + 1)
    with reverts("EscrowAlreadyDelivered", trade_id, deliver_by - 5):
        env.escrow.refund(trade_id, {"from": env.stranger})
    # a late release still pays the seller, once the carrier's delivery has passed its dispute window
    warp(deliver_by - 5 + DAY)
    env.escrow.release(trade_id, {"from": env.stranger})
    assert trade(env, trade_id)["state"] == State.CLOSED


def test_refund_recalled_undelivered_trade(env):
    trade_id, deliver_by, _ = open_trade(env)
    env.registry.setRecalled(BATCH, True, {"from": env.admin})
    warp(deliver_by + 1)
    env.escrow.refund(trade_id, {"from": env.stranger})
    assert env.escrow.withdrawable(env.buyer, env.usdc) == PRICE


def test_refund_reverts_unknown_disputed_closed(env):
    with reverts("EscrowUnknownTrade", 3):
        env.escrow.refund(3, {"from": env.stranger})
    trade_id, deliver_by, _ = open_trade(env)
    dispute(env, trade_id)
    warp(deliver_by + 1)
    with reverts("EscrowTradeNotOpen", trade_id, State.DISPUTED):
        env.escrow.refund(trade_id, {"from": env.stranger})
    other, other_by, _ = open_trade(env)
    env.escrow.confirmReceipt(other, {"from": env.buyer})
    with reverts("EscrowTradeNotOpen", other, State.CLOSED):
        env.escrow.refund(other, {"from": env.stranger})


# ---------------------------------------------------------------- disputes


def test_dispute_by_either_party(env):
    for party in (env.buyer, env.seller):
        trade_id, _, _ = open_trade(env)
        deadline, tx = dispute(env, trade_id, by=party)
        assert same(tx.events["DisputeOpened"], [trade_id, party, "0x" + EVIDENCE.hex(), deadline])
        t = trade(env, trade_id)
        assert t["state"] == State.DISPUTED and t["disputedAt"] == tx.timestamp


def test_dispute_reverts(env):
    with reverts("EscrowUnknownTrade", 1):
        env.escrow.dispute(1, EVIDENCE, {"from": env.buyer})
    trade_id, _, _ = open_trade(env)
    for account in (env.arbiter, env.stranger, env.treasury):
        with reverts("EscrowNotParty", trade_id, account):
            env.escrow.dispute(trade_id, EVIDENCE, {"from": account})
    dispute(env, trade_id)
    with reverts("EscrowTradeNotOpen", trade_id, State.DISPUTED):
        env.escrow.dispute(trade_id, EVIDENCE, {"from": env.seller})
    env.escrow.resolve(trade_id, 0, {"from": env.arbiter})
    with reverts("EscrowTradeNotOpen", trade_id, State.CLOSED):
        env.escrow.dispute(trade_id, EVIDENCE, {"from": env.seller})


def test_add_evidence(env):
    trade_id, _, _ = open_trade(env)
    tx = env.escrow.addEvidence(trade_id, EVIDENCE, {"from": env.seller})  # allowed before a dispute too
    assert same(tx.events["EvidenceAdded"], [trade_id, env.seller, "0x" + EVIDENCE.hex()])
    dispute(env, trade_id)
    tx = env.escrow.addEvidence(trade_id, b"\x22" * 32, {"from": env.buyer})
    assert tx.events["EvidenceAdded"]["by"] == env.buyer
    with reverts("EscrowNotParty", trade_id, env.arbiter):
        env.escrow.addEvidence(trade_id, EVIDENCE, {"from": env.arbiter})
    with reverts("EscrowUnknownTrade", 99):
        env.escrow.addEvidence(99, EVIDENCE, {"from": env.buyer})
    env.escrow.resolve(trade_id, 10000, {"from": env.arbiter})
    with reverts("EscrowTradeClosed", trade_id):
        env.escrow.addEvidence(trade_id, EVIDENCE, {"from": env.buyer})


def test_resolve_splits_remainder_fee_on_seller_share_only(env):
    trade_id, _, _ = open_trade(env, shipped_bps=2000, delivered_bps=8000)
    ship(env)
    env.escrow.release(trade_id, {"from": env.stranger})
    first = PRICE * 2000 // BPS
    dispute(env, trade_id)
    tx = env.escrow.resolve(trade_id, 6000, {"from": env.arbiter})
    rest = PRICE - first
    to_seller = rest * 6000 // BPS
    to_buyer = rest - to_seller
    fee = fee_of(to_seller, FEE_BPS)
    assert same(tx.events["DisputeResolved"], [trade_id, env.arbiter, to_seller, to_buyer, fee, False])
    fees = fee_of(first, FEE_BPS) + fee
    assert balances(env, env.usdc) == (first + to_seller - fees, fees, to_buyer)
    t = trade(env, trade_id)
    assert t["state"] == State.CLOSED and t["released"] == first + to_seller


@pytest.mark.parametrize("seller_bps", [0, 10000])
def test_resolve_extremes(env, seller_bps):
    trade_id, _, _ = open_trade(env)
    dispute(env, trade_id)
    env.escrow.resolve(trade_id, seller_bps, {"from": env.arbiter})
    seller, treasury, buyer = balances(env, env.usdc)
    if seller_bps:
        assert (seller, treasury, buyer) == (PRICE - fee_of(PRICE, FEE_BPS), fee_of(PRICE, FEE_BPS), 0)
    else:
        assert (seller, treasury, buyer) == (0, 0, PRICE)


def test_resolve_deadline_edges(env):
    for offset in (-1, 0):
        trade_id, _, _ = open_trade(env)
        deadline, _ = dispute(env, trade_id)
        warp(deadline + offset)
        tx = env.escrow.resolve(trade_id, 5000, {"from": env.arbiter})
        assert tx.timestamp == deadline + offset
    trade_id, _, _ = open_trade(env)
    deadline, _ = dispute(env, trade_id)
    warp(deadline + 1)
    with reverts("EscrowRulingDeadlinePassed", trade_id, deadline):
        env.escrow.resolve(trade_id, 5000, {"from": env.arbiter})


def test_resolve_reverts(env):
    with reverts("EscrowUnknownTrade", 1):
        env.escrow.resolve(1, 0, {"from": env.arbiter})
    trade_id, _, _ = open_trade(env)
    with reverts("EscrowTradeNotDisputed", trade_id, State.OPEN):
        env.escrow.resolve(trade_id, 0, {"from": env.arbiter})
    dispute(env, trade_id)
    for account in (env.buyer, env.seller, env.admin):
        with reverts("EscrowNotArbiter", trade_id, account):
            env.escrow.resolve(trade_id, 0, {"from": account})
    with reverts("EscrowInvalidBps", 10001):
        env.escrow.resolve(trade_id, 10001, {"from": env.arbiter})
    env.escrow.resolve(trade_id, 10000, {"from": env.arbiter})
    with reverts("EscrowTradeNotDisputed", trade_id, State.CLOSED):
        env.escrow.resolve(trade_id, 0, {"from": env.arbiter})


def test_resolve_by_timeout_ruling_deadline_edges(env):
    trade_id, _, _ = open_trade(env, deliver_in=DAY)
    deadline, _ = dispute(env, trade_id)  # the ruling deadline falls after deliverBy
    for at in (deadline - 1, deadline):
        warp(at)
        with reverts("EscrowRulingDeadlineNotPassed", trade_id, deadline):
            env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    warp(deadline + 1)
    tx = env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    assert same(tx.events["DisputeResolved"], [trade_id, env.stranger, 0, PRICE, 0, True])
    assert balances(env, env.usdc) == (0, 0, PRICE)


def test_resolve_by_timeout_pays_seller_when_delivered(env):
    trade_id, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    deadline, _ = dispute(env, trade_id)
    receive(env)
    warp(deadline + 1)
    tx = env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    assert same(tx.events["DisputeResolved"], [trade_id, env.stranger, PRICE, 0, fee_of(PRICE, FEE_BPS), True])
    assert trade(env, trade_id)["state"] == State.CLOSED


def test_resolve_by_timeout_refunds_buyer_when_recalled_even_if_delivered(env):
    trade_id, _, _ = open_trade(env)
    deliver(env)
    deadline, _ = dispute(env, trade_id)
    env.registry.setRecalled(BATCH, True, {"from": env.admin})
    warp(deadline + 1)
    env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    assert balances(env, env.usdc) == (0, 0, PRICE)


def test_resolve_by_timeout_waits_for_deliver_by_edges(env):
    trade_id, deliver_by, _ = open_trade(env, deliver_in=30 * DAY, shipped_bps=3000, delivered_bps=7000)
    ship(env)  # shipped but the Shipped milestone not released before the dispute
    deadline, _ = dispute(env, trade_id)
    assert deadline < deliver_by
    warp(deadline + 1)
    with reverts("EscrowOutcomePending", trade_id, deliver_by):
        env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    for at in (deliver_by - 1, deliver_by):
        warp(at)
        with reverts("EscrowOutcomePending", trade_id, deliver_by):
            env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    warp(deliver_by + 1)
    tx = env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    first = PRICE * 3000 // BPS  # what release would have paid for the shipment
    assert same(
        tx.events["DisputeResolved"], [trade_id, env.stranger, first, PRICE - first, fee_of(first, FEE_BPS), True]
    )


def test_resolve_by_timeout_pending_trade_settles_on_later_delivery(env):
    trade_id, _, _ = open_trade(env, deliver_in=30 * DAY)
    deadline, _ = dispute(env, trade_id)
    warp(deadline + 1)
    with reverts("EscrowOutcomePending"):
        env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    receive(env)
    env.escrow.resolveByTimeout(trade_id, {"from": env.buyer})
    assert balances(env, env.usdc)[0] == PRICE - fee_of(PRICE, FEE_BPS)


def test_resolve_by_timeout_reverts(env):
    with reverts("EscrowUnknownTrade", 1):
        env.escrow.resolveByTimeout(1, {"from": env.stranger})
    trade_id, _, _ = open_trade(env)
    with reverts("EscrowTradeNotDisputed", trade_id, State.OPEN):
        env.escrow.resolveByTimeout(trade_id, {"from": env.stranger})


# ---------------------------------------------------------------- withdrawals


def test_withdraw_erc20_and_native(env):
    erc20, _, _ = open_trade(env)
    native, _, _ = open_trade(env, token=NATIVE, amount=10**18, batch=OTHER_BATCH)
    receive(env)
    receive(env, OTHER_BATCH)
    env.escrow.release(erc20, {"from": env.stranger})
    env.escrow.release(native, {"from": env.stranger})

    before = env.usdc.balanceOf(env.seller)
    tx = env.escrow.withdraw(env.usdc, {"from": env.seller})
    net = PRICE - fee_of(PRICE, FEE_BPS)
    assert same(tx.events["Withdrawn"], [env.seller, env.usdc, env.seller, net])
    assert env.usdc.balanceOf(env.seller) == before + net
    assert env.escrow.withdrawable(env.seller, env.usdc) == 0

    before = env.seller.balance()
    env.escrow.withdraw(NATIVE, {"from": env.seller})
    assert env.seller.balance() == before + 10**18 - fee_of(10**18, FEE_BPS)
    env.escrow.withdraw(NATIVE, {"from": env.treasury})
    env.escrow.withdraw(env.usdc, {"from": env.treasury})
    assert env.escrow.balance() == 0 and env.usdc.balanceOf(env.escrow) == 0


def test_withdraw_nothing_reverts(env):
    with reverts("EscrowNothingToWithdraw", env.seller, env.usdc):
        env.escrow.withdraw(env.usdc, {"from": env.seller})
    with reverts("EscrowNothingToWithdraw", env.seller, NATIVE):
        env.escrow.withdrawTo(NATIVE, env.stranger, {"from": env.seller})


def test_withdraw_to(env):
    trade_id, _, _ = open_trade(env)
    env.escrow.confirmReceipt(trade_id, {"from": env.buyer})
    with reverts("EscrowInvalidRecipient", ZERO):
        env.escrow.withdrawTo(env.usdc, ZERO, {"from": env.seller})
    tx = env.escrow.withdrawTo(env.usdc, env.stranger, {"from": env.seller})
    net = PRICE - fee_of(PRICE, FEE_BPS)
    assert same(tx.events["Withdrawn"], [env.seller, env.usdc, env.stranger, net])
    assert env.usdc.balanceOf(env.stranger) == net


def test_blocklisted_seller_freezes_nobody_else(env):
    blk = env.blk
    blocked_trade, _, _ = open_trade(env, token=blk)
    other_trade, _, _ = open_trade(env, token=blk, batch=OTHER_BATCH, buyer=env.seller, seller=env.stranger)
    blk.setBlocked(env.seller, True, {"from": env.admin})

    env.escrow.confirmReceipt(blocked_trade, {"from": env.buyer})  # crediting a blocked seller works
    with reverts("BlocklistTokenBlocked", env.seller):
        env.escrow.withdraw(blk, {"from": env.seller})

    # the fee recipient, and another seller paid in the same token, still withdraw
    env.escrow.withdraw(blk, {"from": env.treasury})
    receive(env, OTHER_BATCH, buyer=env.seller, shipper=env.stranger)
    env.escrow.release(other_trade, {"from": env.buyer})
    env.escrow.withdraw(blk, {"from": env.stranger})
    assert blk.balanceOf(env.stranger) == PRICE - fee_of(PRICE, FEE_BPS)

    # the blocked seller's credit is intact and can go elsewhere if the issuer allows that transfer
    net = PRICE - fee_of(PRICE, FEE_BPS)
    assert env.escrow.withdrawable(env.seller, blk) == net
    env.escrow.withdrawTo(blk, env.arbiter, {"from": env.seller})
    assert blk.balanceOf(env.arbiter) == net


def test_blocklisted_escrow_only_freezes_that_token(env):
    blk_trade, _, _ = open_trade(env, token=env.blk)
    usd_trade, _, _ = open_trade(env, batch=OTHER_BATCH)
    native_trade, _, _ = open_trade(env, token=NATIVE, amount=10**18, batch=OTHER_BATCH)
    env.blk.setBlocked(env.escrow, True, {"from": env.admin})
    env.escrow.confirmReceipt(blk_trade, {"from": env.buyer})
    with reverts("BlocklistTokenBlocked", env.escrow):
        env.escrow.withdraw(env.blk, {"from": env.seller})
    receive(env, OTHER_BATCH)
    env.escrow.release(usd_trade, {"from": env.stranger})
    env.escrow.release(native_trade, {"from": env.stranger})
    env.escrow.withdraw(env.usdc, {"from": env.seller})
    env.escrow.withdraw(NATIVE, {"from": env.seller})
    env.blk.setBlocked(env.escrow, False, {"from": env.admin})
    env.escrow.withdraw(env.blk, {"from": env.seller})


# ---------------------------------------------------------------- reentrancy and reverting receivers


@pytest.fixture
def receiver(env, ReentrantReceiver):
    return ReentrantReceiver.deploy(env.escrow, {"from": env.admin})


MODE_ACCEPT, MODE_REVERT, MODE_REENTER = 0, 1, 2


@pytest.mark.parametrize("reentry", ["withdraw", "withdrawTo"])
def test_reentrant_seller_cannot_withdraw_twice(env, receiver, reentry):
    amount = 10**18
    for batch in (BATCH, OTHER_BATCH):  # two credits, so a second withdrawal would find funds if it got in
        trade_id, _, _ = open_trade(env, token=NATIVE, amount=amount, seller=receiver, batch=batch)
        env.escrow.confirmReceipt(trade_id, {"from": env.buyer})
    data = (
        env.escrow.withdraw.encode_input(NATIVE)
        if reentry == "withdraw"
        else env.escrow.withdrawTo.encode_input(NATIVE, receiver)
    )
    receiver.setMode(MODE_REENTER, data, {"from": env.admin})
    receiver.execute(env.escrow.withdraw.encode_input(NATIVE), {"from": env.admin})
    assert receiver.reentryAttempts() == 1
    assert receiver.lastReentrySucceeded() is False
    assert receiver.lastReentryError() == "0x" + selector(f"{REENTRANT_CALL}()").hex()
    assert receiver.balance() == 2 * (amount - fee_of(amount, FEE_BPS))
    assert env.escrow.withdrawable(receiver, NATIVE) == 0
    assert env.escrow.balance() == 2 * fee_of(amount, FEE_BPS)  # only the fee recipient's credit is left


@pytest.mark.parametrize("fn", ["release", "refund", "confirmReceipt", "resolveByTimeout"])
def test_reentry_into_settlement_is_blocked(env, receiver, fn):
    amount = 10**18
    paid, _, _ = open_trade(env, token=NATIVE, amount=amount, seller=receiver)
    target, deliver_by, _ = open_trade(env, token=NATIVE, amount=amount, batch=OTHER_BATCH)
    env.escrow.confirmReceipt(paid, {"from": env.buyer})
    deliver(env, OTHER_BATCH)
    receiver.setMode(MODE_REENTER, getattr(env.escrow, fn).encode_input(target), {"from": env.admin})
    receiver.execute(env.escrow.withdraw.encode_input(NATIVE), {"from": env.admin})
    assert receiver.lastReentrySucceeded() is False
    assert receiver.lastReentryError() == "0x" + selector(f"{REENTRANT_CALL}()").hex()
    assert trade(env, target)["state"] == State.OPEN


def test_reentrant_buyer_refund_then_withdraw(env, receiver):
    amount = 10**18
    params = terms(env.seller, env.arbiter, NATIVE, BATCH, amount, latest_timestamp() + DAY)
    tx = receiver.execute(env.escrow.open.encode_input(params), {"from": env.admin, "value": amount})
    trade_id = tx.events["TradeOpened"]["tradeId"]
    assert trade(env, trade_id)["buyer"] == receiver
    warp(latest_timestamp() + DAY + 1)
    receiver.setMode(MODE_REENTER, env.escrow.refund.encode_input(trade_id), {"from": env.admin})
    env.escrow.refund(trade_id, {"from": env.stranger})
    receiver.execute(env.escrow.withdraw.encode_input(NATIVE), {"from": env.admin})
    assert receiver.balance() == amount
    assert receiver.lastReentrySucceeded() is False


def test_reverting_receiver_freezes_nobody_else(env, receiver):
    amount = 10**18
    stuck, _, _ = open_trade(env, token=NATIVE, amount=amount, seller=receiver)
    fine, _, _ = open_trade(env, token=NATIVE, amount=amount, batch=OTHER_BATCH)
    receiver.setMode(MODE_REVERT, b"", {"from": env.admin})
    env.escrow.confirmReceipt(stuck, {"from": env.buyer})
    env.escrow.confirmReceipt(fine, {"from": env.buyer})
    net = amount - fee_of(amount, FEE_BPS)
    with reverts("EscrowNativeTransferFailed", receiver, net):
        receiver.execute(env.escrow.withdraw.encode_input(NATIVE), {"from": env.admin})
    env.escrow.withdraw(NATIVE, {"from": env.seller})
    env.escrow.withdraw(NATIVE, {"from": env.treasury})
    # the receiver can still pull its credit to another address
    before = env.stranger.balance()
    receiver.execute(env.escrow.withdrawTo.encode_input(NATIVE, env.stranger), {"from": env.admin})
    assert env.stranger.balance() == before + net
    assert env.escrow.balance() == 0


# ---------------------------------------------------------------- views


def test_views_for_unknown_trade(env):
    t = trade(env, 42)
    assert t["state"] == State.NONE and t["amount"] == 0
    assert env.escrow.withdrawable(env.buyer, env.usdc) == 0
    assert not env.escrow.isTokenAllowed(env.stranger)


def test_gas_report(env):
    """Prints the gas of the main paths for the record, and bounds it loosely."""
    open_trade(env)  # the first trade pays for zero-to-nonzero counters and balances
    staged, _, tx_open = open_trade(env, shipped_bps=3000, delivered_bps=7000)
    _, _, tx_native = open_trade(env, token=NATIVE, amount=10**18, batch=OTHER_BATCH)
    direct, _, _ = open_trade(env, shipped_bps=3000, delivered_bps=7000, batch=OTHER_BATCH)
    ship(env)
    tx_shipped = env.escrow.release(staged, {"from": env.stranger})
    receive(env)
    tx_delivered = env.escrow.release(staged, {"from": env.stranger})
    receive(env, OTHER_BATCH)
    tx_both = env.escrow.release(direct, {"from": env.stranger})
    tx_withdraw = env.escrow.withdraw(env.usdc, {"from": env.seller})
    report = {
        "open (ERC-20)": tx_open.gas_used,
        "open (native)": tx_native.gas_used,
        "release Shipped": tx_shipped.gas_used,
        "release Delivered": tx_delivered.gas_used,
        "release Shipped+Delivered": tx_both.gas_used,
        "withdraw (ERC-20)": tx_withdraw.gas_used,
    }
    print("\nTradeEscrow gas:", report)
    assert len(tx_both.events["MilestoneReleased"]) == 2
    assert tx_open.gas_used < 250_000 and tx_both.gas_used < 120_000


# ---------------------------------------------------------------- integration with the real TraceRegistry

SHIPPING, RECEIVING = 3, 4  # ITraceRegistry.Step


@pytest.fixture
def traced(env, TraceRegistry, TradeEscrow):
    """A real TraceRegistry with the seller as producer of a registered batch, and an escrow reading it."""
    registry = TraceRegistry.deploy(env.admin, {"from": env.admin})
    registry.grantRole(registry.PRODUCER_ROLE(), env.seller, {"from": env.admin})
    registry.registerBatch(BATCH, b"\x33" * 32, 1_000, b"KGM".ljust(8, b"\0"), {"from": env.seller})
    escrow = TradeEscrow.deploy(env.admin, registry, FEE_BPS, env.treasury, {"from": env.admin})
    escrow.setTokenAllowed(env.usdc, True, {"from": env.admin})
    env.usdc.approve(escrow, 2**256 - 1, {"from": env.buyer})
    params = terms(
        env.seller,
        env.arbiter,
        env.usdc,
        BATCH,
        PRICE,
        latest_timestamp() + 30 * DAY,
        shipped_bps=3000,
        delivered_bps=7000,
    )
    trade_id = escrow.open(params, {"from": env.buyer}).return_value
    return SimpleNamespace(registry=registry, escrow=escrow, trade_id=trade_id)


def test_integration_register_ship_receive_release(env, traced):
    registry, escrow, trade_id = traced.registry, traced.escrow, traced.trade_id
    assert escrow.release(trade_id, {"from": env.stranger}).return_value == 0

    registry.recordEvent(BATCH, SHIPPING, b"\x01" * 32, 0, env.buyer, {"from": env.seller})
    first = escrow.release(trade_id, {"from": env.stranger})
    assert first.events["MilestoneReleased"]["milestone"] == Milestone.SHIPPED
    assert first.return_value == PRICE * 3000 // BPS

    registry.recordEvent(BATCH, RECEIVING, b"\x02" * 32, 0, ZERO, {"from": env.buyer})
    shipment, recalled = registry.latestShipment(BATCH, env.buyer)
    assert shipment[0] == env.seller and shipment[1] != 0 and shipment[3] and not recalled
    second = escrow.release(trade_id, {"from": env.stranger})
    assert second.return_value == PRICE - first.return_value
    assert escrow.getTrade(trade_id).dict()["state"] == State.CLOSED

    before = env.usdc.balanceOf(env.seller)
    escrow.withdraw(env.usdc, {"from": env.seller})
    fees = fee_of(first.return_value, FEE_BPS) + fee_of(second.return_value, FEE_BPS)
    assert env.usdc.balanceOf(env.seller) == before + PRICE - fees


def test_integration_recall_stops_payment_and_timeout_refunds_buyer(env, traced):
    registry, escrow, trade_id = traced.registry, traced.escrow, traced.trade_id
    registry.recordEvent(BATCH, SHIPPING, b"\x01" * 32, 0, env.buyer, {"from": env.seller})
    escrow.release(trade_id, {"from": env.stranger})  # the Shipped milestone is paid
    registry.recall(BATCH, b"\x09" * 32, {"from": env.seller})
    assert escrow.release(trade_id, {"from": env.stranger}).return_value == 0
    deadline = escrow.dispute(trade_id, EVIDENCE, {"from": env.buyer}).timestamp + RULING
    mine_at(deadline + 1)
    tx = escrow.resolveByTimeout(trade_id, {"from": env.stranger})
    first = PRICE * 3000 // BPS
    assert same(tx.events["DisputeResolved"], [trade_id, env.stranger, 0, PRICE - first, 0, True])
