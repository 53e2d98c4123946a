"""The whole journey of an item for the scan page: its own batch and every batch upstream of it, each as a group
of verified steps, with its sensor readings summarised, the parties named by their vouched-for organisation, the
places named, and the details of any recall.

One function, ``build``, takes a batch's history (services.history) and returns a ``Journey``: the HTML page, its
JSON and ``trace batch show`` all render the same thing (``Journey.as_json``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from qr import digital_link
from trace_api.domain import batch_key
from trace_api.services import history, orgs
from trace_api.services.context import TraceContext
from trace_api.services.history_models import BatchHistory, TimelineEntry

# UN/CEFACT common codes of sensor units, as people write them.
UNIT_SYMBOLS = {
    "CEL": "°C",
    "FAH": "°F",
    "KEL": "K",
    "P1": "%",
    "KGM": "kg",
    "GRM": "g",
    "MTR": "m",
    "A93": "g/m³",
    "KPA": "kPa",
    "LTR": "l",
    "PPM": "ppm",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SensorSeries(_Frozen):
    """One measurement of a batch's sensor events: every anchored reading (time, value), its range, its limits
    (from the batch's metadata) and how many readings fall outside them."""

    type: str
    uom: str
    unit: str
    count: int
    min: int | float
    max: int | float
    low: JsonValue
    high: JsonValue
    excursions: int
    readings: list[tuple[str | None, int | float]]


class Sensors(_Frozen):
    """A batch's sensor events condensed: how many, in which state, from when to when, and their series."""

    count: int
    verified: int
    mismatch: int
    pending: int
    first: str | None
    last: str | None
    series: list[SensorSeries]


class Group(_Frozen):
    """One batch of the journey (``depth`` 0: the item's own; more: a batch it was made from) and its steps."""

    batch_id: str
    gtin: str
    lot: str
    depth: int
    product: JsonValue
    origin: JsonValue
    path: str
    producer: str | None
    registered: bool
    recalled: bool
    hash_chain_ok: bool
    undisclosed: int
    steps: list[TimelineEntry]
    verified_steps: int
    sensors: Sensors | None
    units_issued: int


class Party(_Frozen):
    """An account's organisation, as vouched for by a registry admin (``verified``: the chain holds its hash)."""

    name: str
    country: str
    website: str | None
    verified: bool


class RecallNotice(_Frozen):
    """Why and when a batch of the journey was recalled (``reason_verified``: it hashes to what the chain holds)."""

    batch_id: str
    gtin: str
    lot: str
    product: JsonValue
    reason: str | None
    reason_verified: bool
    recalled_at: str | None


class Journey(_Frozen):
    groups: list[Group]
    parties: dict[str, Party]
    places: dict[str, str]
    recalls: list[RecallNotice]
    steps: int
    verified_steps: int

    def as_json(self) -> dict[str, Any]:
        """Plain JSON; a step shows only the fields of its kind (see ``history_models.EventStatus``)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def place_of(self, where: str | None) -> tuple[str | None, str | None]:
        """(name, GLN) of an event's read point; the name is None when neither an organisation nor the batch's
        metadata names the GLN."""
        gln = _gln(where)
        return (self.places.get(gln) if gln else None), gln


def _gln(where: str | None) -> str | None:
    return where.rsplit("/", 1)[-1] if where else None


def _shown(event: TimelineEntry, serial: str | None) -> bool:
    """A step of the story: not a sensor reading (those are summarised), not another unit's commissioning."""
    return event.biz_step != "sensor_reporting" and (not event.serials or serial in event.serials)


def sensors(readings: list[TimelineEntry], limits: dict[str, Any]) -> Sensors | None:
    """Sensor events condensed: how many, how many verified, and per measurement its series (every anchored
    reading, time and value), its range, and how many readings fall outside the batch's allowed range."""
    if not readings:
        return None
    series: dict[tuple[str, str], list[tuple[str | None, int | float]]] = {}
    for event in readings:
        for r in event.readings or []:
            series.setdefault((r.type, r.uom), []).append((event.event_time, r.value))
    out = []
    for (kind, uom), points in series.items():
        found = limits.get(kind)
        limit: dict[str, Any] = found if isinstance(found, dict) else {}
        low, high = limit.get("min"), limit.get("max")
        values = [v for _, v in points]
        out.append(
            SensorSeries(
                type=kind,
                uom=uom,
                unit=UNIT_SYMBOLS.get(uom, uom),
                count=len(points),
                min=min(values),
                max=max(values),
                low=low,
                high=high,
                excursions=sum(1 for v in values if (low is not None and v < low) or (high is not None and v > high)),
                readings=points,
            )
        )
    return Sensors(
        count=len(readings),
        verified=sum(1 for e in readings if e.status == "verified"),
        mismatch=sum(1 for e in readings if e.status == "mismatch"),
        pending=sum(1 for e in readings if e.status == "pending"),
        first=readings[0].event_time,
        last=readings[-1].event_time,
        series=out,
    )


def _class_of(identifier: str) -> str:
    """A batch's class URI from an output class or a unit's EPC (``…/01/G/10/L/21/S`` → ``…/01/G/10/L``)."""
    return identifier.split("/21/", 1)[0]


def _group(data: BatchHistory, depth: int, serial: str | None, seen: set[str], on_path: set[str]) -> Group:
    # An upstream batch's transformations into other products (a sibling lot made from the same green coffee)
    # are not this item's story.
    own = [
        e
        for e in data.timeline
        if e.event_hash not in seen
        and not (depth > 0 and e.outputs and not any(_class_of(o) in on_path for o in e.outputs))
    ]
    seen.update(e.event_hash for e in own)
    steps = [e for e in own if _shown(e, serial if depth == 0 else None)]
    readings = [e for e in own if e.biz_step == "sensor_reporting"]
    meta = data.metadata
    limits = meta.get("limits")
    return Group(
        batch_id=data.batch_id,
        gtin=data.gtin,
        lot=data.lot,
        depth=depth,
        product=meta.get("product"),
        origin=meta.get("origin"),
        path=digital_link.key_path(data.gtin, data.lot),
        producer=data.producer,
        registered=data.registered,
        recalled=data.recall.own,
        hash_chain_ok=data.hash_chain.ok,
        undisclosed=len(data.undisclosed),
        steps=steps,
        verified_steps=sum(1 for e in steps if e.status == "verified"),
        sensors=sensors(readings, limits if isinstance(limits, dict) else {}),
        units_issued=sum(len(e.serials) for e in own if e.serials),
    )


def _recall(ctx: TraceContext, data: BatchHistory) -> RecallNotice:
    """Why and when a batch was recalled: the reason its recall event gives, checked against the hash the chain
    holds, and the time of the block that recorded the recall."""
    wanted = data.recall.reason_hash
    reasons = [e.recall_reason for e in data.timeline if e.recall_reason is not None]
    reason = next((r for r in reasons if "0x" + hashlib.sha256(r.encode()).hexdigest() == wanted), None)
    block = data.recall.block
    when = None
    if block is not None:
        stamp = int(ctx.chain.block(block)["timestamp"], 16)
        when = dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat().replace("+00:00", "Z")
    return RecallNotice(
        batch_id=data.batch_id,
        gtin=data.gtin,
        lot=data.lot,
        product=data.metadata.get("product"),
        reason=reason,
        reason_verified=reason is not None,
        recalled_at=when,
    )


def build(ctx: TraceContext, data: BatchHistory, *, serial: str | None = None) -> Journey:
    """The journey of ``data`` (a batch's history): groups ordered in time (upstream batches first), parties,
    places and recalls. An event shared by two batches (a transformation) is shown once, with the batch it made."""
    seen: set[str] = set()
    histories = [(data, 0)] + [
        (history.history_of(ctx, batch_key(p.gtin, p.lot)), p.depth)
        for p in data.parents
        if p.gtin is not None and p.lot is not None
    ]
    on_path = {batch_key(h.gtin, h.lot).epc_class for h, _ in histories}
    groups = [_group(h, depth, serial, seen, on_path) for h, depth in histories]

    def start(group: Group) -> str:
        times = [e.event_time for e in group.steps if e.event_time]
        return min(times) if times else "9999"

    groups.sort(key=lambda g: (start(g), -g.depth))
    accounts = {e.actor for g in groups for e in g.steps if e.actor}
    accounts |= {g.producer for g in groups if g.producer}
    parties = orgs.names(ctx, sorted(accounts))
    places: dict[str, str] = {}
    for org in parties.values():
        for gln in org.profile.glns:
            places[gln] = org.profile.legal_name
    for h, _ in histories:
        named = h.metadata.get("places")
        places.update({k: str(v) for k, v in (named if isinstance(named, dict) else {}).items()})
    return Journey(
        groups=groups,
        parties={
            address: Party(
                name=org.profile.legal_name,
                country=org.profile.country,
                website=org.profile.website,
                verified=org.verified,
            )
            for address, org in parties.items()
        },
        places=places,
        recalls=[_recall(ctx, h) for h, _ in histories if h.recall.own],
        steps=sum(len(g.steps) for g in groups),
        verified_steps=sum(g.verified_steps for g in groups),
    )
