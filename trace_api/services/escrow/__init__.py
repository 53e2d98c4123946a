"""Escrow settlement: open trades against registered batches, release milestones, dispute, resolve, withdraw.

The package is split by job: :mod:`.inputs` (amounts, durations, deadlines, schedules, shares, evidence hashes),
:mod:`.terms` (Incoterms, places, invoices and price feeds, order lines), :mod:`.tokens` (token lookup, EIP-2612
permits), :mod:`.trades` (the trade as the contract holds it), :mod:`.read` (the read model), :mod:`.opening` and
:mod:`.writes` (the transactions), :mod:`.files` (a trade's documents and evidence), :mod:`.logs` and
:mod:`.statements` (its money's movements from the chain's logs), :mod:`.results` (what they all return).

Amounts cross the API as decimal strings in the token's own unit ("1250.50" USDC); ``*_units`` fields carry the
integer amount as a string, since it may not fit a JSON number.
"""

from trace_api.services.escrow.inputs import (
    DEFAULT_DISPUTE_WINDOW,
    Milestones,
    evidence_hash,
    format_amount,
    parse_amount,
    parse_deliver_by,
    parse_duration,
    parse_milestones,
    parse_share,
    percent_to_bps,
)
from trace_api.services.escrow.opening import TradeOrder, open_trade
from trace_api.services.escrow.read import DEFAULT_LIST_LIMIT, balances, list_trades, show_trade, trade_parties
from trace_api.services.escrow.results import (
    Balance,
    Confirmed,
    DisputeOpened,
    EvidenceAdded,
    Parties,
    Refunded,
    Released,
    Resolved,
    TradeDetail,
    TradeOpened,
    TradeSummary,
    Withdrawals,
)
from trace_api.services.escrow.terms import OrderLine, parse_line, parse_lines_csv, parse_slippage
from trace_api.services.escrow.tokens import NATIVE, TokenInfo, resolve_token
from trace_api.services.escrow.trades import STATES, TRADE_STATES, trade_state
from trace_api.services.escrow.writes import (
    add_evidence,
    confirm,
    dispute,
    refund,
    release,
    resolve,
    resolve_by_timeout,
    withdraw,
)

__all__ = [
    "TradeOrder",
    "DEFAULT_DISPUTE_WINDOW",
    "DEFAULT_LIST_LIMIT",
    "NATIVE",
    "STATES",
    "TRADE_STATES",
    "Balance",
    "Confirmed",
    "DisputeOpened",
    "EvidenceAdded",
    "Milestones",
    "OrderLine",
    "Parties",
    "Refunded",
    "Released",
    "Resolved",
    "TokenInfo",
    "TradeDetail",
    "TradeOpened",
    "TradeSummary",
    "Withdrawals",
    "add_evidence",
    "balances",
    "confirm",
    "dispute",
    "evidence_hash",
    "format_amount",
    "list_trades",
    "open_trade",
    "parse_amount",
    "parse_deliver_by",
    "parse_duration",
    "parse_line",
    "parse_lines_csv",
    "parse_milestones",
    "parse_share",
    "parse_slippage",
    "percent_to_bps",
    "refund",
    "release",
    "resolve",
    "resolve_by_timeout",
    "resolve_token",
    "show_trade",
    "trade_parties",
    "trade_state",
    "withdraw",
]
