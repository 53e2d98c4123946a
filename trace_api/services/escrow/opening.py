"""Opening a trade: every check that needs no transaction first (parties, batches, price, schedule, deadlines,
terms, the buyer's balance), then one funding path: the native coin as value, an EIP-2612 permit carried in the
one ``openWithPermit`` transaction, the allowance already given, or an ``approve`` first."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from trace_api.chain.accounts import DEV_ACCOUNTS
from trace_api.chain.client import guarded
from trace_api.chain.sender import TxSender
from trace_api.domain import BatchKey, batch_key, resolve_account
from trace_api.errors import NotFoundError, ValidationError
from trace_api.services.context import TraceContext
from trace_api.services.escrow.inputs import (
    BPS,
    DAY,
    DEFAULT_DISPUTE_WINDOW,
    MAX_DISPUTE_WINDOW_S,
    MAX_LINES,
    MAX_RULING_PERIOD_S,
    MIN_DISPUTE_WINDOW_S,
    MIN_RULING_PERIOD_S,
    Milestones,
    format_amount,
    iso,
    parse_amount,
    parse_deliver_by,
    parse_duration,
)
from trace_api.services.escrow.results import OpenedLine, TradeOpened
from trace_api.services.escrow.terms import (
    Invoice,
    OrderLine,
    Quote,
    default_schedule,
    describe_terms,
    format_minor,
    parse_incoterm,
    parse_invoice,
    parse_place,
    parse_slippage,
    quote,
)
from trace_api.services.escrow.tokens import (
    NATIVE_DECIMALS,
    PERMIT_TTL_S,
    TokenInfo,
    erc20,
    permit_domain,
    resolve_token,
    sign_permit,
)
from trace_api.services.escrow.trades import chain_now, escrow_contract, events, read, tx, view_named

__all__ = ["TradeOrder", "open_trade"]

ZERO_ID = b"\0" * 32  # an order of several lines names no batch of its own


def _party(ctx: TraceContext, value: str, role: str) -> str:
    """A trade party's address. Dev account names stand for keys anyone can read, so off the local chain they
    are refused: money escrowed for such an address could be taken by anyone."""
    if value in DEV_ACCOUNTS and not ctx.dev_chain:
        raise ValidationError(
            f"{role} {value!r}: dev account names are accepted on the local chain only; give an address"
        )
    return resolve_account(value, dev_names=ctx.dev_chain)


@dataclass(frozen=True)
class TradeOrder:
    """What a buyer asks for when it opens a trade, as the CLI and the HTTP API both take it (see ``open_trade``).
    Durations are "30d"/"12h"/ISO 8601; ``deliver_by`` may also be an ISO date or datetime."""

    seller: str
    arbiter: str
    token: str
    amount: str | None = None
    gtin: str | None = None
    lot: str | None = None
    lines: list[OrderLine] | None = None
    deliver_by: str = "30d"
    ruling_period: str = "7d"
    milestones: Milestones | None = None
    dispute_window: str = DEFAULT_DISPUTE_WINDOW
    use_permit: bool = True
    incoterm: str | None = None
    place: str | None = None
    port: bool = False
    invoice_amount: str | None = None
    invoice_currency: str | None = None
    max_slippage_bps: int | None = None


def open_trade(ctx: TraceContext, *, account: LocalAccount, order: TradeOrder) -> TradeOpened:
    """Open and fund a trade as ``account`` (the buyer).

    The price is either ``amount`` in the token, or an invoice (``invoice_amount`` in ``invoice_currency``) that
    the escrow converts at its price feed's latest round, refusing a round that moved more than ``max_slippage_bps``
    from the quote read here. ``incoterm`` and ``place`` (a UN/LOCODE; ``port`` confirms a sea rule's port) are
    recorded on chain; the rule sets the schedule unless ``milestones`` are given.

    One batch is ``gtin`` and ``lot``; an order of several is ``lines``, each a batch and its share of the price
    (in the token, or in the invoice's currency), adding up to ``amount`` or the invoice when those are given. Each
    line becomes its own trade (consecutive ids in ``trade_ids``), paid, refunded or disputed on its own.

    ERC-20s with EIP-2612 are approved by a permit signed here and carried in the one ``openWithPermit``
    transaction; other ERC-20s get an ``approve`` first when the allowance is short; the native coin is sent as
    the value. ``funding`` in the result says which path was taken, ``tx_hashes`` lists what was sent.
    """
    # Every check that needs no transaction comes first: a rejected open sends nothing.
    gtin, lot, amount, lines, invoice_amount = order.gtin, order.lot, order.amount, order.lines, order.invoice_amount
    if lines and (gtin is not None or lot is not None):
        raise ValidationError("give either one batch (GTIN and lot) or order lines, not both")
    if not lines and (gtin is None or lot is None):
        raise ValidationError("name the batch (GTIN and lot), or give order lines")
    if lines is not None and len(lines) == 1:  # one batch: its line's amount, if any, is the price
        (only,) = lines
        if only.amount and (amount is not None or invoice_amount is not None):
            raise ValidationError(
                "one batch takes its price from the amount or the invoice; give the lot without "
                "=AMOUNT, or add more lines"
            )
        gtin, lot, amount, lines = (
            only.gtin,
            only.lot,
            amount if amount is not None or invoice_amount else (only.amount or None),
            None,
        )
    keys = [batch_key(line.gtin, line.lot) for line in lines] if lines else [batch_key(gtin or "", lot or "")]
    if len({k.id for k in keys}) != len(keys):
        raise ValidationError("a batch appears on two order lines; give each batch once")
    if len(keys) > MAX_LINES:
        raise ValidationError(f"an order has at most {MAX_LINES} lines, not {len(keys)}")
    buyer = account.address
    seller_address, arbiter_address = _party(ctx, order.seller, "seller"), _party(ctx, order.arbiter, "arbiter")
    if int(seller_address, 16) == 0 or seller_address == buyer:
        raise ValidationError("the seller must be an account other than the buyer")
    if int(arbiter_address, 16) == 0 or arbiter_address in (buyer, seller_address):
        raise ValidationError("the arbiter must be an account other than the buyer and the seller")
    rule = parse_incoterm(order.incoterm)
    place_code = parse_place(order.place, incoterm=rule, port=order.port)
    # Without explicit milestones a rule's default applies on chain: (0, 0) asks the contract for it.
    schedule = order.milestones or (Milestones.of(*default_schedule(rule)) if rule else Milestones.of(0, BPS))
    schedule = Milestones.of(schedule.shipped_bps, schedule.delivered_bps)  # checked, however it was built
    sent_schedule = (schedule.shipped_bps, schedule.delivered_bps) if order.milestones or not rule else (0, 0)
    if amount is not None and invoice_amount is not None:
        raise ValidationError(
            "give the price either in the token (amount) or as an invoice (amount and currency), not both"
        )
    if amount is None and invoice_amount is None and not lines:
        raise ValidationError("give the price: an amount in the token, or an invoice (amount and currency)")
    invoice = parse_invoice(invoice_amount, order.invoice_currency or "") if invoice_amount is not None else None
    slippage = parse_slippage(order.max_slippage_bps)
    ruling = parse_duration(order.ruling_period)
    if not MIN_RULING_PERIOD_S <= ruling <= MAX_RULING_PERIOD_S:
        raise ValidationError(
            f"ruling period {order.ruling_period}: must be between {MIN_RULING_PERIOD_S // DAY} and "
            f"{MAX_RULING_PERIOD_S // DAY} days"
        )
    window = parse_duration(order.dispute_window)
    if not MIN_DISPUTE_WINDOW_S <= window <= MAX_DISPUTE_WINDOW_S:
        raise ValidationError(
            f"dispute window {order.dispute_window}: must be between {MIN_DISPUTE_WINDOW_S // DAY} and "
            f"{MAX_DISPUTE_WINDOW_S // DAY} days (the buyer's time to "
            f"dispute a carrier's delivery before it pays)"
        )
    info = resolve_token(ctx, order.token)
    now = chain_now(ctx)
    deadline = parse_deliver_by(order.deliver_by, now=now)
    registry, escrow = ctx.registry, escrow_contract(ctx)
    if not read(escrow.functions.isTokenAllowed(info.address)):
        raise ValidationError(f"{info.symbol} ({info.address}) is not allowed by the escrow")
    sender = ctx.sender(account)
    quoted = _quote(ctx, escrow, invoice, info, sender)
    # With an invoice the escrow computes the amount; the buyer funds up to the quote plus its slippage.
    units = parse_amount(amount, info.decimals) if invoice is None and amount is not None else 0
    shares = _line_shares(lines, invoice, info, units) if lines else []
    if quoted is not None:
        units = quoted.amount_units
    else:
        units = units or sum(shares)
    funds = units if invoice is None else units * (BPS + slippage) // BPS + 1
    for key in keys:
        if not read(registry.functions.exists(key.id)):
            raise NotFoundError(f"batch {key.gtin}/{key.lot} is not registered")
        if read(registry.functions.isRecalled(key.id)):
            raise ValidationError(f"batch {key.gtin}/{key.lot} is recalled; it cannot be traded")
    invoice_terms = (
        (invoice.amount, invoice.code, quoted.rate, slippage)
        if invoice is not None and quoted is not None
        else (0, b"\0" * 3, 0, 0)
    )
    order_lines = [(key.id, share) for key, share in zip(keys, shares, strict=True)] if lines else []
    params = (
        seller_address,
        arbiter_address,
        info.address,
        ZERO_ID if lines else keys[0].id,
        0 if invoice else units,
        deadline,
        ruling,
        *sent_schedule,
        window,
        rule,
        place_code,
        invoice_terms,
        order_lines,
    )
    warnings = [w for key in keys for w in _open_warnings(ctx, registry, key, buyer)]

    shown = f"{format_amount(funds, info.decimals)} {info.symbol}"
    sent: list[str] = []
    if info.native:
        balance = int(guarded(lambda: ctx.chain.w3.eth.get_balance(buyer)))
        if balance < units:
            raise ValidationError(f"the buyer holds {format_amount(balance, NATIVE_DECIMALS)} ETH, needs {shown}")
        funding, value, fn = "native", units, escrow.functions.open(params)
    else:
        coin = erc20(ctx, info.address)
        balance = int(read(coin.functions.balanceOf(buyer)))
        if balance < funds:
            raise ValidationError(
                f"the buyer holds {format_amount(balance, info.decimals)} {info.symbol}, needs {shown}"
            )
        allowance = int(read(coin.functions.allowance(buyer, escrow.address)))
        domain = permit_domain(ctx, coin) if order.use_permit and allowance < funds else None
        value = 0
        if allowance >= funds:
            funding, fn = "allowance", escrow.functions.open(params)
        elif domain is not None:
            v, r, s = sign_permit(
                account, coin, domain, spender=escrow.address, value=funds, deadline=now + PERMIT_TTL_S
            )
            funding, fn = "permit", escrow.functions.openWithPermit(params, funds, now + PERMIT_TTL_S, v, r, s)
        else:
            funding = "approve"
            sent.append(tx(sender.transact(coin.functions.approve(escrow.address, funds)))["tx_hash"])
            fn = escrow.functions.open(params)
    receipt = sender.transact(fn, value=value)
    sent.append(tx(receipt)["tx_hash"])
    opened = events(escrow, receipt, "TradeOpened")
    units = sum(int(o["amount"]) for o in opened)  # with an invoice, what the escrow converted at its round
    first = int(opened[0]["tradeId"])
    terms = describe_terms(view_named(ctx, escrow, "getTerms", first), trade_id=first)
    key = keys[0]
    return TradeOpened(
        trade_id=first,
        trade_ids=[int(o["tradeId"]) for o in opened],
        **tx(receipt),
        funding=funding,
        tx_hashes=sent,
        buyer=buyer,
        seller=seller_address,
        arbiter=arbiter_address,
        token=info,
        amount=format_amount(units, info.decimals),
        amount_units=str(units),
        batch_id=key.id_hex,
        gtin=key.gtin,
        lot=key.lot,
        lines=[
            OpenedLine(
                trade_id=int(o["tradeId"]),
                batch_id=k.id_hex,
                gtin=k.gtin,
                lot=k.lot,
                amount=format_amount(int(o["amount"]), info.decimals),
                amount_units=str(int(o["amount"])),
            )
            for o, k in zip(opened, keys, strict=True)
        ],
        deliver_by=iso(deadline),
        ruling_period_s=ruling,
        dispute_window_s=window,
        milestones=schedule,
        fee_bps=int(opened[0]["feeBps"]),
        warnings=warnings,
        incoterm=terms.incoterm,
        place=terms.place,
        invoice=terms.invoice,
        order=terms.order,
    )


def _line_shares(lines: list[OrderLine], invoice: Invoice | None, info: TokenInfo, total: int) -> list[int]:
    """Each line's share as the contract takes it: minor units of the invoice's currency, or token units; they must
    add up to the invoice, or to the amount when one was given."""
    if invoice is not None:
        shares = [parse_invoice(line.amount, invoice.currency).amount for line in lines]
        expected, shown = invoice.amount, invoice.shown()
        if sum(shares) != expected:
            got = format_minor(sum(shares), invoice.decimals)
            raise ValidationError(f"the lines add up to {got} {invoice.currency}, not to the invoice's {shown}")
        return shares
    shares = [parse_amount(line.amount, info.decimals) for line in lines]
    if total and sum(shares) != total:
        raise ValidationError(
            f"the lines add up to {format_amount(sum(shares), info.decimals)} {info.symbol}, "
            f"not to the amount {format_amount(total, info.decimals)} {info.symbol}"
        )
    return shares


def _quote(
    ctx: TraceContext, escrow: Contract, invoice: Invoice | None, info: TokenInfo, sender: TxSender
) -> Quote | None:
    """The feed's quote for an invoice, read before anything is signed; None without one."""
    if invoice is None:
        return None
    if info.native:
        raise ValidationError(
            f"an invoice in {invoice.currency} is settled in a stablecoin: give --token (e.g. "
            f"USDC), not the native coin"
        )
    return quote(ctx, escrow, invoice, token_address=info.address, token_symbol=info.symbol, call=sender.call)


def _open_warnings(ctx: TraceContext, registry: Contract, key: BatchKey, buyer: str) -> list[str]:
    """What the buyer should know before funding: goods it already holds, or that were delivered to it before,
    never pay this trade (the escrow pays only for a shipment from the seller that the buyer had not completed
    when the trade opened), so such a trade ends by `trace escrow confirm` or a refund."""
    label = f"batch {key.gtin}/{key.lot}"
    if str(read(registry.functions.custodian(key.id))).lower() == buyer.lower():
        return [
            f"{label} is already in the buyer's custody: only a new shipment from the seller to the buyer can "
            f"pay this trade; for goods already received, pay with `trace escrow confirm`"
        ]
    shipment = view_named(ctx, registry, "latestShipment", key.id, buyer)["shipment"]
    if shipment["deliveredAt"]:  # delivered to the buyer, which no longer holds it
        return [
            f"{label} was already delivered to the buyer ({iso(int(shipment['deliveredAt']))}) and has left it since: "
            f"that delivery does not pay this trade, only a new shipment from the seller does"
        ]
    return []
