"""`trace batch show`: a batch's whole journey, ✓/✗ for each step, as people read it (or as JSON)."""

from typing import Any

import typer
from rich.console import Group
from rich.table import Table

from cli.commands.registry_cmds import batch_app
from cli.context import emit, state
from trace_api.services import history, journey
from trace_api.services.history_models import BatchHistory

MARKS = {"verified": "[green]✓[/green]", "pending": "[yellow]…[/yellow]", "mismatch": "[red]✗[/red]"}


@batch_app.command("show")
def batch_show(
    gtin: str,
    lot: str,
    limit: int = typer.Option(
        None,
        "--limit",
        min=1,
        help="Show only the batch's latest N events (JSON: `timeline` holds them, `timeline_total` counts all).",
    ),
) -> None:
    """Print the batch's whole journey: its own steps and those of every batch it was made from, ✓/✗ each."""
    context = state().trace()
    record = history.history(context, gtin=gtin, lot=lot)
    shown = record if limit is None else record.model_copy(update={"timeline": record.timeline[-limit:]})
    trip = journey.build(context, shown)
    data = shown.as_json()
    if limit is not None:
        data["timeline_total"] = len(record.timeline)
    data["journey"] = trip.as_json()
    emit(data, _journey_view(shown, trip, total=len(record.timeline) if limit is not None else None))


def _party(parties: dict[str, journey.Party], address: str | None) -> str:
    org = parties.get((address or "").lower())
    if org:
        return f"{org.name} ({org.country}) [green]✓ verified[/green]"
    return f"{address} [yellow](unverified party)[/yellow]" if address else ""


def _journey_view(data: BatchHistory, trip: journey.Journey, *, total: int | None) -> Group:
    product = data.metadata.get("product")
    title = f"{product if product is not None else 'batch'} {data.gtin}/{data.lot}"
    if data.recalled:
        title += "  [bold red]RECALLED[/bold red]"
    chain = data.hash_chain
    groups = trip.groups
    lines = [
        f"[bold]{title}[/bold]",
        f"hash chain {'ok' if chain.ok else 'BROKEN'}: {chain.events_on_chain} events on chain; "
        f"custodian {_party(trip.parties, data.custodian)}",
        f"{trip.verified_steps} of {trip.steps} steps verified on chain, in {len(groups)} "
        f"batch{'es' if len(groups) != 1 else ''}",
    ]
    if data.undisclosed:
        lines.append(
            "[bold red]INCOMPLETE: "
            + history.undisclosed_note(len(data.undisclosed))
            + "[/bold red] (seq "
            + ", ".join(str(u.seq) for u in data.undisclosed[:10])
            + ")"
        )
    if data.pending:
        lines.append(f"{data.pending} event(s) pending: captured, not on chain yet (run `trace anchor`)")
    if total is not None:
        lines.append(f"this batch: the latest {len(data.timeline)} of {total} events (--limit)")
    for recall in trip.recalls:
        lines.append(
            f"[bold red]recalled[/bold red] {recall.gtin}/{recall.lot} at {recall.recalled_at}: "
            + (recall.reason or "reason not available")
        )
    parts: list[Any] = ["\n".join(lines)]
    for group in groups:
        head = "this batch" if group.depth == 0 else "made from"
        table = Table(
            title=f"{head}: {group.product or 'batch'} {group.gtin}/{group.lot}"
            + ("  [bold red]RECALLED[/bold red]" if group.recalled else ""),
            caption=f"{group.verified_steps} of {len(group.steps)} steps verified"
            + ("" if group.hash_chain_ok else "; [red]hash chain BROKEN[/red]")
            + (f"; {group.units_issued} serialised units issued" if group.units_issued else ""),
            title_justify="left",
            caption_justify="left",
        )
        for col in ("", "when", "step", "by", "where", "proof", "documents"):
            table.add_column(col, overflow="fold")
        for ev in group.steps:
            docs = ", ".join(
                ("🔒 " if d.private else f"{d.type or d.name or ''} ")
                + ("hash verified" if d.verified else "UNVERIFIED")
                + (f" (valid until {d.valid_until})" if d.valid_until else "")
                for d in ev.documents
            )
            name, gln = trip.place_of(ev.where)
            where = f"{name} (GLN {gln})" if name else (f"GLN {gln}" if gln else "")
            step = ev.biz_step or ev.type
            if ev.type == "TransformationEvent":
                step = f"transformed ({ev.process})" if ev.process else "transformed"
            proof = ev.how or ev.reason or ev.status
            table.add_row(MARKS[ev.status], ev.event_time, step, _party(trip.parties, ev.actor), where, proof, docs)
        parts.append(table)
        sensors = group.sensors
        if sensors:
            for series in sensors.series:
                limits = (
                    f"; allowed {series.low}–{series.high} {series.unit}, {series.excursions} outside"
                    if series.low is not None or series.high is not None
                    else ""
                )
                parts.append(
                    f"  {series.type}: {series.count} readings, {series.min}–{series.max} {series.unit}{limits}; "
                    f"{sensors.verified} of {sensors.count} sensor events verified"
                )
    return Group(*parts)


def register(app: typer.Typer) -> None:
    """`batch show` joins the `batch` group that registry_cmds registers."""
