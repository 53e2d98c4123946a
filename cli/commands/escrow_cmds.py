"""`trace escrow`: open trades against registered batches, release milestones, dispute, resolve, withdraw.

Default signers on the local chain (``--as NAME`` overrides any of them): open, confirm, refund, dispute, evidence
and resolve-timeout sign as ``buyer``; release, withdraw and doc add as ``seller``; resolve as ``arbiter``.
"""

import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Group
from rich.table import Table

from cli.commands import trade_docs_cmds
from cli.context import emit, state
from trace_api.errors import ValidationError
from trace_api.services import escrow
from trace_api.services.escrow import files as trade_files
from trace_api.services.escrow.results import TermsView
from trace_api.services.escrow.terms import OrderLine, parse_line, parse_lines_csv, parse_slippage

escrow_app = typer.Typer(
    help="Trade escrow: fund, release by milestones, dispute, resolve, withdraw.", no_args_is_help=True
)

TRADE_ID = typer.Argument(..., min=1, help="Trade id (from `trace escrow open` or `list`).")
EVIDENCE_FILE = typer.Option(
    None,
    "--file",
    help="Evidence file: its SHA-256 goes on chain, the file is stored encrypted for the parties and the arbiter.",
    exists=True,
    dir_okay=False,
)
EVIDENCE_SHA = typer.Option(None, "--sha256", help="SHA-256 of evidence hashed elsewhere (64 hex digits).")


def _short(address: str) -> str:
    return f"{address[:8]}…{address[-4:]}"


def _money(amount: str | None, token: escrow.TokenInfo) -> str:
    return f"{amount} {token.symbol}"


def _json(model: BaseModel) -> Any:
    return model.model_dump(mode="json")


@escrow_app.command("open")
def open_(
    gtin: str = typer.Option(None, "--gtin", help="GTIN of the traded batch (with one --lot LOT)."),
    lot: list[str] = typer.Option(
        None,
        "--lot",
        help="The lot (with --gtin), or GTIN/LOT; repeat as GTIN/LOT=AMOUNT for an order of several "
        "lines, each paid, refunded or disputed on its own.",
    ),
    lines_file: Path = typer.Option(
        None, "--lines", exists=True, dir_okay=False, help="Order lines from a CSV with the columns gtin, lot, amount."
    ),
    seller: str = typer.Option(..., "--seller", help="Seller: address or dev account name."),
    arbiter: str = typer.Option(..., "--arbiter", help="Arbiter of disputes: address or dev account name."),
    amount: str = typer.Option(None, "--amount", help="Price in the token's unit, e.g. 1250.50 (or --invoice)."),
    invoice: tuple[str, str] | None = typer.Option(
        None,
        "--invoice",
        metavar="AMOUNT CURRENCY",
        help="Price as an invoice, e.g. --invoice 11500.00 EUR: converted into the token at the escrow's price "
        "feed, its rate and round recorded on chain.",
    ),
    max_slippage: str = typer.Option(
        None, "--max-slippage", help="With --invoice: how far the rate may move from the quote (default 0.5%)."
    ),
    incoterm: str = typer.Option(
        None,
        "--incoterm",
        help="Incoterms 2020 rule: EXW, FCA, CPT, CIP, DAP, DPU, DDP, "
        "FAS, FOB, CFR or CIF; sets the default milestones.",
    ),
    place: str = typer.Option(None, "--place", help="The rule's named place as a UN/LOCODE, e.g. CNSHA."),
    port: bool = typer.Option(False, "--port", help="Confirm the place is a port (needed by FAS, FOB, CFR, CIF)."),
    token: str = typer.Option(..., "--token", help="USDC, EURC (deployment symbols), a token address, or ETH."),
    deliver_by: str = typer.Option("30d", "--deliver-by", help="Duration (30d), date (2026-12-31) or datetime."),
    ruling_period: str = typer.Option("7d", "--ruling-period", help="Time the arbiter has to rule (1d to 90d)."),
    milestones: str = typer.Option(
        None,
        "--milestones",
        help="e.g. shipped=30,delivered=70 (percent), shipped:3000,delivered:7000 (bps) "
        "or shipped:30%,delivered:70%; default: the Incoterm's (on shipment for "
        "EXW, F and C rules, on delivery for D rules), else 100% on delivery.",
    ),
    dispute_window: str = typer.Option(
        escrow.DEFAULT_DISPUTE_WINDOW,
        "--dispute-window",
        help="After a carrier's delivery, the buyer's time to dispute before payment (1d to 30d); the buyer's own "
        "receiving pays at once.",
    ),
    permit: bool = typer.Option(True, "--permit/--no-permit", help="Use EIP-2612 permit when the token has it."),
) -> None:
    """Open and fund a trade for a batch (signed by the buyer)."""
    invoice_amount, invoice_currency = invoice or (None, None)
    batch, lines = _batch_or_lines(gtin, lot or [], lines_file)
    order = escrow.TradeOrder(
        seller=seller,
        arbiter=arbiter,
        token=token,
        amount=amount,
        gtin=batch[0],
        lot=batch[1],
        lines=lines,
        deliver_by=deliver_by,
        ruling_period=ruling_period,
        milestones=escrow.parse_milestones(milestones) if milestones and milestones.strip() else None,
        dispute_window=dispute_window,
        use_permit=permit,
        incoterm=incoterm,
        place=place,
        port=port,
        invoice_amount=invoice_amount,
        invoice_currency=invoice_currency,
        max_slippage_bps=parse_slippage(max_slippage) if max_slippage is not None else None,
    )
    result = escrow.open_trade(state().trace(), account=state().account("buyer"), order=order)
    for warning in result.warnings:
        sys.stderr.write(f"trace: warning: {warning}\n")
    terms = _terms_line(result, result.token)
    ids = result.trade_ids
    what = f"trade {ids[0]}" if len(ids) == 1 else f"trades {', '.join(map(str, ids))} (one per line)"
    goods = ", ".join(f"{line.gtin}/{line.lot}" + (f" {line.amount}" if len(ids) > 1 else "") for line in result.lines)
    emit(
        _json(result),
        f"opened {what}: {_money(result.amount, result.token)} for {goods}{', ' + terms if terms else ''}, deliver "
        f"by {result.deliver_by} (funded by {result.funding}, {len(result.tx_hashes)} tx, gas "
        f"{result.gas_used})",
    )


