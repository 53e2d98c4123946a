"""`trace role`, `trace batch`, `trace event`, `trace anchor`: the traceability registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.context import STATE, emit
from trace_api.services import batches, events, history
from trace_api.services.context import TraceContext

role_app = typer.Typer(help="Grant and revoke registry roles.", no_args_is_help=True)
batch_app = typer.Typer(help="Register, derive, recall and show batches.", no_args_is_help=True)
event_app = typer.Typer(help="Record lifecycle events.", no_args_is_help=True)

MARKS = {"verified": "[green]✓[/green]", "pending": "[yellow]…[/yellow]", "mismatch": "[red]✗[/red]"}


def ctx() -> TraceContext:
    return TraceContext(settings=STATE.settings, chain=STATE.chain(), engine=_engine())


def _engine() -> Any:
    from trace_api.index.store import get_engine

    return get_engine(STATE.settings)


@role_app.command("grant")
def role_grant(role: str, account: str) -> None:
    """Grant ROLE (producer, processor, carrier, inspector, retailer, admin) to ACCOUNT (address or dev name)."""
    result = batches.set_role(ctx(), account=STATE.account("admin"), role=role, member=account, grant=True)
    emit(result, f"granted {role} to {result['account']}")


@role_app.command("revoke")
def role_revoke(role: str, account: str) -> None:
    """Revoke ROLE from ACCOUNT."""
    result = batches.set_role(ctx(), account=STATE.account("admin"), role=role, member=account, grant=False)
    emit(result, f"revoked {role} from {result['account']}")


@batch_app.command("register")
def batch_register(
    gtin: str = typer.Option(..., "--gtin", help="GTIN-8/12/13/14 with a valid check digit."),
    lot: str = typer.Option(..., "--lot", help="Batch/lot number (GS1 AI 10)."),
    quantity: str = typer.Option(None, "--quantity", help="Quantity, up to 3 decimals."),
    uom: str = typer.Option(None, "--uom", help="UN/ECE Rec 20 unit, e.g. KGM."),
    product: str = typer.Option(None, "--product", help="Product name shown to consumers."),
    origin: str = typer.Option(None, "--origin", help="Origin shown to consumers, e.g. a farm and country."),
) -> None:
    """Register a batch (signed by a producer)."""
    meta = {k: v for k, v in {"product": product, "origin": origin}.items() if v}
    result = batches.register_batch(ctx(), account=STATE.account("producer"), gtin=gtin, lot=lot,
                                    quantity=quantity, uom=uom, metadata=meta)
    emit(result, f"registered {result['gtin']}/{result['lot']} as {result['batch_id']} (block {result['block']})")


@batch_app.command("derive")
def batch_derive(
    gtin: str = typer.Option(..., "--gtin"),
    lot: str = typer.Option(..., "--lot"),
    parent: list[str] = typer.Option(..., "--from", help="Parent batch as GTIN/LOT; repeat for several."),
    quantity: str = typer.Option(None, "--quantity"),
    uom: str = typer.Option(None, "--uom"),
    product: str = typer.Option(None, "--product"),
    process: str = typer.Option(None, "--process", help="What the transformation was, e.g. roasting."),
) -> None:
    """Register a batch made from parent batches (a transformation), by their custodian."""
    parents = []
    for p in parent:
        g, sep, lt = p.partition("/")
        if not sep:
            raise typer.BadParameter(f"--from {p!r}: expected GTIN/LOT")
        parents.append((g, lt))
    meta = {"product": product} if product else {}
    result = batches.derive_batch(ctx(), account=STATE.account("processor"), gtin=gtin, lot=lot, parents=parents,
                                  quantity=quantity, uom=uom, metadata=meta, process=process)
    emit(result, f"derived {result['gtin']}/{result['lot']} from {len(parents)} parent(s)")


@batch_app.command("recall")
def batch_recall(gtin: str, lot: str, reason: str = typer.Option(..., "--reason")) -> None:
    """Recall a batch (its producer or an admin); everything derived from it reads as recalled too."""
    result = batches.recall_batch(ctx(), account=STATE.account("producer"), gtin=gtin, lot=lot, reason=reason)
    emit(result, f"recalled {gtin}/{lot}")


@batch_app.command("show")
def batch_show(
    gtin: str, lot: str,
    limit: int = typer.Option(None, "--limit", min=1, help="Show only the latest N events (JSON: `timeline` "
                                                           "holds them, `timeline_total` counts all)."),
) -> None:
    """Print the batch's timeline with the verification status of each event."""
    data = history.history(ctx(), gtin=gtin, lot=lot)
    if limit is not None:
        data = {**data, "timeline": data["timeline"][-limit:], "timeline_total": len(data["timeline"])}
    emit(data, _timeline_table(data))


