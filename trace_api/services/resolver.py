"""What a scanned GS1 Digital Link shows: the verified product story, its verdict, unit checks, scans, signatures.
The link sets a GS1-conformant resolver serves for the same URIs are in `linksets`."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, JsonValue

from qr import digital_link
from qr.errors import DigitalLinkError, SignatureError
from qr.signing import recover_address
from trace_api.domain import BatchKey, batch_key
from trace_api.errors import ValidationError, VerificationFailed
from trace_api.index import queries
from trace_api.services import history, journey
from trace_api.services.context import TraceContext
from trace_api.services.history_models import BatchHistory
from trace_api.services.scan_models import Counterfeit, ScanReport, ScanSummary, ScanVerdict, UnitFacts
from trace_api.services.scans import ScanFacts

ANOMALY_PLACES = 3  # one serial scanned from this many distinct places looks cloned


def parse_key(gtin: str, lot: str, serial: str | None = None) -> tuple[BatchKey, str | None]:
    """Validate the path of a Digital Link request (bad check digit → ValidationError, HTTP 400)."""
    key = batch_key(gtin, lot)
    if serial is not None:
        try:
            serial = digital_link.validate_serial(serial)
        except DigitalLinkError as exc:
            raise ValidationError(str(exc)) from exc
    return key, serial


def unit_status(ctx: TraceContext, key: BatchKey, serial: str, data: BatchHistory) -> str:
    """ "known" when a verified commissioning event by the batch's registrant lists the serial; "pending" when such
    an event is captured but not verified yet; else "unknown". ``data`` is the batch's history: only its verified
    facts count, so nobody else's capture (pending, refused or anchored under their own root) issues a serial."""
    uri = f"https://id.gs1.org{digital_link.key_path(key.gtin, key.lot)}/21/{serial}"
    with ctx.engine.connect() as conn:
        rows = queries.commissioning_events(conn, key.id_hex, json.dumps(uri))
    status = {e.event_hash: e for e in data.timeline}
    registrant = data.producer
    found = "unknown"
    for event_hash, body in rows:
        entry = status.get(event_hash)
        if entry is None or uri not in (json.loads(body).get("epcList") or []):
            continue
        if entry.status == "verified" and registrant and entry.actor == registrant:
            return "known"
        if entry.status == "pending":
            found = "pending"
    return found


def scan_report(facts: ScanFacts, place: str) -> ScanReport:
    """A unit's scans, the one being served from ``place`` included, and whether their pattern looks like a cloned
    code. The others are those recorded so far (``ctx.scans``: the caller queues this one for the writer)."""
    facts = facts.with_scan_from(place)
    anomaly = facts.places >= ANOMALY_PLACES
    return ScanReport(
        count=facts.count,
        places=facts.places,
        anomaly=anomaly,
        message=f"this code was scanned in {facts.places} different places — it may have been copied"
        if anomaly
        else None,
    )


def verified_history(ctx: TraceContext, key: BatchKey) -> BatchHistory:
    """The batch's verified history at the index's current version: computed once per version and reused
    (``ctx.histories``); the caller brings the index up to the chain first."""
    return ctx.histories.get(("history", key.id_hex), lambda: history.history_of(ctx, key))


def place_of(client_host: str | None) -> str:
    """A coarse, non-identifying place for a scan: a hash of the client's /24 (IPv4) or /48 (IPv6) network."""
    host = client_host or "unknown"
    network = ".".join(host.split(".")[:3]) if "." in host else ":".join(host.split(":")[:3])
    return hashlib.sha256(network.encode()).hexdigest()[:16]


def summary(
    ctx: TraceContext, *, gtin: str, lot: str, serial: str | None = None, place: str | None = None
) -> ScanSummary | Counterfeit:
    """The scan page's data (HTML and JSON alike): the verdict first; then, unless the code is not genuine, the
    product and its whole journey (services.journey). A serial never issued gets the verdict only: showing the
    batch's journey under it would lend a copied code the real batch's story."""
    key, serial = parse_key(gtin, lot, serial)
    record = verified_history(ctx, key)
    unit = None
    if serial is not None:
        state = unit_status(ctx, key, serial, record)
        scans = scan_report(ctx.scans.facts(key.id_hex, serial), place or "unknown")
        unit = UnitFacts(serial=serial, known=state == "known", pending=state == "pending", scans=scans)
        if state == "unknown":
            return counterfeit(
                key.gtin,
                key.lot,
                serial,
                registered=record.registered,
                product=record.metadata.get("product"),
                detail=f"Serial {serial} was never issued for this batch.",
            )
    trip = journey.build(ctx, record, serial=serial)
    return ScanSummary(
        **{name: getattr(record, name) for name in BatchHistory.model_fields},
        serial=serial,
        unit=unit,
        journey=trip,
        units_issued=next(g for g in trip.groups if g.depth == 0).units_issued,
        verdict=verdict(record, unit, trip),
    )