def _batch_or_lines(
    gtin: str | None, lots: list[str], lines_file: Path | None
) -> tuple[tuple[str | None, str | None], list[OrderLine] | None]:
    """--gtin G --lot L (one batch), --lot G/L[=AMOUNT] repeated, or --lines FILE."""
    if lines_file is not None:
        if gtin or lots:
            raise ValidationError("give the order lines either with --lines or with --lot, not both")
        return (None, None), parse_lines_csv(lines_file)
    if gtin is not None:
        if len(lots) != 1:
            raise ValidationError(
                "--gtin goes with exactly one --lot LOT; for several lines write --lot GTIN/LOT=AMOUNT"
            )
        return (gtin, lots[0]), None
    if not lots:
        raise ValidationError("name the batch: --gtin GTIN --lot LOT, --lot GTIN/LOT, or order lines")
    return (None, None), [parse_line(value, need_amount=len(lots) > 1) for value in lots]


def _terms_line(terms: TermsView, token: escrow.TokenInfo) -> str:
    """ "DAP CNSHA, invoice 11500.00 EUR at 1.08 (round 3, 2026-12-01T05:00:00Z)", or "" for a plain trade."""
    parts = [f"{terms.incoterm} {terms.place}"] if terms.incoterm else []
    if terms.invoice:
        inv = terms.invoice
        parts.append(
            f"invoice {inv.amount} {inv.currency} at {inv.rate} {token.symbol}/"
            f"{inv.currency} (round {inv.round_id}, {inv.round_time})"
        )
    return ", ".join(parts)


@escrow_app.command("show")
def show(trade_id: int = TRADE_ID) -> None:
    """Show a trade: state, amounts, milestones, and what can be released now."""
    data = trade_files.show_trade(state().trace(), trade_id=trade_id, viewer=trade_docs_cmds.viewer())
    tables: list[Any] = [_trade_table(data)]
    if data.files:
        tables.append(trade_docs_cmds.files_table(data.files, "documents and evidence (`trace escrow doc get`)"))
    emit(_json(data), Group(*tables))


