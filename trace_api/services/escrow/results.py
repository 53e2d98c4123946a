"""What the escrow services return: one model per answer, the same shapes `--json` and the HTTP API show.

Amounts are decimal strings in the token's unit ("1250.5"); ``*_units`` fields carry the integer amount as a string,
since it may not fit a JSON number. Times are ISO 8601 UTC, None for never.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from trace_api.services.escrow.inputs import Milestones
from trace_api.services.escrow.tokens import TokenInfo

__all__ = [
    "Balance",
    "BatchLabel",
    "Confirmed",
    "DisputeOpened",
    "EvidenceAdded",
    "InvoiceTerms",
    "MilestoneView",
    "OpenedLine",
    "OrderInfo",
    "PaidMilestone",
    "Parties",
    "Refunded",
    "Released",
    "Resolved",
    "TermsView",
    "TradeDetail",
    "TradeLine",
    "TradeOpened",
    "TradeSummary",
    "Withdrawal",
    "Withdrawals",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Tx(_Model):
    tx_hash: str
    block: int
    gas_used: int


class InvoiceTerms(_Model):
    amount: str
    amount_minor_units: str
    currency: str
    rate: str = Field(description="Token per unit of the currency, as read from the feed")
    rate_units: str
    rate_decimals: int
    round_id: str
    round_time: str | None


class OrderInfo(_Model):
    line: int
    lines: int
    trade_ids: list[int]


class TermsView(_Model):
    """``getTerms`` for people: the Incoterms rule and place, the invoice (a line's own share of it), the order."""

    incoterm: str | None = Field(default=None, description="Incoterms 2020 rule, recorded on chain")
    place: str | None = Field(default=None, description="Its named place, a UN/LOCODE")
    invoice: InvoiceTerms | None = None
    order: OrderInfo | None = None


class BatchLabel(_Model):
    gtin: str
    lot: str


class Parties(_Model):
    buyer: str
    seller: str
    arbiter: str


class MilestoneView(_Model):
    name: str
    bps: int
    amount: str
    condition_met: bool
    met_at: str | None
    paid: bool
    status: str = Field(description="paid, reached, due <time>, pending, or how a closed trade's share ended")


class TradeLine(_Model):
    """One line of an order (each its own trade), or the one batch of a plain trade."""

    trade_id: int
    batch_id: str
    batch: BatchLabel | None
    amount: str
    amount_units: str
    released: str
    released_units: str
    state: str
    invoice_amount: str | None
    milestones: list[MilestoneView]
    releasable_now: str


class TradeSummary(_Model):
    trade_id: int
    state: str
    buyer: str
    seller: str
    arbiter: str
    token: TokenInfo
    amount: str
    released: str
    batch_id: str
    deliver_by: str | None


class TradeDetail(TradeSummary, TermsView):
    lines: list[TradeLine]
    batch: BatchLabel | None
    amount_units: str
    released_units: str
    in_escrow: str
    in_escrow_units: str
    refunded_to_buyer: str | None
    fee_bps: int
    opened_at: str | None
    deliver_by_unix: int
    overdue: bool
    shipped_by_seller: bool
    delivered_at: str | None
    received_by_buyer_at: str | None
    dispute_window_s: int
    ruling_period_s: int
    disputed_at: str | None
    ruling_deadline: str | None
    milestones: list[MilestoneView]
    batch_recalled: bool
    releasable_now: str
    releasable_now_units: str
    refundable_now: bool
    resolvable_by_timeout: bool
    chain_time: str | None


class Balance(_Model):
    token: TokenInfo
    amount: str
    amount_units: str


class OpenedLine(_Model):
    trade_id: int
    batch_id: str
    gtin: str
    lot: str
    amount: str
    amount_units: str


class TradeOpened(_Tx, TermsView):
    trade_id: int
    trade_ids: list[int]
    funding: str = Field(description="native, allowance, permit or approve: how the escrow was funded")
    tx_hashes: list[str]
    buyer: str
    seller: str
    arbiter: str
    token: TokenInfo
    amount: str
    amount_units: str
    batch_id: str
    gtin: str
    lot: str
    lines: list[OpenedLine]
    deliver_by: str | None
    ruling_period_s: int
    dispute_window_s: int
    milestones: Milestones
    fee_bps: int
    warnings: list[str] = Field(
        description="e.g. the batch is already in the buyer's custody, so only a new shipment from the seller can "
        "pay this trade"
    )


class PaidMilestone(_Model):
    name: str
    amount: str
    fee: str


class Released(_Model):
    """What release paid; with nothing due, no transaction (``tx_hash`` null) and a ``note`` saying why."""

    trade_id: int
    token: TokenInfo
    tx_hash: str | None
    block: int | None = None
    gas_used: int | None = None
    released: str
    released_units: str
    milestones: list[PaidMilestone]
    state: str
    due_at: str | None = None
    note: str | None = None


class Confirmed(_Tx):
    trade_id: int
    token: TokenInfo
    state: str
    released: str
    fee: str


class Refunded(_Tx):
    trade_id: int
    token: TokenInfo
    state: str
    buyer: str
    refunded: str
    released_to_seller: str


class EvidenceAdded(_Tx):
    trade_id: int
    evidence_sha256: str


class DisputeOpened(EvidenceAdded):
    state: str
    by: str
    ruling_deadline: str | None


class Resolved(_Tx):
    trade_id: int
    token: TokenInfo
    state: str
    to_seller: str
    to_buyer: str
    fee: str
    by_timeout: bool
    seller_bps: int | None = Field(default=None, description="The arbiter's ruling; null when settled by timeout")


class Withdrawal(_Tx):
    token: TokenInfo
    amount: str
    amount_units: str


class Withdrawals(_Model):
    account: str
    withdrawals: list[Withdrawal]
