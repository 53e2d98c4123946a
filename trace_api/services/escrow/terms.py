"""Trade terms beside the money: Incoterms 2020 rule and named place (UN/LOCODE), and an invoice in another currency
converted at a price feed's round.

Checked here before anything is signed, so that bad input is a :class:`ValidationError` and nothing is sent:

- the rule is one of the eleven of Incoterms 2020;
- the place has a UN/LOCODE's shape and its first two letters are an ISO 3166-1 country (Babel's territory list);
- the sea and inland-waterway rules (FAS, FOB, CFR, CIF) name a port. No UN/LOCODE function classifiers ship with
  this tool (they are not in any offline package), so the rule chosen is: the buyer states that the place is a port
  (``port=True``, ``--port`` on the CLI); without that statement a sea rule is refused. The contract checks the
  shape only; whether a code is assigned and a port stays off chain;
- an invoice currency is an ISO 4217 code Babel knows, its amount has at most the currency's minor-unit decimals, and
  a price feed converts it into the settlement token.

The contract, not this module, is the authority on the rate: the quote shown to the buyer is the feed's latest
round, and ``open`` refuses a stale round or one that moved beyond the buyer's slippage from that quote.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from babel.numbers import get_currency_precision, is_currency
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from trace_api.chain.artifacts import load_enums, load_structs
from trace_api.domain import is_country
from trace_api.errors import ValidationError
from trace_api.services.context import TraceContext
from trace_api.services.escrow.inputs import BPS, MAX_LINES, iso
from trace_api.services.escrow.results import InvoiceTerms, OrderInfo, TermsView
from trace_api.services.escrow.trades import named_outputs, view_named

__all__ = [
    "INCOTERMS",
    "MAX_LINES",
    "SEA_RULES",
    "Invoice",
    "OrderLine",
    "Quote",
    "default_schedule",
    "describe_terms",
    "parse_incoterm",
    "parse_invoice",
    "parse_line",
    "parse_lines_csv",
    "parse_place",
    "parse_slippage",
    "quote",
]

# ITradeEscrow.Incoterm, by value (0 is "none").
INCOTERMS = tuple(name.upper() for name in load_enums()["ITradeEscrow.Incoterm"])  # NONE, EXW, FCA, … CIF
SEA_RULES = frozenset({"FAS", "FOB", "CFR", "CIF"})
D_RULES = frozenset({"DAP", "DPU", "DDP"})
DEFAULT_SLIPPAGE = "0.5%"
MAX_SLIPPAGE_BPS = 1_000  # 10 %: beyond that the quote means nothing
# An invoice amount is recorded in ``ITradeEscrow.Terms.invoiceAmount``: its width bounds it.
_MAX_INVOICE = 2 ** int(load_structs()["ITradeEscrow.Terms"]["invoiceAmount"].removeprefix("uint")) - 1
_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
_ZERO3 = b"\0" * 3
_LINE = re.compile(r"^\s*(\d{8,14})\s*/\s*([^=]+?)\s*(?:=\s*(\S+))?\s*$")


@dataclass(frozen=True)
class OrderLine:
    """One purchase-order line: a batch (GTIN and lot) and its share of the price, as written (in the token, or in
    the invoice's currency)."""

    gtin: str
    lot: str
    amount: str


def parse_line(value: str, *, need_amount: bool) -> OrderLine:
    """ "GTIN/LOT=AMOUNT" as an order line; "GTIN/LOT" alone (one batch, the whole price) when not ``need_amount``."""
    match = _LINE.match(value)
    if not match or (need_amount and not match.group(3)):
        raise ValidationError(f"order line {value!r}: write GTIN/LOT=AMOUNT, e.g. 09506000134352/L1=5000")
    return OrderLine(match.group(1), match.group(2), match.group(3) or "")


def parse_lines_csv(path: Path) -> list[OrderLine]:
    """Order lines from a CSV with the columns gtin, lot and amount (a header row, UTF-8)."""
    if not path.is_file():
        raise ValidationError(f"lines file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"gtin", "lot", "amount"} <= {f.strip().lower() for f in reader.fieldnames}:
            raise ValidationError(f"lines file {path}: needs the columns gtin, lot and amount")
        rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    if not rows:
        raise ValidationError(f"lines file {path} has no lines")
    lines = []
    for number, row in enumerate(rows, start=2):
        if not row["gtin"] or not row["lot"] or not row["amount"]:
            raise ValidationError(f"lines file {path}, row {number}: gtin, lot and amount are all needed")
        lines.append(OrderLine(row["gtin"], row["lot"], row["amount"]))
    return lines


def parse_incoterm(value: str | None) -> int:
    """An Incoterms 2020 rule by its three letters, as the contract's enum value; None or "" is no rule (0)."""
    if value is None or not value.strip():
        return 0
    code = value.strip().upper()
    if code not in INCOTERMS[1:]:
        raise ValidationError(
            f"unknown Incoterm {value!r}: use one of the Incoterms 2020 rules {', '.join(INCOTERMS[1:])}"
        )
    return INCOTERMS.index(code)


def parse_place(value: str | None, *, incoterm: int, port: bool = False) -> bytes:
    """The named place as the 5 bytes of its UN/LOCODE ("CNSHA", "CN SHA" and "cnsha" alike); empty without a rule.

    A sea rule (FAS, FOB, CFR, CIF) needs a port: the caller states it with ``port``.
    """
    text = (value or "").strip().upper().replace(" ", "")
    if incoterm == 0:
        if text:
            raise ValidationError(f"place {value}: a named place goes with an Incoterms rule; give --incoterm too")
        return b"\0" * 5
    rule = INCOTERMS[incoterm]
    if not text:
        raise ValidationError(f"{rule} needs its named place as a UN/LOCODE, e.g. --place CNSHA")
    if not _LOCODE.match(text):
        raise ValidationError(
            f"place {value!r} is not a UN/LOCODE: two letters of the country, then three letters "
            f"or digits 2-9, e.g. CNSHA or NLRTM"
        )
    if not is_country(text[:2]):
        raise ValidationError(f"place {text}: {text[:2]} is not an ISO 3166-1 country code")
    if rule in SEA_RULES and not port:
        raise ValidationError(
            f"{rule} is for sea and inland waterway transport: its named place must be a port. "
            f"If {text} is one, confirm with --port; otherwise use FCA, CPT or CIP"
        )
    return text.encode()


def default_schedule(incoterm: int) -> tuple[int, int]:
    """The (shippedBps, deliveredBps) the contract applies by default: on the seller's shipment for EXW and the F
    and C rules, on delivery for the D rules and without a rule. Mirrors ``TradeEscrow._defaultShippedBps``."""
    rule = INCOTERMS[incoterm]
    return (0, BPS) if rule == "NONE" or rule in D_RULES else (BPS, 0)


@dataclass(frozen=True)
class Invoice:
    amount: int  # minor units of the currency
    currency: str
    decimals: int  # ISO 4217 minor unit

    @property
    def code(self) -> bytes:
        return self.currency.encode()

    def shown(self) -> str:
        return f"{format_minor(self.amount, self.decimals)} {self.currency}"


def format_minor(units: int, decimals: int) -> str:
    whole, frac = divmod(int(units), 10**decimals)
    return f"{whole}.{str(frac).zfill(decimals)}" if decimals else str(whole)


def parse_invoice(amount: str, currency: str) -> Invoice:
    """An invoice amount ("11500.00") in an ISO 4217 currency ("EUR"), as minor units (cents)."""
    code = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or not is_currency(code):
        raise ValidationError(f"unknown currency {currency!r}: give an ISO 4217 code such as EUR, CNY or USD")
    decimals = int(get_currency_precision(code))
    try:
        number = Decimal(amount.strip())
    except InvalidOperation as exc:
        raise ValidationError(f"invoice amount {amount!r} is not a number") from exc
    if not number.is_finite() or number <= 0:
        raise ValidationError(f"invoice amount {amount!r} must be a positive number")
    scaled = number.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValidationError(f"invoice amount {amount} has more than {decimals} decimals, {code}'s minor unit")
    if scaled > _MAX_INVOICE:
        raise ValidationError(f"invoice amount {amount} is too large")
    return Invoice(int(scaled), code, decimals)


def parse_slippage(value: str | int | None) -> int:
    """The buyer's tolerance for the rate moving between quote and open: "0.5%", "50bps" or bps as an int."""
    if value is None:
        value = DEFAULT_SLIPPAGE
    if isinstance(value, int):
        bps = value
    else:
        text = value.strip().lower().replace(" ", "")
        try:
            if text.endswith("%"):
                scaled = Decimal(text[:-1]) * 100
            elif text.endswith("bps"):
                scaled = Decimal(text[:-3])
            else:
                raise ValidationError(f"max slippage {value!r}: write a percent (0.5%) or basis points (50bps)")
        except InvalidOperation as exc:
            raise ValidationError(f"max slippage {value!r} is not a number") from exc
        if not scaled.is_finite() or scaled != scaled.to_integral_value():
            raise ValidationError(f"max slippage {value}: at most two decimals of a percent (1 bps)")
        bps = int(scaled)
    if not 0 <= bps <= MAX_SLIPPAGE_BPS:
        raise ValidationError(f"max slippage {value}: must be between 0% and {MAX_SLIPPAGE_BPS / 100:g}%")
    return bps


@dataclass(frozen=True)
class Quote:
    """A feed's round for an invoice: the token amount it converts to, the rate and the round."""

    amount_units: int
    rate: int
    rate_decimals: int
    round_id: int
    round_time: int


def quote(
    ctx: TraceContext,
    escrow: Contract,
    invoice: Invoice,
    *,
    token_address: str,
    token_symbol: str,
    call: Callable[[ContractFunction], Any],
) -> Quote:
    """The feed's latest round for the invoice: the token amount it converts to, the rate and the round.

    An unknown pair is a ValidationError; a stale or invalid round reverts in the contract's ``quote`` and is raised
    as its decoded custom error (``call`` is the sender's, which decodes reverts), the same one ``open`` would raise.
    """
    feed = view_named(ctx, escrow, "priceFeed", invoice.code, token_address)
    if int(feed["feed"], 16) == 0:
        raise ValidationError(
            f"no price feed converts {invoice.currency} into {token_symbol} on this chain: "
            f"invoice in {token_symbol} itself (--amount), or ask the escrow admin for a feed"
        )
    quoted = named_outputs(escrow, "quote", call(escrow.functions.quote(invoice.code, token_address, invoice.amount)))
    return Quote(
        amount_units=int(quoted["amount"]),
        rate=int(quoted["rate"]),
        rate_decimals=int(feed["feedDecimals"]),
        round_id=int(quoted["roundId"]),
        round_time=int(quoted["updatedAt"]),
    )


def describe_terms(raw: dict[str, Any], *, trade_id: int) -> TermsView:
    """``getTerms`` (decoded by its field names) as the read model's terms: ``incoterm``, ``place``, ``invoice``
    (None without one; for a line of an order, that line's share) and ``order`` (None for a trade of one batch)."""
    invoice = None
    currency = bytes(raw["currency"])
    if currency != _ZERO3:
        code = currency.decode("ascii")
        decimals = int(get_currency_precision(code)) if is_currency(code) else 2
        invoice = InvoiceTerms(
            amount=format_minor(raw["invoiceAmount"], decimals),
            amount_minor_units=str(raw["invoiceAmount"]),
            currency=code,
            rate=_rate_text(int(raw["rate"]), int(raw["rateDecimals"])),
            rate_units=str(raw["rate"]),
            rate_decimals=int(raw["rateDecimals"]),
            round_id=str(raw["roundId"]),
            round_time=iso(int(raw["roundTime"])),
        )
    order = None
    line, line_count = int(raw["line"]), int(raw["lineCount"])
    if line_count:
        first = trade_id - line + 1
        order = OrderInfo(line=line, lines=line_count, trade_ids=list(range(first, first + line_count)))
    incoterm = int(raw["incoterm"])
    return TermsView(
        incoterm=INCOTERMS[incoterm] if incoterm else None,
        place=bytes(raw["place"]).decode("ascii") if incoterm else None,
        invoice=invoice,
        order=order,
    )


def _rate_text(rate: int, decimals: int) -> str:
    text = format_minor(rate, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text
