"""A trade's statement for the books: every movement of its money, read from the escrow's logs on chain.

Rows, oldest first: ``funded`` (buyer to escrow), ``released`` (a milestone, or the buyer's confirmation, credited
to the seller net of the fee), ``fee`` (credited to the fee recipient), ``refunded`` (credited back to the buyer),
``ruling to seller`` / ``ruling to buyer`` (a dispute's settlement), and ``withdrawal`` (a party pulled its credits
of the trade's token out of the escrow). Each has its block, time, transaction, token amount and, when the trade
was invoiced in another currency, the amount in that currency at the trade's recorded rate.

Conservation: funded = released + fee + refunded + ruling to seller + ruling to buyer + still in escrow. The
escrow pools an account's credits per token, so a withdrawal may also carry credits of the party's other trades;
withdrawals are listed for the reconciliation of the party's wallet and kept out of the trade's totals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trace_api.chain.client import guarded
from trace_api.errors import ValidationError
from trace_api.services.context import TraceContext
from trace_api.services.escrow.inputs import format_amount
from trace_api.services.escrow.logs import Log, escrow_contract, fee_updates, trade_logs, withdrawals
from trace_api.services.escrow.read import show_trade
from trace_api.services.escrow.results import InvoiceTerms, TradeDetail
from trace_api.services.escrow.tokens import TokenInfo
from trace_api.services.escrow.trades import MILESTONE_NAMES

__all__ = ["COLUMNS", "FORMATS", "Statement", "StatementPublic", "StatementRow", "render", "statement"]

FORMATS = ("csv", "pdf")
COLUMNS = (
    "trade_id",
    "block",
    "time",
    "tx_hash",
    "log_index",
    "movement",
    "milestone",
    "line",
    "from",
    "to",
    "token",
    "amount",
    "amount_units",
    "invoice_currency",
    "invoice_amount",
    "rate",
)
# The trade's totals, by movement; "withdrawal" is not one of them (see the module's note).
TOTALS = ("funded", "released", "fee", "refunded", "ruling to seller", "ruling to buyer")
_EVENTS = ("TradeOpened", "MilestoneReleased", "ReceiptConfirmed", "TradeRefunded", "DisputeResolved")


class StatementRow(BaseModel):
    """One movement of the trade's money, with the columns of :data:`COLUMNS` (``from`` is a Python keyword)."""

    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True)
    trade_id: int
    block: int
    time: str
    tx_hash: str
    log_index: int
    movement: str
    milestone: str
    line: int | str = Field(description="The order line the movement belongs to, empty for the whole trade")
    from_: str = Field(serialization_alias="from")
    to: str
    token: str
    amount: str
    amount_units: str
    invoice_currency: str
    invoice_amount: str
    rate: str


