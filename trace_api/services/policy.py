"""The registry's rules, applied off chain before anything captured is stored.

`/capture` and `trace import` store events first and anchor or record them later, signed by the capturing
account. Whatever the chain would refuse (a step the account's roles may not record, a batch it does not hold, a
receipt by someone who is not the consignee, anything on a recalled batch, any capture by an account without a
role) is refused here, per named batch and in file order, so that nothing is written. Two rules go further than
the contract, because an anchored event is only as trustworthy as the party who captured it:

- commissioning (which issues unit serials) is for the batch's registrant only, whoever holds the batch now (the
  chain's own rule, producer role and custody, still applies to a commissioning recorded on chain);
- an event that is no lifecycle step (a TransformationEvent, an AggregationEvent, a step without an on-chain
  code) may only name batches the account is a party to: their registrant, custodian or consignee, or a carrier
  while the batch is in transit (as the chain allows for arriving and departing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from trace_api.domain import EXT
from trace_api.epcis.vocab import STEP_CODES
from trace_api.errors import ForbiddenError
from trace_api.services.context import TraceContext

ZERO = "0x" + "00" * 20
ROLE_NAMES = ("producer", "processor", "carrier", "inspector", "retailer")
_HANDLERS = frozenset({"producer", "processor", "carrier", "retailer"})
_SHIPPERS = frozenset({"producer", "processor", "retailer"})
_ALL = frozenset(ROLE_NAMES)
# step: (roles, any one of which may record it; custodian only). Mirrors TraceRegistry's _RULES table.
STEP_RULES: dict[str, tuple[frozenset[str], bool]] = {
    "commissioning": (frozenset({"producer"}), True),
    "inspecting": (frozenset({"inspector"}), False),
    "packing": (_HANDLERS, True),
    "storing": (_HANDLERS, True),
    "holding": (_HANDLERS, True),
    "destroying": (_HANDLERS, True),
    "transforming": (frozenset({"processor"}), True),
    "retail_selling": (frozenset({"retailer"}), True),
    "shipping": (_SHIPPERS, True),
    "receiving": (frozenset(), False),  # the consignee, whatever its roles
    "arriving": (frozenset({"carrier"}), False),
    "departing": (frozenset({"carrier"}), False),
    "sensor_reporting": (_ALL, False),
}
assert STEP_RULES.keys() == STEP_CODES.keys(), "policy and vocabulary disagree on the on-chain steps"


@dataclass
class BatchState:
    """What the chain says about a batch now, advanced through the events of one capture in order."""

    registrant: str
    custodian: str
    consignee: str
    in_transit: bool
    recalled: bool


def roles_of(ctx: TraceContext, account: str) -> frozenset[str]:
    """The registry roles ``account`` holds now (admin included)."""
    registry = ctx.chain.ref("TraceRegistry")
    held = {
        name for name in ROLE_NAMES if ctx.chain.view(registry, "hasRole", keccak(text=f"{name.upper()}_ROLE"), account)
    }
    if ctx.chain.view(registry, "hasRole", b"\0" * 32, account):
        held.add("admin")
    return frozenset(held)


def batch_state(ctx: TraceContext, batch_id: str) -> BatchState | None:
    registry = ctx.chain.ref("TraceRegistry")
    raw = bytes.fromhex(batch_id[2:])
    if not ctx.chain.view(registry, "exists", raw):
        return None
    view = ctx.chain.view(registry, "getBatch", raw)
    return BatchState(
        registrant=view["producer"].lower(),
        custodian=view["custodian"].lower(),
        consignee=view["consignee"].lower(),
        in_transit=bool(view["inTransit"]),
        recalled=bool(ctx.chain.view(registry, "isRecalled", raw)),
    )


class Policy:
    """One capture's check: roles read once, each batch's state read once and advanced event by event."""

    def __init__(self, ctx: TraceContext, account: str) -> None:
        self.ctx = ctx
        self.account = account.lower()
        self.roles = roles_of(ctx, to_checksum_address(account))
        self._batches: dict[str, BatchState | None] = {}

    def state(self, batch_id: str) -> BatchState | None:
        if batch_id not in self._batches:
            self._batches[batch_id] = batch_state(self.ctx, batch_id)
        return self._batches[batch_id]

    def check_account(self) -> None:
        if not self.roles:
            raise ForbiddenError(
                f"account {self.account} holds no registry role; the chain would refuse its "
                "events (TraceNoRole). Ask the registry admin for a role"
            )

    def check(
        self, step: str | None, batch_ids: Iterable[str], *, to: str | None = None, names: dict[str, str] | None = None
    ) -> None:
        """Raise ForbiddenError if the account may not capture this event for every batch it names; else apply
        its effect (shipping, receiving, arriving) to the batches' state."""
        ids = list(batch_ids)
        for batch_id in ids:
            name = (names or {}).get(batch_id, batch_id)
            state = self.state(batch_id)
            if state is None:
                raise ForbiddenError(f"batch {name} is not registered; register it first")
            self._check_one(step, state, name, to)
        for batch_id in ids:
            self._advance(step, self._batches[batch_id], to)  # type: ignore[arg-type]

    def _check_one(self, step: str | None, s: BatchState, name: str, to: str | None) -> None:
        me = self.account
        if s.recalled:
            raise ForbiddenError(f"batch {name} is recalled; no further events are accepted")
        rule = STEP_RULES.get(step or "")
        if rule is None:
            moving = s.in_transit and (me == s.consignee or "carrier" in self.roles)  # as for arriving/departing
            if me not in (s.registrant, s.custodian) and not moving:
                raise ForbiddenError(
                    f"batch {name}: only its registrant, custodian, consignee or (in transit) a "
                    f"carrier may capture {step or 'events without a business step'} about it"
                )
            return
        roles, custody = rule
        if step == "commissioning":
            # Issuing serials is the brand owner's act, whoever holds the goods now: the registrant alone, with
            # whatever role registered the batch (a processor derives and commissions its own batches).
            if me != s.registrant:
                raise ForbiddenError(f"batch {name}: only its registrant {s.registrant} may commission it or its units")
            return
        if step == "receiving":
            if not s.in_transit:
                raise ForbiddenError(f"batch {name} is not in transit; nothing to receive")
            if me != s.consignee:
                raise ForbiddenError(f"batch {name} is consigned to {s.consignee}, not to {me}")
            return
        if not roles & self.roles:
            raise ForbiddenError(
                f"{step} needs one of the roles {', '.join(sorted(roles))}; account {me} holds "
                f"{', '.join(sorted(self.roles)) or 'none'}"
            )
        if custody and me != s.custodian:
            raise ForbiddenError(f"batch {name} is held by {s.custodian}; only its custodian may record {step}")
        if step in ("arriving", "departing") and not s.in_transit:
            raise ForbiddenError(f"batch {name} is not in transit")
        if step == "shipping":
            if s.in_transit:
                raise ForbiddenError(f"batch {name} is already in transit")
            if not to or to.lower() in (ZERO, me):
                raise ForbiddenError(f"shipping batch {name} needs a consignee other than the shipper")

    @staticmethod
    def _advance(step: str | None, s: BatchState, to: str | None) -> None:
        if step == "shipping" and to:
            s.in_transit, s.consignee = True, to.lower()
        elif step in ("receiving", "arriving"):
            s.in_transit, s.custodian = False, s.consignee


def consignee_of(event: dict[str, Any]) -> str | None:
    value = event.get(f"{EXT}consignee")
    return value if isinstance(value, str) and is_address(value) else None
