"""A statement's invoice-currency column reads the rate as the trade's read model gives it (describe_terms)."""

from __future__ import annotations

from decimal import Decimal

from trace_api.services.escrow.statements import _invoice_amount
from trace_api.services.escrow.terms import describe_terms


def test_a_cny_invoice_settled_in_usdc_converts_at_the_recorded_feed_rate() -> None:
    # getTerms of a DAP Shanghai trade invoiced 100,000.00 CNY at CNY/USD 0.13800000 (8 decimals), line 1 of 2
    raw = {
        "incoterm": 5,
        "place": b"CNSHA",
        "currency": b"CNY",
        "rateDecimals": 8,
        "roundTime": 1_764_547_200,
        "invoiceAmount": 10_000_000,
        "line": 1,
        "lineCount": 2,
        "rate": 13_800_000,
        "roundId": 42,
    }
    terms = describe_terms(raw, trade_id=7)
    assert terms.order is not None and terms.order.trade_ids == [7, 8]
    currency, amount, rate = _invoice_amount(13_800_000_000, 6, terms.invoice)  # 13,800 USDC
    assert (currency, rate) == ("CNY", "0.138")
    assert Decimal(amount) == Decimal("100000.00")


def test_no_invoice_leaves_the_columns_empty() -> None:
    assert _invoice_amount(1_000_000, 6, None) == ("", "", "")