class StatementPublic(BaseModel):
    """A statement as `--json` shows it: the rows, and the trade's totals per movement in the token's unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    trade_id: int
    state: str
    token: TokenInfo
    invoice: InvoiceTerms | None
    columns: list[str]
    rows: list[StatementRow]
    totals: dict[str, str]


@dataclass
class Statement:
    trade: TradeDetail
    rows: list[StatementRow] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # movement -> token units

    def public(self) -> StatementPublic:
        decimals = self.trade.token.decimals
        return StatementPublic(
            trade_id=self.trade.trade_id,
            state=self.trade.state,
            token=self.trade.token,
            invoice=self.trade.invoice,
            columns=list(COLUMNS),
            rows=self.rows,
            totals={k: format_amount(v, decimals) for k, v in self.totals.items()},
        )


def _time(unix: int) -> str:
    return dt.datetime.fromtimestamp(unix, dt.UTC).isoformat().replace("+00:00", "Z")


def _invoice_amount(units: int, decimals: int, invoice: InvoiceTerms | None) -> tuple[str, str, str]:
    """(currency, amount, rate): the token amount in the invoice currency at the trade's rate, which is the price
    of one invoice-currency unit in the token (EUR/USD 1.08 for a EUR invoice settled in USDC); two decimals,
    rounded half-even. Empty without an invoice."""
    if invoice is None or not invoice.currency or not int(invoice.rate_units):
        return "", "", ""
    # the read model's rate: rate_units in the feed's decimals (the text "rate" is for people)
    rate = Decimal(int(invoice.rate_units)) / (Decimal(10) ** invoice.rate_decimals)
    if rate <= 0:
        return "", "", ""
    amount = (Decimal(units) / (Decimal(10) ** decimals) / rate).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    return invoice.currency, str(amount), str(rate)


def statement(ctx: TraceContext, *, trade_id: int) -> Statement:
    """The statement of a trade (NotFoundError for an unknown one)."""
    trade = show_trade(ctx, trade_id=trade_id)
    token = trade.token
    buyer, seller, vault = trade.buyer, trade.seller, escrow_contract(ctx).address
    updates = fee_updates(ctx)

    def fee_recipient(log: Log) -> str:
        """The account credited with a fee: the recipient set last before the payout (setFee may change it)."""
        earlier = [u for u in updates if u.position < log.position]
        return (
            str(earlier[-1].args["recipient"])
            if earlier
            else str(guarded(lambda: escrow_contract(ctx).functions.feeRecipient().call()))
        )

    result = Statement(trade=trade, totals=dict.fromkeys(TOTALS, 0))

    def add(log: Log, movement: str, units: int, frm: str, to: str, milestone: str = "") -> None:
        if units == 0:
            return
        currency, invoiced, rate = _invoice_amount(units, token.decimals, trade.invoice)
        line = log.args.get("line", log.args.get("lineIndex", ""))
        result.rows.append(
            StatementRow(
                trade_id=trade_id,
                block=log.block,
                time=_time(log.time),
                tx_hash=log.tx_hash,
                log_index=log.log_index,
                movement=movement,
                milestone=milestone,
                line=line,
                from_=frm,
                to=to,
                token=token.symbol,
                amount=format_amount(units, token.decimals),
                amount_units=str(units),
                invoice_currency=currency,
                invoice_amount=invoiced,
                rate=rate,
            )
        )
        if movement in result.totals:
            result.totals[movement] += units

    logs = trade_logs(ctx, trade_id=trade_id, names=_EVENTS)
    for log in logs:
        a = log.args
        if log.name == "TradeOpened":
            add(log, "funded", int(a["amount"]), buyer, vault)
        elif log.name in ("MilestoneReleased", "ReceiptConfirmed"):
            milestone = MILESTONE_NAMES[int(a["milestone"])] if "milestone" in a else "confirmed by the buyer"
            add(log, "released", int(a["amount"]) - int(a["fee"]), vault, seller, milestone)
            add(log, "fee", int(a["fee"]), vault, fee_recipient(log), milestone)
        elif log.name == "TradeRefunded":
            add(log, "refunded", int(a["amount"]), vault, buyer)
        elif log.name == "DisputeResolved":
            ruling = "by timeout" if a["byTimeout"] else "by the arbiter"
            add(log, "ruling to seller", int(a["toSeller"]) - int(a["fee"]), vault, seller, ruling)
            add(log, "fee", int(a["fee"]), vault, fee_recipient(log), ruling)
            add(log, "ruling to buyer", int(a["toBuyer"]), vault, buyer, ruling)
    opened_at = logs[0].block if logs else 0
    recipients = {r.to for r in result.rows if r.movement == "fee"}
    for log in withdrawals(
        ctx, accounts=[buyer, seller, *sorted(recipients)], token=token.address, from_block=opened_at
    ):
        add(log, "withdrawal", int(log.args["amount"]), vault, str(log.args["to"]))
    result.rows.sort(key=lambda r: (r.block, r.log_index))
    paid_out = sum(units for movement, units in result.totals.items() if movement != "funded")
    result.totals["in escrow"] = result.totals["funded"] - paid_out
    return result


def _csv(st: Statement) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(r.model_dump() for r in st.rows)
    decimals = st.trade.token.decimals
    for movement, units in st.totals.items():  # totals close the file, one row per movement
        currency, invoiced, rate = _invoice_amount(units, decimals, st.trade.invoice)
        writer.writerow(
            {
                "trade_id": st.trade.trade_id,
                "movement": f"total {movement}",
                "token": st.trade.token.symbol,
                "amount": format_amount(units, decimals),
                "amount_units": str(units),
                "invoice_currency": currency,
                "invoice_amount": invoiced,
                "rate": rate,
            }
        )
    return out.getvalue().encode()


def _latin(text: Any) -> str:
    """The PDF's core fonts speak Latin-1 only."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _pdf(st: Statement) -> bytes:
    from fpdf import FPDF  # imported here: only statements in PDF need it

    trade, decimals = st.trade, st.trade.token.decimals
    symbol = trade.token.symbol
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_title(f"Statement of trade {trade.trade_id}")
    pdf.set_creation_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))  # same statement, same bytes
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin(f"Statement of trade {trade.trade_id} ({trade.state})"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    batch = trade.batch
    for line in (
        f"Buyer {trade.buyer}   Seller {trade.seller}   Arbiter {trade.arbiter}",
        f"Batch {batch.gtin if batch else ''}/{batch.lot if batch else ''}   Amount {trade.amount} {symbol} "
        f"({trade.token.address})   Opened {trade.opened_at}",
    ):
        pdf.cell(0, 5, _latin(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    invoiced = any(r.invoice_currency for r in st.rows)
    headings = ["Block", "Time (UTC)", "Movement", "Milestone", "To", f"Amount ({symbol})", "Transaction"]
    widths = [16, 38, 30, 34, 42, 30, 87]
    if invoiced:
        headings.insert(6, "Invoice amount")
        widths = [16, 38, 28, 30, 40, 28, 30, 67]
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=5) as table:
        table.row(headings)
        for r in st.rows:
            cells = [r.block, r.time, r.movement, r.milestone, f"{r.to[:10]}...", r.amount, f"{r.tx_hash[:26]}..."]
            if invoiced:
                cells.insert(6, f"{r.invoice_amount} {r.invoice_currency}".strip())
            table.row([_latin(c) for c in cells])
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, "Totals of the trade", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for movement, units in st.totals.items():
        pdf.cell(0, 5, _latin(f"{movement}: {format_amount(units, decimals)} {symbol}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.multi_cell(
        0,
        4,
        _latin(
            "Withdrawals are a party's pooled credits in this token leaving the escrow; they "
            "may include credits of other trades and are not part of the totals."
        ),
    )
    return bytes(pdf.output())


def render(st: Statement, fmt: str) -> tuple[str, bytes]:
    """(media type, bytes) of the statement as CSV or PDF."""
    if fmt == "csv":
        return "text/csv; charset=utf-8", _csv(st)
    if fmt == "pdf":
        return "application/pdf", _pdf(st)
    raise ValidationError(f"unknown statement format {fmt!r}; choose one of {', '.join(FORMATS)}")