def counterfeit(
    gtin: str, lot: str, serial: str | None, *, registered: bool, product: JsonValue, detail: str
) -> Counterfeit:
    """The answer for a code that is not genuine: the verdict, nothing of any batch's story."""
    return Counterfeit(
        registered=registered,
        gtin=gtin,
        lot=lot,
        serial=serial,
        product=product,
        verdict=ScanVerdict(level="counterfeit", title="Could not verify — possible counterfeit", detail=detail),
    )


def verdict(record: BatchHistory, unit: UnitFacts | None, trip: journey.Journey) -> ScanVerdict:
    """The one-line answer the consumer sees first. "verified" only when every fact shown is verified on chain:
    nothing pending, no on-chain step without its details, the unit issued by a verified commissioning."""
    if record.recalled:
        return ScanVerdict(
            level="recalled",
            title="RECALLED — do not consume",
            detail="This batch, or a batch it was made from, has been recalled by its producer.",
        )
    groups = trip.groups
    shown = [e for g in groups for e in g.steps]
    if (
        any(e.status == "mismatch" for e in shown)
        or any(g.sensors and g.sensors.mismatch for g in groups)
        or any(e.status == "mismatch" for e in record.timeline)
        or not all(g.hash_chain_ok for g in groups)
    ):
        return ScanVerdict(
            level="mismatch",
            title="Record does not match the chain",
            detail="Some steps shown here differ from what is recorded on chain.",
        )
    undisclosed = sum(g.undisclosed for g in groups)
    if undisclosed:
        note = history.undisclosed_note(undisclosed)
        return ScanVerdict(
            level="incomplete",
            title="Not fully verified: " + note,
            detail=f"The chain holds {note}; this history cannot show what they were.",
        )
    if unit is not None and not unit.known:
        return ScanVerdict(
            level="pending",
            title="Not verified yet",
            detail=f"Serial {unit.serial} is captured but its commissioning is not on chain yet.",
        )
    upstream = [g for g in groups if g.depth > 0]  # the batch's own pending events count, shown or not
    count = (
        record.pending
        + sum(1 for g in upstream for e in g.steps if e.status == "pending")
        + sum(g.sensors.pending for g in upstream if g.sensors)
    )
    if count:
        return ScanVerdict(
            level="pending",
            title=f"Not verified yet: {count} step{'s' if count != 1 else ''} pending",
            detail="Some steps below are captured but not on chain yet; the others are verified.",
        )
    if unit is not None and unit.scans.anomaly:
        return ScanVerdict(
            level="warning", title="Verified, but scanned in many places", detail=unit.scans.message or ""
        )
    return ScanVerdict(
        level="verified",
        title="Verified on chain",
        detail="Every step below is recorded on chain by the party that performed it.",
    )


class SignatureVerdict(BaseModel):
    """Who signed a Digital Link, and whether that is the batch's registrant (the only signer trusted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    signer: str
    producer: bool
    trusted: bool
    registrant: bool
    detail: str


def check_signature(ctx: TraceContext, *, uri: str, signature: str) -> SignatureVerdict:
    """Recover who signed a Digital Link; trusted ("producer") only when the signer registered the batch on chain
    (its producer, or the processor that derived it). Holding the producer role for some other batch is not
    enough. (The registry has no on-chain delegation yet; a delegate would be checked here.)"""
    try:
        signer = recover_address(uri, signature)
        link = digital_link.parse(uri)
    except (SignatureError, DigitalLinkError) as exc:
        raise VerificationFailed(f"bad signature: {exc}") from exc
    registrant = None
    if link.gtin is not None and link.lot is not None:
        key = batch_key(link.gtin, link.lot)
        with ctx.engine.connect() as conn:
            registrant = queries.registrant(conn, key.id_hex)
    is_registrant = registrant is not None and registrant == signer.lower()
    detail = f"signed by {signer}, " + (
        "who registered this batch" if is_registrant else "who did not register this batch"
    )
    return SignatureVerdict(
        signer=signer, producer=is_registrant, trusted=is_registrant, registrant=is_registrant, detail=detail
    )
