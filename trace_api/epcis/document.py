"""Import and export of EPCIS 2.0 JSON-LD: one event, a whole document, or a large file streamed.

Every invalid input raises :class:`trace_api.errors.ValidationError` whose message names the event and the
field, e.g. ``epcisBody.eventList[3].eventTimeZoneOffset: '+25:00' is not a time zone offset ...``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
from pydantic import TypeAdapter

from trace_api.epcis import _stream
from trace_api.epcis._prehash import namespaces_from_context
from trace_api.epcis.model import (
    EPCIS_CONTEXT,
    EVENT_TYPES,
    OFFSET_PATTERN,
    URI_PATTERN,
    AggregationEvent,
    AssociationEvent,
    EPCISDocument,
    Event,
    EventBase,
    ObjectEvent,
    TransactionEvent,
    TransformationEvent,
)
from trace_api.errors import PayloadTooLargeError, ValidationError
from trace_api.finite import loads_finite

__all__ = ["export_document", "iter_event_dicts", "iter_events", "parse_document", "parse_event"]

_EVENT_MODELS: dict[str, type[EventBase]] = {
    "ObjectEvent": ObjectEvent,
    "AggregationEvent": AggregationEvent,
    "TransactionEvent": TransactionEvent,
    "TransformationEvent": TransformationEvent,
    "AssociationEvent": AssociationEvent,
}
_DOCUMENT = TypeAdapter(EPCISDocument)
_PATTERNS = {
    URI_PATTERN: "is not a URI (an EPC URN, a GS1 Digital Link or another absolute URI)",
    OFFSET_PATTERN: "is not a time zone offset between -12:00 and +14:00 (format +hh:mm)",
}


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in EVENT_TYPES and i > 0 and isinstance(loc[i - 1], int):
            continue  # the union member pydantic tried, not a field
        else:
            out += ("." if out else "") + part
    return out


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "field required"
    if kind == "union_tag_invalid":
        return f"unknown event type {error['input'].get('type')!r} (expected one of {', '.join(EVENT_TYPES)})"
    if kind == "union_tag_not_found":
        return f"event 'type' missing (expected one of {', '.join(EVENT_TYPES)})"
    if kind == "string_pattern_mismatch":
        meaning = _PATTERNS.get(error.get("ctx", {}).get("pattern", ""), "is not valid here")
        return f"{error['input']!r} {meaning}"
    text = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("literal_error", "string_type", "list_type", "model_type", "dict_type", "bool_type"):
        text += f", got {error['input']!r}"
    return text


def _invalid(exc: pydantic.ValidationError, prefix: str) -> ValidationError:
    errors = exc.errors()
    parts = []
    for error in errors[:3]:
        where = _where(tuple(error["loc"]))
        path = ".".join(p for p in (prefix, where) if p).replace(".[", "[")
        parts.append(f"{path}: {_message(error)}" if path else _message(error))
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return ValidationError("; ".join(parts) + more, errors=errors[:20])


def parse_event(data: Mapping[str, Any], *, namespaces: Mapping[str, str] | None = None, where: str = "event") -> Event:
    """Validate one EPCIS 2.0 event given as its JSON-LD object.

    ``namespaces`` are the prefixes of the enclosing document's ``@context``; an event that carries its own
    ``@context`` adds those. ``where`` prefixes error messages (``epcisBody.eventList[3]``).
    """
    if not isinstance(data, Mapping):
        raise ValidationError(f"{where}: an event must be a JSON object, not {type(data).__name__}")
    kind = data.get("type")
    model = _EVENT_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        if kind is None:
            raise ValidationError(f"{where}.type: field required (one of {', '.join(EVENT_TYPES)})")
        raise ValidationError(f"{where}.type: unknown event type {kind!r} (expected one of {', '.join(EVENT_TYPES)})")
    own = namespaces_from_context(data.get("@context"))
    if "@context" in data:
        data = {k: v for k, v in data.items() if k != "@context"}
    try:
        event = model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _invalid(exc, where) from None
    event.with_namespaces({**(namespaces or {}), **own}).with_source(dict(data))  # the inner context wins
    return event  # type: ignore[return-value]


def _document_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """The body of any accepted input as an EPCISDocument dict: a single event is wrapped."""
    kind = data.get("type")
    if kind in EVENT_TYPES:
        event = {k: v for k, v in data.items() if k != "@context"}
        return {"@context": data.get("@context", [EPCIS_CONTEXT]), "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": _now(), "epcisBody": {"eventList": [event]}}  # fmt: skip
    doc = dict(data)
    body = doc.get("epcisBody")
    if kind == "EPCISQueryDocument" and isinstance(body, Mapping):
        results = body.get("queryResults")
        results = results.get("resultsBody") if isinstance(results, Mapping) else None
        doc["type"] = "EPCISDocument"
        doc["epcisBody"] = {"eventList": results.get("eventList", []) if isinstance(results, Mapping) else []}
    elif isinstance(body, Mapping) and "event" in body and "eventList" not in body:
        doc["epcisBody"] = {"eventList": [body["event"]]}
    return doc


def parse_document(data: Mapping[str, Any] | str | bytes, *, max_bytes: int | None = None) -> EPCISDocument:
    """Validate an EPCISDocument (or an EPCISQueryDocument, or a single event) given as JSON text or a dict.

    Text longer than ``max_bytes`` raises :class:`PayloadTooLargeError` before it is parsed. Each event carries
    the prefixes of the document ``@context``, which its hash needs.
    """
    if isinstance(data, str | bytes):
        size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
        if max_bytes is not None and size > max_bytes:
            raise PayloadTooLargeError(f"EPCIS document is {size} bytes, over the limit of {max_bytes}",
                                       size=size, limit=max_bytes)  # fmt: skip
        try:
            data = loads_finite(data)  # NaN, Infinity and 1e999 are refused (422), not stored
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"EPCIS document is not valid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise ValidationError(f"EPCIS document must be a JSON object, not {type(data).__name__}")
    document_dict = _document_dict(data)
    try:
        document = _DOCUMENT.validate_python(document_dict)
    except pydantic.ValidationError as exc:
        raise _invalid(exc, "") from None
    namespaces = namespaces_from_context(document.context)
    sources = document_dict["epcisBody"]["eventList"]
    for event, source in zip(document.events, sources, strict=True):
        own = namespaces_from_context(source.get("@context")) if isinstance(source, Mapping) else {}
        if "@context" in source:
            source = {k: v for k, v in source.items() if k != "@context"}
        event.with_namespaces({**namespaces, **own}).with_source(source)  # the event's own context wins
    return document


def _streamed(path: Path, chunk: int) -> Iterator[tuple[dict[str, Any], dict[str, str] | None, str]]:
    """(raw event, document prefixes, where) for each event of a file; None prefixes for a bare-event file."""
    from trace_api.epcis import xml  # lxml and GS1's schemas: loaded for XML files, not for every event

    with path.open("rb") as handle:
        head = handle.read(64)
    if xml.is_xml(head):  # EPCIS 1.2 or 2.0 XML, validated against GS1's XSD as a whole first
        events, prefixes, _ = xml.read_xml(path)
        for index, raw in enumerate(events):
            yield raw, prefixes, f"EventList[{index}]"
        return
    header: dict[str, Any] = {}
    namespaces: dict[str, str] | None = None
    for index, raw in enumerate(_stream.stream_events(path, header, chunk)):
        if raw is header:  # the file holds one bare event
            yield raw, None, "event"
            return
        if namespaces is None:
            if "@context" not in header or "type" not in header:
                header = _stream.read_header(path, chunk)
            _check_header(header)
            namespaces = namespaces_from_context(header.get("@context"))
        yield raw, namespaces, f"epcisBody.eventList[{index}]"


def iter_events(path: str | Path, *, chunk: int = _stream.DEFAULT_CHUNK) -> Iterator[Event]:
    """Stream and validate the events of an EPCIS document file, one at a time.

    Memory stays at about one chunk plus one event whatever the file size (see ``_stream``). The document
    header is checked before the first event; an invalid event raises with its index.
    """
    for raw, namespaces, where in _streamed(Path(path), chunk):
        yield parse_event(raw, namespaces=namespaces, where=where)


def iter_event_dicts(path: str | Path, *, chunk: int = _stream.DEFAULT_CHUNK) -> Iterator[dict[str, Any]]:
    """The events of a file that :func:`iter_events` has already validated, as JSON-LD dicts, without
    validating them again: each carries the prefixes it hashes with (its own and its document's) in its
    ``@context``, so it hashes alone as it did in the document."""
    for raw, namespaces, _ in _streamed(Path(path), chunk):
        own = namespaces_from_context(raw.get("@context"))
        event = {k: v for k, v in raw.items() if k != "@context"}
        merged = {**(namespaces or {}), **own}  # the event's own context is the inner one: it wins
        if merged:
            event["@context"] = [merged]
        yield event


def _check_header(header: Mapping[str, Any]) -> None:
    if header.get("type") not in ("EPCISDocument", "EPCISQueryDocument"):
        raise ValidationError(f"type: expected 'EPCISDocument', got {header.get('type')!r}")
    probe = {k: v for k, v in header.items() if k not in ("type", "epcisBody")}
    probe.update(type="EPCISDocument", epcisBody={"eventList": []})
    if header.get("type") == "EPCISQueryDocument":
        probe.setdefault("schemaVersion", "2.0")
        probe.setdefault("creationDate", _now())
    try:
        _DOCUMENT.validate_python(probe)
    except pydantic.ValidationError as exc:
        raise _invalid(exc, "") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.cache
def _epcis_terms() -> dict[str, Any]:
    """The terms of GS1's EPCIS 2.0 JSON-LD context (shipped with the package), all of them ``@protected``."""
    path = Path(__file__).parent / "schemas" / "epcis-context.jsonld"
    terms: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["@context"]
    return terms


def _renamed(value: Any, old: str, new: str) -> Any:
    """``value`` with the prefix ``old:`` written ``new:`` in every key and CURIE value."""
    if isinstance(value, dict):
        return {
            (new + k[len(old) :] if k.startswith(old + ":") else k): _renamed(v, old, new) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    if isinstance(value, str) and value.startswith(old + ":") and not value.startswith(old + "://"):
        return new + value[len(old) :]
    return value


def _own_context(data: dict[str, Any], own: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The event and the prefixes of its own ``@context`` that JSON-LD accepts under GS1's protected context:
    a prefix the EPCIS context already binds the same way is left out, one it binds otherwise is renamed (the
    hash reads full IRIs, so a renamed prefix hashes the same)."""
    terms = _epcis_terms()
    kept: dict[str, str] = {}
    for prefix, uri in sorted(own.items()):
        if prefix not in terms:
            kept[prefix] = uri
        elif terms[prefix] != uri:
            new = next(
                f"{prefix}{n}" for n in range(1, 1000) if f"{prefix}{n}" not in terms and f"{prefix}{n}" not in own
            )
            data = _renamed(data, prefix, new)
            kept[new] = uri
    return data, kept


def export_document(
    events: Iterable[Event | Mapping[str, Any]],
    *,
    namespaces: Mapping[str, str] | None = None,
    creation_date: str | None = None,
    **header: Any,
) -> dict[str, Any]:
    """An EPCISDocument 2.0 JSON-LD dict holding ``events`` as they were parsed or built.

    Each event keeps the prefixes it was read with in its own ``@context`` (JSON-LD scopes an embedded context
    to its node), so it hashes in the exported document exactly as it did on import, and events whose documents
    bound one prefix to different namespaces share a document. ``namespaces`` go in the document's context;
    ``header`` adds top-level fields (``sender``, ``instanceIdentifier``).
    """
    out = []
    for index, item in enumerate(events):
        event = item if isinstance(item, EventBase) else parse_event(item, where=f"events[{index}]")
        data = event.to_jsonld()
        own = {**namespaces_from_context(data.pop("@context", None)), **event.namespaces}
        for prefix in [p for p, uri in own.items() if (namespaces or {}).get(p) == uri]:
            del own[prefix]  # the document already says so
        data, own = _own_context(data, own)
        out.append({"@context": [own], **data} if own else data)
    context: list[Any] = [EPCIS_CONTEXT]
    if namespaces:
        context.append(dict(sorted(namespaces.items())))
    return {"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": creation_date or _now(), **header, "epcisBody": {"eventList": out}}  # fmt: skip
