"""`trace role`, `trace batch`, `trace event`, `trace anchor`: the traceability registry (`trace batch show` is in
`show_cmds`: reading a journey loads what recording a step does not need)."""

from pathlib import Path

import typer

from cli.context import emit, state
from trace_api.services import batches
from trace_api.services.product import product_metadata

role_app = typer.Typer(help="Grant and revoke registry roles.", no_args_is_help=True)
batch_app = typer.Typer(help="Register, derive, recall and show batches.", no_args_is_help=True)
event_app = typer.Typer(help="Record lifecycle events.", no_args_is_help=True)


@role_app.command("grant")
def role_grant(role: str, account: str) -> None:
    """Grant ROLE (producer, processor, carrier, inspector, retailer, admin) to ACCOUNT (address or dev name)."""
    result = batches.set_role(state().trace(), account=state().account("admin"), role=role, member=account, grant=True)
    emit(result.model_dump(mode="json"), f"granted {role} to {result.account}")


@role_app.command("revoke")
def role_revoke(role: str, account: str) -> None:
    """Revoke ROLE from ACCOUNT."""
    result = batches.set_role(state().trace(), account=state().account("admin"), role=role, member=account, grant=False)
    emit(result.model_dump(mode="json"), f"revoked {role} from {result.account}")


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
    meta = product_metadata(product=product, origin=origin)
    result = batches.register_batch(
        state().trace(),
        account=state().account("producer"),
        gtin=gtin,
        lot=lot,
        quantity=quantity,
        uom=uom,
        metadata=meta,
    )
    emit(
        result.model_dump(mode="json"),
        f"registered {result.gtin}/{result.lot} as {result.batch_id} (block {result.block})",
    )


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
    meta = product_metadata(product=product)
    result = batches.derive_batch(
        state().trace(),
        source="cli",
        account=state().account("processor"),
        gtin=gtin,
        lot=lot,
        parents=parents,
        quantity=quantity,
        uom=uom,
        metadata=meta,
        process=process,
    )
    emit(result.model_dump(mode="json"), f"derived {result.gtin}/{result.lot} from {len(parents)} parent(s)")


@batch_app.command("recall")
def batch_recall(gtin: str, lot: str, reason: str = typer.Option(..., "--reason")) -> None:
    """Recall a batch (its producer or an admin); everything derived from it reads as recalled too."""
    result = batches.recall_batch(
        state().trace(), source="cli", account=state().account("producer"), gtin=gtin, lot=lot, reason=reason
    )
    emit(result.model_dump(mode="json"), f"recalled {gtin}/{lot}")


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
    doc_type: str = typer.Option(None, "--doc-type", help="What the public document is, e.g. 'Organic certificate'."),
    doc_issuer: str = typer.Option(None, "--doc-issuer", help="Who issued the public document."),
    valid_from: str = typer.Option(None, "--valid-from", help="The document is valid from (YYYY-MM-DD)."),
    valid_until: str = typer.Option(None, "--valid-until", help="The document is valid until (YYYY-MM-DD)."),
) -> None:
    """Record one lifecycle step of a batch on chain. A public document's type, issuer and validity go into the
    event (under its hash on chain) and show on the scan page."""
    details = {"type": doc_type, "issuer": doc_issuer, "valid_from": valid_from, "valid_until": valid_until}
    result = batches.record_event(
        state().trace(),
        source="cli",
        account=state().account("producer"),
        gtin=gtin,
        lot=lot,
        step=step,
        gln=location,
        to=to,
        doc=doc,
        private=private,
        recipients=share,
        doc_details={k: v for k, v in details.items() if v},
    )
    emit(
        result.model_dump(mode="json"), f"recorded {step} for {gtin}/{lot}: {result.event_hash} (gas {result.gas_used})"
    )


def anchor(batch_size: int = typer.Option(None, "--batch-size", help="Events per Merkle root.")) -> None:
    """Finish what this account left pending: record its lifecycle events, anchor its captured events under
    Merkle roots. Never another account's: those are theirs to sign."""
    from trace_api.services import anchoring  # with captures and the importer: not on the read path

    result = anchoring.anchor(state().trace(), account=state().account("producer"), batch_size=batch_size)
    emit(
        result.model_dump(mode="json"),
        f"recorded {result.direct_events} lifecycle events, anchored {len(result.roots_anchored)} roots",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(role_app, name="role")
    app.add_typer(batch_app, name="batch")
    app.add_typer(event_app, name="event")
    app.command("anchor")(anchor)