def _trade_table(data: trade_files.TradeWithFiles) -> Table:
    batch, token = data.batch, data.token
    label = f"{batch.gtin}/{batch.lot}" if batch else data.batch_id
    table = Table(title=f"trade {data.trade_id} [bold]{data.state.upper()}[/bold]  batch {label}", show_header=False)
    table.add_column("field", style="dim")
    table.add_column("value")
    terms = _terms_line(data, token)
    rows = [
        ("buyer", data.buyer),
        ("seller", data.seller),
        ("arbiter", data.arbiter),
        ("amount", _money(data.amount, token)),
        *([("terms", terms)] if terms else []),
        ("released", _money(data.released, token)),
        ("in escrow", _money(data.in_escrow, token)),
        ("fee", f"{data.fee_bps / 100:g}%"),
        ("opened", data.opened_at),
        ("deliver by", f"{data.deliver_by}" + ("  [red]overdue[/red]" if data.overdue else "")),
    ]
    for m in data.milestones:
        rows.append((f"milestone {m.name}", f"{m.bps / 100:g}% = {m.amount} {token.symbol}, {m.status}"))
    if data.disputed_at:
        rows.append(("disputed", f"{data.disputed_at}, ruling due {data.ruling_deadline}"))
    if data.dispute:
        d = data.dispute
        rows.append(("disputed by", f"{d.by_name or d.by} ({d.role})"))
        if d.reason:
            rows.append(("reason", d.reason))
    if data.refunded_to_buyer not in (None, "0"):
        rows.append(("back to buyer", _money(data.refunded_to_buyer, token)))
    if data.batch_recalled:
        rows.append(("batch", "[bold red]RECALLED[/bold red]"))
    rows.append(("releasable now", _money(data.releasable_now, token)))
    if data.refundable_now:
        rows.append(("refundable now", "yes: `trace escrow refund`"))
    if data.resolvable_by_timeout:
        rows.append(("ruling overdue", "yes: `trace escrow resolve-timeout`"))
    for key, value in rows:
        table.add_row(key, str(value))
    return table


@escrow_app.command("list")
def list_(
    account: str = typer.Option(None, "--account", help="Only trades where this account is a party."),
    trade_state: str = typer.Option(
        None, "--state", help="open, disputed, paid, refunded, resolved, or closed (the last three)."
    ),
    limit: int = typer.Option(escrow.DEFAULT_LIST_LIMIT, "--limit", min=1),
) -> None:
    """List trades, newest first."""
    items = escrow.list_trades(state().trace(), account=account, state=trade_state, limit=limit)
    table = Table(title=f"{len(items)} trade(s)")
    for col in ("id", "state", "amount", "released", "buyer", "seller", "deliver by"):
        table.add_column(col, justify="right" if col in ("id", "amount", "released") else "left")
    for t in items:
        table.add_row(
            str(t.trade_id),
            t.state,
            _money(t.amount, t.token),
            t.released,
            _short(t.buyer),
            _short(t.seller),
            t.deliver_by,
        )
    emit([_json(t) for t in items], table)


@escrow_app.command("release")
def release(trade_id: int = TRADE_ID) -> None:
    """Pay the milestones the registry shows as reached (anyone may call; nothing is sent when nothing is due)."""
    result = escrow.release(state().trace(), account=state().account("seller"), trade_id=trade_id)
    if result.tx_hash is None:
        emit(_json(result), f"trade {trade_id}: {result.note}")
        return
    paid = ", ".join(f"{m.name} {m.amount}" for m in result.milestones)
    emit(
        _json(result),
        f"trade {trade_id}: released {_money(result.released, result.token)} ({paid}); now {result.state}",
    )


@escrow_app.command("confirm")
def confirm(trade_id: int = TRADE_ID) -> None:
    """Release everything still in escrow to the seller (the buyer)."""
    result = escrow.confirm(state().trace(), account=state().account("buyer"), trade_id=trade_id)
    emit(_json(result), f"trade {trade_id}: confirmed, released {_money(result.released, result.token)}")


