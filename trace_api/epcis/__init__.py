"""EPCIS 2.0 events: JSON-LD model, import and export, and the GS1 CBV 2.0 event hash.

Typical use::

    from trace_api.epcis import iter_events, event_hash_bytes, step_code

    for event in iter_events("shipment.jsonld"):
        digest = event_hash_bytes(event)  # bytes32 for the chain
        step = step_code(event.bizStep or "")  # ITraceRegistry.Step, or None: anchor under a Merkle root
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trace_api.epcis.document import export_document, iter_event_dicts, iter_events, parse_document, parse_event
    from trace_api.epcis.hashing import (
        HASH_ALGORITHM,
        HASH_ALGORITHMS,
        HASH_VERSION,
        LEGACY_ALGORITHM,
        event_hash_bytes,
        event_hash_id,
        namespaces_from_context,
        prehash_string,
    )
    from trace_api.epcis.model import (
        EPCIS_CONTEXT,
        EVENT_TYPES,
        AggregationEvent,
        AssociationEvent,
        EPCISDocument,
        Event,
        EventBase,
        ObjectEvent,
        TransactionEvent,
        TransformationEvent,
    )
    from trace_api.epcis.vocab import BIZ_STEPS, DISPOSITIONS, STEP_CODES, biz_step_name, disposition_name, step_code

# Each name loads its module on first use (PEP 562): the hash of an event, which the read paths need, does not
# pay for the pydantic model, the XML parser or the document reader.
_HOMES = {
    "export_document": "trace_api.epcis.document",
    "iter_event_dicts": "trace_api.epcis.document",
    "iter_events": "trace_api.epcis.document",
    "parse_document": "trace_api.epcis.document",
    "parse_event": "trace_api.epcis.document",
    "HASH_ALGORITHM": "trace_api.epcis.hashing",
    "HASH_ALGORITHMS": "trace_api.epcis.hashing",
    "HASH_VERSION": "trace_api.epcis.hashing",
    "LEGACY_ALGORITHM": "trace_api.epcis.hashing",
    "event_hash_bytes": "trace_api.epcis.hashing",
    "event_hash_id": "trace_api.epcis.hashing",
    "namespaces_from_context": "trace_api.epcis.hashing",
    "prehash_string": "trace_api.epcis.hashing",
    "EPCIS_CONTEXT": "trace_api.epcis.model",
    "EVENT_TYPES": "trace_api.epcis.model",
    "AggregationEvent": "trace_api.epcis.model",
    "AssociationEvent": "trace_api.epcis.model",
    "EPCISDocument": "trace_api.epcis.model",
    "Event": "trace_api.epcis.model",
    "EventBase": "trace_api.epcis.model",
    "ObjectEvent": "trace_api.epcis.model",
    "TransactionEvent": "trace_api.epcis.model",
    "TransformationEvent": "trace_api.epcis.model",
    "BIZ_STEPS": "trace_api.epcis.vocab",
    "DISPOSITIONS": "trace_api.epcis.vocab",
    "STEP_CODES": "trace_api.epcis.vocab",
    "biz_step_name": "trace_api.epcis.vocab",
    "disposition_name": "trace_api.epcis.vocab",
    "step_code": "trace_api.epcis.vocab",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "BIZ_STEPS",
    "DISPOSITIONS",
    "EPCIS_CONTEXT",
    "EVENT_TYPES",
    "HASH_ALGORITHM",
    "HASH_ALGORITHMS",
    "HASH_VERSION",
    "LEGACY_ALGORITHM",
    "STEP_CODES",
    "AggregationEvent",
    "AssociationEvent",
    "EPCISDocument",
    "Event",
    "EventBase",
    "ObjectEvent",
    "TransactionEvent",
    "TransformationEvent",
    "biz_step_name",
    "disposition_name",
    "event_hash_bytes",
    "event_hash_id",
    "export_document",
    "iter_event_dicts",
    "iter_events",
    "namespaces_from_context",
    "parse_document",
    "parse_event",
    "prehash_string",
    "step_code",
]
