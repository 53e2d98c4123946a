"""EPCIS 2.0 queries over the captured events (EPCIS 2.0 section 8.2.7 parameters, the subset stated below).

Parameters: ``eventType``, ``EQ_bizStep``, ``EQ_disposition``, ``EQ_bizLocation``, ``EQ_readPoint``, ``MATCH_epc``
(any EPC or class field), ``GE_eventTime``, ``LT_eventTime``, ``EQ_eventID``. Values are lists (a single value is
taken as a list of one). Identifiers match in any form: each side is compared as its constrained canonical
Digital Link, so ``urn:epc:id:sgln:…`` finds ``https://id.gs1.org/414/…``. Any other parameter is refused
(EPCIS's QueryParameterException), as the standard requires.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, or_, select

from trace_api.epcis import EPCIS_CONTEXT, EVENT_TYPES, HASH_VERSION
from trace_api.epcis._canon import to_digital_link
from trace_api.epcis.vocab import biz_step_name, disposition_name
from trace_api.errors import ValidationError
from trace_api.index import schema as t

__all__ = ["PARAMETERS", "event_id", "query_document", "run_query"]

PARAMETERS = frozenset({"eventType", "EQ_bizStep", "EQ_disposition", "EQ_bizLocation", "EQ_readPoint", "MATCH_epc",
                        "GE_eventTime", "LT_eventTime", "EQ_eventID"})  # fmt: skip
MAX_SCAN = 100_000
_HASH_ID = re.compile(r"ni:///sha-256;([0-9a-fA-F]{64})\?ver=CBV\d+\.\d+(?:\.\d+)?|0x([0-9a-fA-F]{64})")
_EPC_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_CLASS_FIELDS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def event_id(event_hash: str) -> str:
    """The Event Hash ID (a URI, as eventID must be) of a stored event's hash."""
    return f"ni:///sha-256;{event_hash[2:]}?ver={HASH_VERSION}"


def _hash_of(event_id_text: str) -> str | None:
    """The stored hash an Event Hash ID (``ni:///sha-256;<hex>?ver=…``) or a ``0x`` hash names, else None."""
    found = _HASH_ID.fullmatch(event_id_text)
    return "0x" + (found.group(1) or found.group(2)).lower() if found else None


def _canonical(uri: str) -> str:
    return to_digital_link(uri.strip()) or uri.strip()


def _values(query: Mapping[str, Any], name: str) -> list[str]:
    raw = query.get(name)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise ValidationError(f"query parameter {name}: expected a non-empty list of strings")
    return items


def _time(query: Mapping[str, Any], name: str) -> dt.datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"query parameter {name}: {raw!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_query(query: Mapping[str, Any]) -> None:
    """Refuse unknown parameters and malformed values before a query is stored or run."""
    unknown = sorted(set(query) - PARAMETERS)
    if unknown:
        raise ValidationError(f"unknown query parameter(s) {', '.join(unknown)}; supported: "
                              f"{', '.join(sorted(PARAMETERS))}")  # fmt: skip
    for name in PARAMETERS - {"GE_eventTime", "LT_eventTime"}:
        _values(query, name)
    bad = [v for v in _values(query, "eventType") if v not in EVENT_TYPES]
    if bad:
        raise ValidationError(f"eventType {bad[0]!r}: one of {', '.join(EVENT_TYPES)}")
    _time(query, "GE_eventTime")
    _time(query, "LT_eventTime")


def _identifiers(event: Mapping[str, Any]) -> set[str]:
    found = {e for name in _EPC_FIELDS for e in event.get(name) or [] if isinstance(e, str)}
    found |= {str(q["epcClass"]) for name in _CLASS_FIELDS for q in event.get(name) or [] if isinstance(q, dict)
              and isinstance(q.get("epcClass"), str)}  # fmt: skip
    if isinstance(event.get("parentID"), str):
        found.add(event["parentID"])
    return {_canonical(i) for i in found if i}


def _location(event: Mapping[str, Any], name: str) -> str | None:
    value = event.get(name)
    return _canonical(value["id"]) if isinstance(value, dict) and isinstance(value.get("id"), str) else None


def _matches(event: Mapping[str, Any], stored_hash: str, query: Mapping[str, Any]) -> bool:
    if (ids := _values(query, "EQ_eventID")) and not ({event_id(stored_hash), stored_hash, event.get("eventID")}
                                                       & set(ids)):  # fmt: skip
        return False
    if (places := _values(query, "EQ_bizLocation")) and _location(event, "bizLocation") not in {
            _canonical(p) for p in places}:  # fmt: skip
        return False
    if (points := _values(query, "EQ_readPoint")) and _location(event, "readPoint") not in {
            _canonical(p) for p in points}:  # fmt: skip
        return False
    disposition = str(event.get("disposition", ""))
    if (disps := _values(query, "EQ_disposition")) and (disposition_name(disposition) or disposition) not in {
            disposition_name(d) or d for d in disps}:  # fmt: skip
        return False
    epcs = _values(query, "MATCH_epc")
    return not epcs or bool(_identifiers(event) & {_canonical(e) for e in epcs})


def run_query(
    engine: Engine, query: Mapping[str, Any], *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], bool]:
    """(matching events, oldest first, each with its eventID; whether more follow)."""
    check_query(query)
    statement = select(t.epcis_events.c.body, t.epcis_events.c.event_hash)
    if types := _values(query, "eventType"):
        statement = statement.where(t.epcis_events.c.event_type.in_(types))
    if ids := _values(query, "EQ_eventID"):  # by hash through the key, a partner's own eventID by its text
        hashes = [h for h in map(_hash_of, ids) if h]
        others = [i for i in ids if not _hash_of(i)]
        statement = statement.where(
            or_(
                t.epcis_events.c.event_hash.in_(hashes),
                *(t.epcis_events.c.body.contains(json.dumps(i)) for i in others),
            )
        )
    if steps := _values(query, "EQ_bizStep"):
        statement = statement.where(t.epcis_events.c.biz_step.in_([biz_step_name(s) or s[:64] for s in steps]))
    if (start := _time(query, "GE_eventTime")) is not None:
        statement = statement.where(t.epcis_events.c.event_time >= start)
    if (end := _time(query, "LT_eventTime")) is not None:
        statement = statement.where(t.epcis_events.c.event_time < end)
    statement = statement.order_by(t.epcis_events.c.event_time, t.epcis_events.c.event_hash).limit(MAX_SCAN)
    out: list[dict[str, Any]] = []
    skipped = 0
    with engine.connect() as conn:
        for body, stored_hash in conn.execute(statement):
            event = json.loads(body)
            if not _matches(event, stored_hash, query):
                continue
            if skipped < offset:
                skipped += 1
                continue
            if len(out) == limit:
                return out, True
            out.append({**event, "eventID": event.get("eventID") or event_id(stored_hash)})
    return out, False


def query_document(events: Iterable[Mapping[str, Any]], *, name: str | None = None) -> dict[str, Any]:
    """An EPCISQueryDocument holding ``events`` (each keeps its own ``@context``)."""
    results: dict[str, Any] = {"resultsBody": {"eventList": list(events)}}
    if name:
        results = {"queryName": name, **results}
    return {"@context": [EPCIS_CONTEXT], "type": "EPCISQueryDocument", "schemaVersion": "2.0",
            "creationDate": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "epcisBody": {"queryResults": results}}  # fmt: skip
