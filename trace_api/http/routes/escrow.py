"""Escrow routes: reads are public; writes need an organisation's API key and are signed by its account.

Amounts are decimal strings in the token's unit ("1250.50"); ``*_units`` fields are integer strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field, model_validator

from trace_api.http.deps import CallerDep, CtxDep, RateLimited
from trace_api.http.privacy import ViewerDep
from trace_api.services import escrow
from trace_api.services.escrow import files
from trace_api.services.escrow.terms import OrderLine

router = APIRouter(prefix="/escrow", tags=["escrow"])

TradeId = Annotated[int, Path(ge=1, description="Trade id")]
ACCOUNT = Field(
    max_length=42,
    description="Address, or dev account name on the local chain",
    examples=["0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"],
)


class MilestonesIn(BaseModel):
    shipped_bps: int = Field(default=0, ge=0, le=10_000)
    delivered_bps: int = Field(default=10_000, ge=0, le=10_000)


class InvoiceIn(BaseModel):
    amount: str = Field(max_length=40, description="Invoice amount in the currency", examples=["11500.00"])
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code", examples=["EUR"])
    max_slippage_bps: int = Field(
        default=50, ge=0, le=1_000, description="How far the feed's rate may move from the quote read at the request"
    )


class TermsIn(BaseModel):
    incoterm: str = Field(min_length=3, max_length=3, description="Incoterms 2020 rule", examples=["DAP"])
    place: str = Field(min_length=5, max_length=6, description="Named place as a UN/LOCODE", examples=["CNSHA"])
    port: bool = Field(default=False, description="The place is a port (needed by FAS, FOB, CFR and CIF)")


class LineIn(BaseModel):
    gtin: str = Field(min_length=8, max_length=14, pattern=r"^\d+$", examples=["09506000134352"])
    lot: str = Field(min_length=1, max_length=20, examples=["LOT-2026-001"])
    amount: str = Field(
        max_length=40, description="The line's share: in the token, or in the invoice's currency", examples=["5000.00"]
    )


class TradeCreate(BaseModel):
    gtin: str | None = Field(
        default=None,
        min_length=8,
        max_length=14,
        pattern=r"^\d+$",
        examples=["09506000134352"],
        description="One batch; or `lines`",
    )
    lot: str | None = Field(default=None, min_length=1, max_length=20, examples=["LOT-2026-001"])
    lines: list[LineIn] | None = Field(
        default=None,
        min_length=2,
        max_length=20,
        description="An order of several batches; each line becomes its own trade",
    )
    seller: str = ACCOUNT
    arbiter: str = ACCOUNT
    token: str = Field(max_length=42, description="Deployment symbol (USDC), token address, or ETH", examples=["USDC"])
    amount: str | None = Field(
        default=None, max_length=80, description="Price in the token's unit; or `invoice`", examples=["1250.50"]
    )
    invoice: InvoiceIn | None = Field(
        default=None, description="Price as an invoice in another currency, converted at the escrow's price feed"
    )
    terms: TermsIn | None = Field(default=None, description="Incoterms rule and named place")
    deliver_by: str = Field(
        default="30d", max_length=40, description="Duration (30d), ISO date (end of day, UTC) or ISO datetime"
    )
    ruling_period: str = Field(default="7d", max_length=10, examples=["7d"])
    dispute_window: str = Field(
        default=escrow.DEFAULT_DISPUTE_WINDOW,
        max_length=10,
        examples=["3d"],
        description="After a carrier's delivery, the buyer's time to dispute before payment "
        "(1d to 30d); the buyer's own receiving pays at once",
    )
    milestones: MilestonesIn | None = Field(
        default=None,
        description="Default: the Incoterm's (on shipment for "
        "EXW, F and C rules, on delivery for D rules), else 100% on delivery",
    )
    use_permit: bool = True

    @model_validator(mode="after")
    def _one_price(self) -> TradeCreate:
        if self.amount is not None and self.invoice is not None:
            raise ValueError("give at most one of amount and invoice")
        if self.lines is None and (self.amount is None and self.invoice is None):
            raise ValueError("give the price: amount or invoice")
        if (self.lines is None) == (self.gtin is None or self.lot is None):
            raise ValueError("give either gtin and lot, or lines")
        return self


class TradesPublic(BaseModel):
    trades: list[escrow.TradeSummary]
    count: int


class BalancesPublic(BaseModel):
    account: str
    balances: list[escrow.Balance]


class EvidenceCreate(BaseModel):
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=20_000,
        description="The statement: its SHA-256 goes on chain, the text is stored encrypted "
        "for the parties and the arbiter",
    )
    sha256: str | None = Field(
        default=None, pattern=r"^(0x)?[0-9a-fA-F]{64}$", description="SHA-256 of evidence hashed by the client"
    )

    @model_validator(mode="after")
    def _one(self) -> EvidenceCreate:
        if (self.text is None) == (self.sha256 is None):
            raise ValueError("give exactly one of text and sha256")
        return self


class ResolveCreate(BaseModel):
    seller_bps: int | None = Field(default=None, ge=0, le=10_000, description="Seller's share in basis points")
    seller_percent: Decimal | None = Field(default=None, ge=0, le=100, description="Seller's share in percent")

    @model_validator(mode="after")
    def _one(self) -> ResolveCreate:
        if (self.seller_bps is None) == (self.seller_percent is None):
            raise ValueError("give exactly one of seller_bps and seller_percent")
        return self

    @property
    def bps(self) -> int:
        if self.seller_bps is not None:
            return self.seller_bps
        assert self.seller_percent is not None
        return escrow.percent_to_bps(self.seller_percent)


class WithdrawCreate(BaseModel):
    token: str | None = Field(default=None, max_length=42, description="Default: every token with a balance")


@router.get("/trades", dependencies=[RateLimited], response_model=TradesPublic)
def list_trades(
    ctx: CtxDep,
    account: Annotated[str | None, Query(max_length=42)] = None,
    state: Annotated[str | None, Query(pattern="^(open|disputed|paid|refunded|resolved|closed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = escrow.DEFAULT_LIST_LIMIT,
) -> TradesPublic:
    """Trades, newest first; `account` matches the buyer, the seller or the arbiter."""
    trades = escrow.list_trades(ctx, account=account, state=state, limit=limit)
    return TradesPublic(trades=trades, count=len(trades))


@router.get("/trades/{trade_id}", dependencies=[RateLimited], response_model=files.TradeWithFiles)
def get_trade(trade_id: TradeId, ctx: CtxDep, viewer: ViewerDep) -> files.TradeWithFiles:
    """A trade with its milestones, what can be released now, its dispute and its files (who sent each, when).
    File names and the dispute's reason are shown to an API key of the buyer, the seller or the arbiter only."""
    return files.show_trade(ctx, trade_id=trade_id, viewer=viewer.address)


