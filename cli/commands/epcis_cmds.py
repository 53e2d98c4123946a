"""`trace import`, `trace epcis hash|export`."""

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.context import console, emit, state
from trace_api import domain
from trace_api.epcis import event_hash_id, export_document, iter_events
from trace_api.epcis.xml_export import export_xml
from trace_api.errors import ValidationError, VerificationFailed
from trace_api.services import event_proofs, history, importer, sheet

epcis_app = typer.Typer(
    help="EPCIS documents (2.0 JSON-LD, 1.2/2.0 XML): CBV 2.0 event hashes, export.", no_args_is_help=True
)


def import_(
    file: Path = typer.Argument(
        None,
        help="CSV (columns above), EPCIS 2.0 JSON-LD or EPCIS 1.2/2.0 XML; "
        "with --template, where to write the template (else stdout).",
    ),
    batch_size: int = typer.Option(None, "--batch-size", help="Events per Merkle root (TRACE_ANCHOR_BATCH_SIZE)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate everything, write nothing."),
    ignore_column: list[str] = typer.Option(
        [],
        "--ignore-column",
        metavar="NAME",
        help="Leave this CSV column out (repeatable); unknown columns are an error otherwise.",
    ),
    template: bool = typer.Option(
        False, "--template", help="Write a CSV template: every column, one example row per step."
    ),
) -> None:
    if template:
        _write_template(file)
        return
    if file is None:
        raise ValidationError("which file? `trace import FILE` (or `trace import --template FILE` to start one)")
    context = state().trace()
    account = state().account("producer")
    options = {
        "account": account,
        "path": file,
        "batch_size": batch_size,
        "dry_run": dry_run,
        "ignore_columns": ignore_column,
    }
    if state().json:
        report = importer.import_file(context, **options)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"importing {file.name}", total=None)
            report = importer.import_file(context, **options, progress=lambda n: bar.update(task, completed=n))
    verb = "validated (dry run)" if dry_run else "imported"
    emit(
        report.model_dump(mode="json"),
        f"{verb} {report.rows} rows: {report.new_events} new events, {report.anchored_roots} roots "
        f"anchored, {report.direct_events} lifecycle events recorded, {report.batches} batches",
    )


def _write_template(out: Path | None) -> None:
    text = sheet.template()
    if out is None:
        typer.echo(text, nl=False)
        return
    if out.exists():
        raise ValidationError(f"{out} exists; choose a new file name for the template")
    out.write_text(text, encoding="utf-8")
    rows = text.count("\n") - 1
    emit(
        {"written": str(out), "columns": list(sheet.COLUMNS), "rows": rows},
        f"wrote {out}: {len(sheet.COLUMNS)} columns, {rows} example rows (one per step)",
    )


IMPORT_HELP = (
    "Import events: validated in full, hashed, anchored under Merkle roots, indexed; resumable. Any bad row "
    "(an unknown column, a row twice, an unregistered batch) means nothing is imported.\n\n"
    "CSV " + sheet.columns_note() + ". Comma, semicolon or tab separated (detected from the header).\n\n"
    "CSV " + sheet.steps_note() + ". Shipping (with `to`), receiving and arriving of a batch registered here are "
    "recorded on chain as lifecycle steps; every other row is anchored under a Merkle root.\n\n"
    "Start from `trace import --template my-events.csv`."
)


@epcis_app.command("hash")
def epcis_hash(file: Path) -> None:
    """Print the GS1 CBV 2.0 event hash ID of each event, in document order."""
    hashes = [event_hash_id(e) for e in iter_events(file)]
    if state().json:
        emit(hashes)
    else:
        for h in hashes:
            typer.echo(h)


@epcis_app.command("verify")
def epcis_verify(file: Path) -> None:
    """Check each event of a document against the chain: captured here, and anchored (Merkle proof) or recorded.

    Works for any event, with or without a registered batch. Exits 6 unless every event is verified.
    """
    verdicts = event_proofs.verify_events(state().trace(), (importer.event_dict(e) for e in iter_events(file)))
    data = [v.fields() for v in verdicts]
    emit(data, "\n".join(f"{v.status:9} {v.event_id}" + (f"  {v.how} in block {v.block}" if v.status == "verified"
                                                         else "") for v in verdicts))  # fmt: skip
    failed = [v for v in verdicts if v.status != "verified"]
    if failed:
        raise VerificationFailed(
            f"{len(failed)} of {len(verdicts)} events not verified; first: {failed[0].event_id} is {failed[0].status}",
            verdict={"events": data},
        )


@epcis_app.command("export")
def epcis_export(
    gtin: str,
    lot: str,
    out: Path = typer.Option(None, "-o", help="Write to a file."),
    fmt: str = typer.Option("json", "--format", help="json (EPCIS 2.0 JSON-LD) or xml (EPCIS 2.0 XML)."),
) -> None:
    """Export a batch's events as an EPCIS 2.0 document; each event re-hashes to the hash anchored for it."""
    if fmt not in ("json", "xml"):
        raise ValidationError(f"--format {fmt!r}: use json or xml")
    data = history.history(state().trace(), gtin=gtin, lot=lot)
    document = export_document(history.events_of(state().trace(), domain.batch_key(gtin, lot)))
    if fmt == "xml":
        text = export_xml(document["epcisBody"]["eventList"], creation_date=document["creationDate"]).decode("utf-8")
    else:
        text = json.dumps(document, indent=2) + "\n"
    if out:
        out.write_text(text)
        emit({"written": str(out), "events": len(data.timeline)}, f"wrote {len(data.timeline)} events to {out}")
    else:
        typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    app.command("import", help=IMPORT_HELP)(import_)
    app.add_typer(epcis_app, name="epcis")