@escrow_app.command("refund")
def refund(trade_id: int = TRADE_ID) -> None:
    """Return an undelivered trade's remainder to the buyer after its delivery deadline."""
    result = escrow.refund(state().trace(), account=state().account("buyer"), trade_id=trade_id)
    emit(
        _json(result),
        f"trade {trade_id}: refunded {_money(result.refunded, result.token)} to the buyer (withdraw to collect)",
    )


@escrow_app.command("dispute")
def dispute(
    trade_id: int = TRADE_ID,
    text: str = typer.Option(
        None,
        "--reason",
        "--text",
        help="The claim, as text: its SHA-256 goes on chain, the text is stored encrypted for the parties and arbiter.",
    ),
    file: Path = EVIDENCE_FILE,
    sha256: str = EVIDENCE_SHA,
) -> None:
    """Freeze the trade and ask the arbiter to rule (the buyer or the seller)."""
    result = trade_files.dispute(
        state().trace(), account=state().account("buyer"), trade_id=trade_id, text=text, path=file, digest=sha256
    )
    emit(_json(result), f"trade {trade_id}: disputed; the arbiter must rule by {result.ruling_deadline}")


@escrow_app.command("evidence")
def evidence(
    trade_id: int = TRADE_ID,
    text: str = typer.Option(
        None,
        "--text",
        help="A statement: its SHA-256 goes on chain, the text is stored encrypted for the parties and the arbiter.",
    ),
    file: Path = EVIDENCE_FILE,
    sha256: str = EVIDENCE_SHA,
) -> None:
    """Reference more evidence for the arbiter (the buyer or the seller)."""
    result = trade_files.add_evidence(
        state().trace(), account=state().account("buyer"), trade_id=trade_id, text=text, path=file, digest=sha256
    )
    emit(_json(result), f"trade {trade_id}: evidence {result.evidence_sha256} recorded")


@escrow_app.command("resolve")
def resolve(
    trade_id: int = TRADE_ID,
    seller_share: str = typer.Option(..., "--seller-share", help="The seller's share: 70% or 7000bps."),
) -> None:
    """Rule on a dispute: split the frozen remainder between seller and buyer (the arbiter)."""
    bps = escrow.parse_share(seller_share)
    result = escrow.resolve(state().trace(), account=state().account("arbiter"), trade_id=trade_id, seller_bps=bps)
    emit(
        _json(result),
        f"trade {trade_id}: resolved, {_money(result.to_seller, result.token)} to the seller (fee {result.fee}), "
        f"{_money(result.to_buyer, result.token)} to the buyer",
    )


@escrow_app.command("resolve-timeout")
def resolve_timeout(trade_id: int = TRADE_ID) -> None:
    """Settle a dispute whose ruling deadline passed, by the registry's facts (anyone)."""
    result = escrow.resolve_by_timeout(state().trace(), account=state().account("buyer"), trade_id=trade_id)
    emit(
        _json(result),
        f"trade {trade_id}: settled by timeout, {_money(result.to_seller, result.token)} to the seller, "
        f"{_money(result.to_buyer, result.token)} to the buyer",
    )


@escrow_app.command("withdraw")
def withdraw(token: str = typer.Argument(None, help="USDC, EURC, a token address or ETH; default: all.")) -> None:
    """Pull your credited balance out of the escrow (default signer: seller)."""
    result = escrow.withdraw(state().trace(), account=state().account("seller"), token=token)
    lines = [f"withdrew {w.amount} {w.token.symbol} to {result.account}" for w in result.withdrawals]
    emit(_json(result), "\n".join(lines))


@escrow_app.command("balance")
def balance(account: str = typer.Argument(None, help="Address or dev account name; default: the signer.")) -> None:
    """What an account can withdraw from the escrow, per token."""
    who = account or state().account("seller").address
    items = escrow.balances(state().trace(), account=who)
    emit([_json(i) for i in items], "\n".join(f"{i.amount} {i.token.symbol}" for i in items))


def register(app: typer.Typer) -> None:
    trade_docs_cmds.attach(escrow_app)
    app.add_typer(escrow_app, name="escrow")
