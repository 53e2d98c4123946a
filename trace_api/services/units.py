"""Unit serials: each serial is commissioned as its own EPCIS ObjectEvent, anchored under Merkle roots,
so a scanned unit can be proved genuine without a storage slot per serial."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from qr import digital_link
from qr.errors import DigitalLinkError
from trace_api.domain import batch_key, now_utc
from trace_api.errors import ValidationError
from trace_api.services import importer
from trace_api.services.context import TraceContext
from trace_api.services.importer import ImportReport


class UnitsCommissioned(ImportReport):
    """Serials commissioned as EPCIS events of one batch, anchored as an import of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    batch_id: str
    serials: int = Field(description="Serials commissioned")


if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


def commission_units(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    gtin: str,
    lot: str,
    serials: list[str],
    gln: str | None = None,
    when: str | None = None,
) -> UnitsCommissioned:
    key = batch_key(gtin, lot)
    try:
        serials = [digital_link.validate_serial(s) for s in serials]
    except DigitalLinkError as exc:
        raise ValidationError(str(exc)) from exc
    at = when or now_utc()
    events = []
    for serial in serials:
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventTime": at,
            "eventTimeZoneOffset": "+00:00",
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "epcList": [digital_link.unit_uri(key.gtin, key.lot, serial, domain=digital_link.CANONICAL_DOMAIN)],
        }
        if gln:
            event["readPoint"] = {"id": f"https://id.gs1.org/414/{gln}"}
        events.append(event)
    name = f"units:{key.gtin}/{key.lot}"
    report = importer.import_events(ctx, account=account, events=events, name=name, source=name)
    return UnitsCommissioned(batch_id=key.id_hex, serials=len(serials), **report.model_dump())
