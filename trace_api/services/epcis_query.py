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

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from trace_api.domain import batch_key
from trace_api.epcis import EPCIS_CONTEXT, EVENT_TYPES, HASH_VERSION
from trace_api.epcis.identifiers import to_digital_link
from trace_api.epcis.vocab import biz_step_name, disposition_name
from trace_api.errors import ConflictError, NotFoundError, ValidationError
from trace_api.index import queries_epcis

__all__ = [
    "PARAMETERS",
    "EventsPage",
    "NamedQuery",
    "create_named_query",
    "delete_named_query",
    "event_id",
    "events_page",
    "named_queries",
    "named_query",
    "query_document",
    "run_query",
]

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
    ids = _values(query, "EQ_eventID")  # by hash through the key, a partner's own eventID by its text
    out: list[dict[str, Any]] = []
    skipped = 0
    with engine.connect() as conn:
        candidates = queries_epcis.candidate_events(
            conn,
            types=_values(query, "eventType"),
            hashes=[h for h in map(_hash_of, ids) if h],
            texts=[json.dumps(i) for i in ids if not _hash_of(i)],
            biz_steps=[biz_step_name(s) or s[:64] for s in _values(query, "EQ_bizStep")],
            since=_time(query, "GE_eventTime"),
            before=_time(query, "LT_eventTime"),
            limit=MAX_SCAN,
        )
        for body, stored_hash in candidates:
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


class EventsPage(BaseModel):
    """One page of ``GET /events``: captured events (EPCIS 2.0 JSON-LD, each with its ``eventID``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    events: list[dict[str, Any]]
    count: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last")


def events_page(
    engine: Engine,
    *,
    gtin: str | None = None,
    lot: str | None = None,
    biz_step: str | None = None,
    since: dt.datetime | None = None,
    before: dt.datetime | None = None,
    limit: int,
    offset: int,
) -> EventsPage:
    """The simple query of ``GET /events``: by batch (gtin and lot together), bizStep (a CBV name or URI), and
    event-time range; paginated by offset."""
    batch_id = None
    if gtin or lot:
        if not (gtin and lot):
            raise ValidationError("give both gtin and lot")
        batch_id = batch_key(gtin, lot).id_hex
    with engine.connect() as conn:
        rows = queries_epcis.event_page(
            conn,
            batch_id=batch_id,
            biz_step=biz_step.rsplit("-", 1)[-1] if biz_step else None,
            since=since,
            before=before,
            limit=limit + 1,
            offset=offset,
        )
    items = [json.loads(r.body) | {"eventID": r.event_hash} for r in rows[:limit]]
    return EventsPage(events=items, count=len(items), next_offset=offset + limit if len(rows) > limit else None)


class NamedQuery(BaseModel):
    """A stored EPCIS query: its name and its parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    query: dict[str, Any]


def create_named_query(engine: Engine, *, name: str, query: dict[str, Any], organisation: str) -> NamedQuery:
    """Store a named query once its parameters are checked; ConflictError when the name is taken."""
    check_query(query)
    with engine.begin() as conn:
        if queries_epcis.named_query(conn, name) is not None:
            raise ConflictError(f"a query named {name!r} exists")
        queries_epcis.add_named_query(conn, name=name, query=json.dumps(query), organisation=organisation)
    return NamedQuery(name=name, query=query)


def named_queries(engine: Engine) -> list[NamedQuery]:
    with engine.connect() as conn:
        return [NamedQuery(name=name, query=json.loads(text)) for name, text in queries_epcis.named_queries(conn)]


def named_query(engine: Engine, name: str) -> NamedQuery:
    """NotFoundError when no query has that name."""
    with engine.connect() as conn:
        text = queries_epcis.named_query(conn, name)
    if text is None:
        raise NotFoundError(f"no query named {name!r}")
    return NamedQuery(name=name, query=json.loads(text))


def delete_named_query(engine: Engine, name: str) -> None:
    """NotFoundError when no query has that name."""
    with engine.begin() as conn:
        if not queries_epcis.delete_named_query(conn, name):
            raise NotFoundError(f"no query named {name!r}")
