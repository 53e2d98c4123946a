"""Custom errors of the contracts as sentences for people.

Every custom error of `TraceRegistry` and `TradeEscrow` has a message here: what happened, in terms of batches
(GTIN and lot), accounts (dev names where known), dates and amounts, and what to do next. Arguments are
formatted by their ABI name and type, so a message names its placeholders after the error's own parameters
(``{id}``, ``{account}``, ``{deliverBy}``). A test walks the compiled ABIs and fails on any error without a message
or with a placeholder that is not one of its parameters.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trace_api.errors import ContractRevert

# {placeholder} -> the error's parameter of that name, formatted for people.
MESSAGES: dict[str, str] = {
    # TraceRegistry
    "TraceUnknownBatch": "{id} is not registered on this chain. Register it first with `trace batch register`, "
    "or check the GTIN and lot.",
    "TraceBatchExists": "{id} is already registered. Use another lot number, or see the batch with `trace batch show`.",
    "TraceInvalidBatchId": "the batch id is empty. Give a GTIN and a lot.",
    "TraceUnauthorizedStep": "{account} may not record {step}: its roles do not allow that step. Ask the registry "
    "admin for the role (`trace role grant`), or sign with `--as` an account that has it.",
    "TraceNotCustodian": "{account} does not hold {id}; {custodian} does. Only the custodian may record this step: "
    "sign with `--as` the custodian, or record the hand-over (shipping, then receiving) first.",
    "TraceNotConsignee": "{id} is on its way to {consignee}, not to {account}. The consignee records the receipt "
    "(sign with `--as` it).",
    "TraceNotInTransit": "{id} is not in transit: nobody recorded its shipment. Record `--step shipping --to "
    "CONSIGNEE` first.",
    "TraceAlreadyInTransit": "{id} is already in transit. Record its receipt (or arrival) before shipping it again.",
    "TraceInvalidConsignee": "{consignee} cannot be a consignee. Name the receiving account with `--to`.",
    "TraceUnexpectedRecipient": "{step} takes no consignee, but {to} was given. Drop `--to` for this step.",
    "TraceBatchRecalled": "{id} has been recalled; nothing more can be recorded for it.",
    "TraceNotProducerOrAdmin": "{account} is neither the producer of {id} nor a registry admin, so it cannot do "
    "this. Sign with `--as` the producer.",
    "TraceNoRole": "{account} holds no role in the registry. Ask the registry admin to grant one "
    "(`trace role grant ROLE ACCOUNT`).",
    "TraceInvalidParents": "a derived batch needs between 1 and the allowed number of parent batches; {count} were "
    "given. Name each parent with `--from GTIN/LOT`.",
    "TraceLineageTooLarge": "this batch would have {ancestors} ancestors, more than the {max} the registry allows. "
    "Derive from fewer parents.",
    "TraceRootExists": "the Merkle root {root} is already anchored; its events are on chain. Nothing to do.",
    "TraceInvalidRoot": "the Merkle root is empty. Re-run `trace anchor`.",
    "TraceEmptyEvents": "no events were given. Nothing was sent.",
    # TradeEscrow
    "EscrowUnknownTrade": "trade {tradeId} does not exist. List trades with `trace escrow list`.",
    "EscrowTradeNotOpen": "trade {tradeId} is {state}, not open, so this cannot be done. See it with "
    "`trace escrow show {tradeId}`.",
    "EscrowTradeNotDisputed": "trade {tradeId} is {state}, not in dispute. The arbiter rules only on a disputed "
    "trade; a party opens a dispute with `trace escrow dispute {tradeId}`.",
    "EscrowTradeClosed": "trade {tradeId} is closed: nothing is left in escrow. Withdraw what you are owed with "
    "`trace escrow withdraw`.",
    "EscrowNotBuyer": "only the buyer of trade {tradeId} may do this, not {account}. Sign with `--as` the buyer.",
    "EscrowNotParty": "{account} is neither the buyer nor the seller of trade {tradeId}. Sign with `--as` one of them.",
    "EscrowNotArbiter": "only the arbiter of trade {tradeId} may rule, not {account}. Sign with `--as` the arbiter.",
    "EscrowDeliveryDeadlineNotPassed": "trade {tradeId} can be refunded only after its delivery deadline, "
    "{deliverBy}. Wait until then (on the local chain: `trace node warp`).",
    "EscrowAlreadyDelivered": "trade {tradeId} cannot be refunded: the goods were delivered on {deliveredAt}. "
    "If they were not as agreed, open a dispute.",
    "EscrowRulingDeadlinePassed": "the arbiter's deadline for trade {tradeId} passed on {rulingDeadline}. Either "
    "party can now settle it by the default ruling (`trace escrow resolve-timeout {tradeId}`).",
    "EscrowRulingDeadlineNotPassed": "the arbiter of trade {tradeId} has until {rulingDeadline} to rule. The "
    "default ruling applies only after that.",
    "EscrowOutcomePending": "trade {tradeId} has no outcome yet: neither delivered nor past its deadline "
    "({deliverBy}). Wait for the delivery or the deadline.",
    "EscrowInvalidBps": "{bps} is not a valid share: shares are between 0 and 100 %.",
    "EscrowInvalidSeller": "{seller} cannot be the seller (not the zero address, not the buyer itself).",
    "EscrowInvalidArbiter": "{arbiter} cannot be the arbiter: it must be a third party, neither buyer nor seller.",
    "EscrowTokenNotAllowed": "the token {token} is not accepted by this escrow. Use one of the allowed tokens "
    "(`trace escrow tokens`), or ask the escrow admin to allow it.",
    "EscrowInvalidToken": "{token} is not a usable token contract.",
    "EscrowInvalidAmount": "the amount must be more than zero (got {amount}).",
    "EscrowInvalidDeadline": "the delivery deadline {deliverBy} is not in the future (chain time is {timestamp}). "
    "Give a later `--deliver-by`.",
    "EscrowInvalidRulingPeriod": "a ruling period of {rulingPeriod} is outside the allowed range.",
    "EscrowInvalidDisputeWindow": "a dispute window of {disputeWindow} is outside the allowed range.",
    "EscrowInvalidSchedule": "the milestones must add up to 100 % (shipped {shippedBps}, delivered {deliveredBps}).",
    "EscrowUnknownBatch": "{batchId} is not registered. A trade must name a registered batch.",
    "EscrowBatchRecalled": "{batchId} has been recalled; no trade can be opened for it.",
    "EscrowNativeValueMismatch": "the coin sent ({value}) is not the trade amount ({expected}).",
    "EscrowTransferAmountMismatch": "the token {token} delivered {received} instead of {expected} (a fee-on-transfer "
    "token?). Such tokens cannot be used.",
    "EscrowNothingToWithdraw": "{account} has nothing to withdraw in {token}.",
    "EscrowNativeTransferFailed": "sending {amount} to {to} failed: the recipient refused the coin. Withdraw to "
    "another address.",
    "EscrowInvalidRecipient": "{to} cannot receive the withdrawal. Give another address.",
    "EscrowFeeTooHigh": "a fee of {feeBps} is above the maximum of {maxFeeBps}.",
    "EscrowInvalidFeeRecipient": "{recipient} cannot receive fees.",
    "EscrowInvalidAddress": "{account} is not a valid address here.",
    "EscrowInvalidPlace": "{place} is not a UN/LOCODE named place: give two letters of the country, then three "
    "letters or digits 2-9 (e.g. CNSHA for Shanghai), and only together with an Incoterms rule (`--incoterm`).",
    "EscrowNoPriceFeed": "no price feed converts {currency} into {token} on this escrow, so an invoice in {currency} "
    "cannot be paid in that token. Invoice in the token itself (`--amount`), or ask the escrow admin to set a feed.",
    "EscrowStaleRate": "the {currency} rate is stale: the feed's latest round ({roundId}) was updated {updatedAt}, "
    "more than {maxAge} ago. Nothing was opened; try again once the feed has a fresh round.",
    "EscrowRateSlipped": "the exchange rate moved from the quoted {quotedRate} to {rate} (feed units), more than "
    "the {maxSlippageBps} allowed. Nothing was opened; open again at the new quote, or allow more slippage "
    "(`--max-slippage`).",
    "EscrowInvalidRate": "the price feed answered an unusable rate ({answer}); nothing was opened. Ask the escrow "
    "admin to check the feed.",
    "EscrowInvalidLines": "an order has {count} lines: give 2 to 20 lines (`--lot GTIN/LOT=AMOUNT` repeated), and no "
    "separate batch beside them.",
    "EscrowLinesMismatch": "the order's lines add up to {linesTotal}, not to the order's total {orderTotal} (smallest "
    "units of the token, or of the invoice's currency). Correct the lines' amounts or the total.",
    "EscrowInvalidInvoice": "an invoice of {amount} (minor units of {currency}) is zero or too large.",
    "EscrowInvalidPriceFeed": "{feed} cannot be used as a price feed here (not a feed contract, or a maximum age "
    "under one minute, or more than 4 currency decimals).",
    # OrgDirectory
    "OrgUnauthorizedAccount": "{account} is not a registry admin, so it cannot vouch for organisations. Sign with "
    "`--as` an admin.",
    "OrgInvalidAccount": "{account} cannot belong to an organisation. Give the organisation's account.",
    "OrgInvalidProfile": "the organisation profile is empty. Give at least a legal name and a country.",
    "OrgUnknownAccount": "{account} has no organisation profile to revoke. See `trace org list`.",
    # OpenZeppelin building blocks both contracts inherit
    "AccessControlUnauthorizedAccount": "{account} lacks the {neededRole} role needed for this. Ask an admin to "
    "grant it (`trace role grant`), or sign with `--as` an account that has it.",
    "AccessControlBadConfirmation": "an account can renounce only its own role. Sign as the account itself.",
    "EnforcedPause": "the contract is paused by its admin; nothing can be opened or moved until it is unpaused.",
    "ExpectedPause": "the contract is not paused, so it cannot be unpaused.",
    "ReentrancyGuardReentrantCall": "a call tried to re-enter the contract and was stopped. Nothing was moved.",
    "SafeCastOverflowedUintDowncast": "the value {value} is too large for the contract (it holds {bits} bits). "
    "Give a smaller amount or an earlier date.",
    "SafeERC20FailedOperation": "the token {token} refused the transfer (balance, allowance or a blocklist). "
    "Check the balance and allowance, then try again.",
}

_TIME_NAMES = frozenset(
    {"deliverBy", "deliveredAt", "rulingDeadline", "timestamp", "openedAt", "receivedAt", "updatedAt"}
)
_DURATION_NAMES = frozenset({"rulingPeriod", "disputeWindow", "maxAge"})
_BPS_NAMES = frozenset({"bps", "shippedBps", "deliveredBps", "feeBps", "maxFeeBps", "maxSlippageBps"})
_CODE_TYPES = frozenset({"bytes3", "bytes5"})  # ISO 4217 currency codes and UN/LOCODEs, ASCII
_NATIVE_VALUE_ERRORS = frozenset({"EscrowNativeValueMismatch", "EscrowNativeTransferFailed"})


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def role_names(abis: Iterable[list[dict[str, Any]]]) -> dict[str, str]:
    """Role id -> name, for every `*_ROLE` constant of the ABIs (AccessControl ids are keccak256 of the name)."""
    from eth_utils.crypto import keccak

    names = {"0x" + "00" * 32: "admin"}
    for abi in abis:
        for item in abi:
            name = item.get("name", "")
            if item.get("type") == "function" and name.endswith("_ROLE") and name != "DEFAULT_ADMIN_ROLE":
                names["0x" + keccak(text=name).hex()] = name.removesuffix("_ROLE").lower()
    return names


def error_inputs(abis: Iterable[list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Each custom error of the ABIs, by name, with its inputs (name, type, internalType)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") == "error":
                found[item["name"]] = list(item.get("inputs", []))
    return found


@dataclass(frozen=True)
class Describer:
    """How to name things: batches as GTIN/lot, accounts by dev or keystore name, enum values by name."""

    batch: Callable[[str], str | None] = lambda _id: None
    account: Callable[[str], str | None] = lambda _address: None
    amount: Callable[[str | None, int], str | None] = lambda _token, _value: None
    enums: dict[str, tuple[str, ...]] | None = None
    roles: dict[str, str] | None = None

    def format(self, error: str, param: dict[str, Any], value: Any, args: dict[str, Any]) -> str:
        name, abi_type = param.get("name", ""), param.get("type", "")
        internal = str(param.get("internalType", ""))
        if internal.startswith("enum "):
            members = (self.enums or {}).get(internal.rsplit(".", 1)[-1], ())
            return members[value] if isinstance(value, int) and value < len(members) else str(value)
        if abi_type == "bytes32" and name in {"neededRole", "role"}:
            return (self.roles or {}).get(str(value).lower(), _short(str(value)))
        if abi_type == "bytes32" and name in {"id", "batchId"}:
            return self.batch(str(value)) or f"batch {_short(str(value))}"
        if abi_type == "bytes32":
            return _short(str(value))
        if abi_type in _CODE_TYPES:
            return _code(value)
        if abi_type == "address":
            label = self.account(str(value))
            return f"{label} ({_short(str(value))})" if label else str(value)
        if name in _TIME_NAMES and isinstance(value, int):
            return _date(value)
        if name in _DURATION_NAMES and isinstance(value, int):
            return _duration(value)
        if name in _BPS_NAMES and isinstance(value, int):
            return f"{value / 100:g} %"
        if isinstance(value, int) and name in {"value", "expected", "received", "amount"}:
            token = None if error in _NATIVE_VALUE_ERRORS else args.get("token")
            shown = self.amount(token, value)
            if shown:
                return shown
        return str(value)


def explain(exc: ContractRevert, *, inputs: dict[str, list[dict[str, Any]]], describer: Describer) -> str:
    """The sentence for a decoded revert; the raw form when the error is unknown (``--traceback`` shows it too)."""
    template = MESSAGES.get(exc.error)
    params = inputs.get(exc.error)
    if template is None or params is None or len(params) != len(exc.args_):
        return str(exc)
    raw = {p["name"]: v for p, v in zip(params, exc.args_, strict=True)}
    shown = {p["name"]: describer.format(exc.error, p, v, raw) for p, v in zip(params, exc.args_, strict=True)}
    text = template.format(**shown)
    return text[0].upper() + text[1:]


def _code(value: Any) -> str:
    """A short ASCII code (currency, UN/LOCODE) as text, or "an unreadable code" where it is not printable."""
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    text = raw.rstrip(b"\0").decode("ascii", errors="replace")
    return f'"{text}"' if text.isprintable() and text.isascii() else "an unreadable code"


def _short(hex_value: str) -> str:
    return hex_value if len(hex_value) <= 12 else f"{hex_value[:6]}…{hex_value[-4:]}"


def _date(unix: int) -> str:
    if unix == 0:
        return "never"
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def describer_for(settings: Any, chain: Any | None = None, roles: dict[str, str] | None = None) -> Describer:
    """Name things from what this installation knows: the index's batch keys, dev and keystore accounts, tokens.

    Every lookup is best effort: a name that cannot be found falls back to the raw value, never to an error.
    """
    from trace_api.chain.accounts import account_names
    from trace_api.chain.erc20 import token_abi
    from trace_api.epcis.vocab import STEP_CODES
    from trace_api.services.escrow import STATES

    names = account_names(settings)
    if chain is not None:
        try:
            names |= {address.lower(): f"token {symbol}" for symbol, address in chain.deployment().tokens.items()}
        except Exception:  # noqa: BLE001 - no deployment yet: accounts keep their names, tokens their addresses
            pass

    def batch(batch_id: str) -> str | None:
        try:
            from trace_api.index import queries
            from trace_api.index.store import get_engine

            with get_engine(settings).connect() as conn:
                keys = queries.keys_of(conn, [batch_id.lower()])
        except Exception:  # noqa: BLE001 - a missing or locked index only costs the nicer name
            return None
        return "batch {}/{}".format(*keys[batch_id.lower()]) if keys else None

    def amount(token: str | None, value: int) -> str | None:
        if token is None or int(token, 16) == 0:
            return f"{value / 10**18:f}".rstrip("0").rstrip(".") + " (native coin)"
        if chain is None:
            return None
        try:
            erc20 = chain.w3.eth.contract(address=chain.w3.to_checksum_address(token), abi=token_abi())
            decimals, symbol = erc20.functions.decimals().call(), erc20.functions.symbol().call()
        except Exception:  # noqa: BLE001 - not a token, or the node went away: show the raw units
            return None
        from decimal import Decimal

        return f"{(Decimal(value) / Decimal(10) ** decimals).normalize():f} {symbol}"

    steps = tuple(name for name, _ in sorted(STEP_CODES.items(), key=lambda kv: kv[1]))
    return Describer(
        batch=batch,
        account=lambda address: names.get(address.lower()),
        amount=amount,
        enums={"Step": steps, "State": tuple(STATES)},
        roles=roles,
    )


def explain_revert(exc: ContractRevert, *, settings: Any, chain: Any | None) -> str:
    """:func:`explain` with this installation's ABIs and names; the raw form if the ABIs are not at hand."""
    if not exc.error or chain is None:
        return str(exc)
    abis = [artifact.abi for artifact in chain.artifacts.values()]
    return explain(exc, inputs=error_inputs(abis), describer=describer_for(settings, chain, role_names(abis)))