def _timeline_table(data: dict[str, Any]) -> Table:
    meta = data["metadata"]
    title = f"{meta.get('product', 'batch')} {data['gtin']}/{data['lot']}"
    if data["recalled"]:
        title += "  [bold red]RECALLED[/bold red]"
    chain = data["hash_chain"]
    caption = (f"hash chain {'ok' if chain['ok'] else 'BROKEN'}: {chain['events_on_chain']} events on chain; "
               f"custodian {data['custodian']}")
    if data["undisclosed"]:
        caption += "\n[bold red]INCOMPLETE: " + history.undisclosed_note(len(data["undisclosed"])) + "[/bold red] (seq " \
            + ", ".join(str(u["seq"]) for u in data["undisclosed"][:10]) + ")"
    if data["pending"]:
        caption += f"\n{data['pending']} event(s) pending: captured, not on chain yet (run `trace anchor`)"
    if "timeline_total" in data:
        caption += f"\nthe latest {len(data['timeline'])} of {data['timeline_total']} events (--limit)"
    table = Table(title=title, caption=caption)
    for col in ("", "when", "step", "type", "where", "proof", "documents"):
        table.add_column(col)
    for ev in data["timeline"]:
        docs = ", ".join(("🔒 " if d["private"] else "") + ("hash verified" if d["verified"] else "UNVERIFIED")
                         for d in ev["documents"])
        proof = ev.get("how", ev.get("reason", ev["status"]))
        if ev["status"] == "verified":
            proof += f" by {ev['actor']}"
        table.add_row(MARKS[ev["status"]], ev["event_time"], ev["biz_step"] or "", ev["type"], ev["where"] or "",
                      proof, docs)
    return table


@event_app.command("add")
def event_add(
    gtin: str,
    lot: str,
    step: str = typer.Option(..., "--step", help="CBV bizStep: commissioning, inspecting, shipping, receiving, ..."),
    location: str = typer.Option(None, "--location", help="GLN of the read point (13 digits)."),
    to: str = typer.Option(None, "--to", help="Consignee of a shipping step (address or dev account name)."),
    doc: Path = typer.Option(None, "--doc", help="Attach a document: only its SHA-256 goes into the event."),
    private: bool = typer.Option(False, "--private", help="Encrypt the document (AES-256-GCM)."),
    share: list[str] = typer.Option([], "--share", help="Counterparty allowed to read a private document."),
) -> None:
    """Record one lifecycle step of a batch on chain."""
    result = batches.record_event(ctx(), account=STATE.account("producer"), gtin=gtin, lot=lot, step=step,
                                  gln=location, to=to, doc=doc, private=private, recipients=share)
    emit(result, f"recorded {step} for {gtin}/{lot}: {result['event_hash']} (gas {result['gas_used']})")


def anchor(batch_size: int = typer.Option(None, "--batch-size", help="Events per Merkle root.")) -> None:
    """Finish what this account left pending: record its lifecycle events, anchor its captured events under
    Merkle roots. Never another account's: those are theirs to sign."""
    result = events.anchor(ctx(), account=STATE.account("producer"), batch_size=batch_size)
    emit(result, f"recorded {result['direct_events']} lifecycle events, anchored {len(result['roots_anchored'])} roots")


def register(app: typer.Typer) -> None:
    app.add_typer(role_app, name="role")
    app.add_typer(batch_app, name="batch")
    app.add_typer(event_app, name="event")
    app.command("anchor")(anchor)