@router.get("/balances/{account}", dependencies=[RateLimited], response_model=BalancesPublic)
def get_balances(account: str, ctx: CtxDep) -> BalancesPublic:
    """What `account` can withdraw, per token."""
    return BalancesPublic(account=account, balances=escrow.balances(ctx, account=account))


@router.post("/trades", status_code=status.HTTP_201_CREATED, response_model=escrow.TradeOpened)
def open_trade(body: TradeCreate, ctx: CtxDep, caller: CallerDep) -> escrow.TradeOpened:
    """Open and fund a trade; the caller's account is the buyer."""
    milestones = body.milestones
    order = escrow.TradeOrder(
        seller=body.seller,
        arbiter=body.arbiter,
        token=body.token,
        amount=body.amount,
        gtin=body.gtin,
        lot=body.lot,
        lines=[OrderLine(x.gtin, x.lot, x.amount) for x in body.lines] if body.lines else None,
        deliver_by=body.deliver_by,
        ruling_period=body.ruling_period,
        milestones=escrow.Milestones.of(milestones.shipped_bps, milestones.delivered_bps) if milestones else None,
        dispute_window=body.dispute_window,
        use_permit=body.use_permit,
        incoterm=body.terms.incoterm if body.terms else None,
        place=body.terms.place if body.terms else None,
        port=body.terms.port if body.terms else False,
        invoice_amount=body.invoice.amount if body.invoice else None,
        invoice_currency=body.invoice.currency if body.invoice else None,
        max_slippage_bps=body.invoice.max_slippage_bps if body.invoice else None,
    )
    return escrow.open_trade(ctx, account=caller.account, order=order)


@router.post("/trades/{trade_id}/release", response_model=escrow.Released)
def release(trade_id: TradeId, ctx: CtxDep, caller: CallerDep) -> escrow.Released:
    """Pay the milestones the registry shows as reached; `tx_hash` is null when nothing was due."""
    return escrow.release(ctx, account=caller.account, trade_id=trade_id)


@router.post("/trades/{trade_id}/confirm", response_model=escrow.Confirmed)
def confirm(trade_id: TradeId, ctx: CtxDep, caller: CallerDep) -> escrow.Confirmed:
    """The buyer releases everything still in escrow."""
    return escrow.confirm(ctx, account=caller.account, trade_id=trade_id)


@router.post("/trades/{trade_id}/refund", response_model=escrow.Refunded)
def refund(trade_id: TradeId, ctx: CtxDep, caller: CallerDep) -> escrow.Refunded:
    """Return an undelivered trade's remainder to the buyer after the delivery deadline."""
    return escrow.refund(ctx, account=caller.account, trade_id=trade_id)


@router.post("/trades/{trade_id}/dispute", response_model=files.DisputeFiled)
def dispute(trade_id: TradeId, body: EvidenceCreate, ctx: CtxDep, caller: CallerDep) -> files.DisputeFiled:
    """A party freezes the trade for the arbiter."""
    return files.dispute(ctx, account=caller.account, trade_id=trade_id, text=body.text, digest=body.sha256)


@router.post("/trades/{trade_id}/evidence", status_code=status.HTTP_201_CREATED, response_model=files.EvidenceFiled)
def add_evidence(trade_id: TradeId, body: EvidenceCreate, ctx: CtxDep, caller: CallerDep) -> files.EvidenceFiled:
    """A party references more evidence."""
    return files.add_evidence(ctx, account=caller.account, trade_id=trade_id, text=body.text, digest=body.sha256)


@router.post("/trades/{trade_id}/resolve", response_model=escrow.Resolved)
def resolve(trade_id: TradeId, body: ResolveCreate, ctx: CtxDep, caller: CallerDep) -> escrow.Resolved:
    """The arbiter splits the frozen remainder."""
    return escrow.resolve(ctx, account=caller.account, trade_id=trade_id, seller_bps=body.bps)


@router.post("/trades/{trade_id}/resolve-timeout", response_model=escrow.Resolved)
def resolve_timeout(trade_id: TradeId, ctx: CtxDep, caller: CallerDep) -> escrow.Resolved:
    """Settle a dispute whose ruling deadline passed, by the registry's facts."""
    return escrow.resolve_by_timeout(ctx, account=caller.account, trade_id=trade_id)


@router.post("/withdraw", response_model=escrow.Withdrawals)
def withdraw(body: WithdrawCreate, ctx: CtxDep, caller: CallerDep) -> escrow.Withdrawals:
    """Pull the caller's credited balance of a token (or of every token) out of the escrow."""
    return escrow.withdraw(ctx, account=caller.account, token=body.token)
