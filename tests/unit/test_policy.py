"""The off-chain registry rules (trace_api.services.policy) against the contract's table, without a chain."""

from __future__ import annotations

import pytest

from trace_api.errors import ForbiddenError
from trace_api.services.policy import BatchState, Policy

PRODUCER, CARRIER, SHOP, OTHER = "0x" + "01" * 20, "0x" + "02" * 20, "0x" + "03" * 20, "0x" + "04" * 20
ROLES = {PRODUCER: {"producer"}, CARRIER: {"carrier"}, SHOP: {"retailer"}, OTHER: {"producer"}}


def policy(account: str, state: BatchState) -> Policy:
    rules = Policy.__new__(Policy)
    rules.ctx, rules.account, rules.roles = None, account, frozenset(ROLES[account])  # type: ignore[assignment]
    rules._batches = {"b": state}
    return rules


def held(
    by: str = PRODUCER, *, transit: bool = False, consignee: str = "0x" + "00" * 20, recalled: bool = False
) -> BatchState:
    return BatchState(registrant=PRODUCER, custodian=by, consignee=consignee, in_transit=transit, recalled=recalled)


@pytest.mark.parametrize(
    ("account", "step", "state", "to", "allowed"),
    [
        (PRODUCER, "commissioning", held(), None, True),
        (PRODUCER, "commissioning", held(SHOP), None, True),  # serials are the registrant's, whoever holds the goods
        (OTHER, "commissioning", held(OTHER), None, False),  # another producer, even holding it
        (CARRIER, "commissioning", held(), None, False),
        (PRODUCER, "storing", held(), None, True),
        (OTHER, "storing", held(), None, False),  # the role, but not the custody
        (CARRIER, "shipping", held(CARRIER), SHOP, False),  # carriers do not ship
        (PRODUCER, "shipping", held(), PRODUCER, False),  # to itself
        (PRODUCER, "shipping", held(transit=True, consignee=SHOP), SHOP, False),
        (PRODUCER, "shipping", held(), SHOP, True),
        (SHOP, "receiving", held(transit=True, consignee=SHOP), None, True),
        (CARRIER, "receiving", held(transit=True, consignee=SHOP), None, False),
        (CARRIER, "arriving", held(transit=True, consignee=SHOP), None, True),
        (CARRIER, "arriving", held(), None, False),
        (CARRIER, "sensor_reporting", held(), None, True),
        (SHOP, "inspecting", held(SHOP), None, False),
        (CARRIER, "loading", held(), None, False),  # no lifecycle step: parties only
        (CARRIER, "loading", held(transit=True, consignee=SHOP), None, True),
        (SHOP, None, held(transit=True, consignee=SHOP), None, True),
        (OTHER, None, held(), None, False),
        (PRODUCER, "storing", held(recalled=True), None, False),
    ],
)
def test_rules(account: str, step: str | None, state: BatchState, to: str | None, allowed: bool) -> None:
    rules = policy(account, state)
    if allowed:
        rules.check(step, ["b"], to=to)
    else:
        with pytest.raises(ForbiddenError):
            rules.check(step, ["b"], to=to)


def test_steps_advance_the_state_within_one_capture() -> None:
    rules = policy(PRODUCER, held())
    rules.check("shipping", ["b"], to=SHOP)
    with pytest.raises(ForbiddenError, match="held by|already in transit"):
        rules.check("shipping", ["b"], to=SHOP)
    shop = policy(SHOP, rules._batches["b"])  # type: ignore[arg-type]
    shop.check("receiving", ["b"])
    shop.check("retail_selling", ["b"])
