"""EPCIS 2.0 events: JSON-LD model, import and export, and the GS1 CBV 2.0 event hash.

Typical use::

    from trace_api.epcis import iter_events, event_hash_bytes, step_code

    for event in iter_events("shipment.jsonld"):
        digest = event_hash_bytes(event)  # bytes32 for the chain
        step = step_code(event.bizStep or "")  # ITraceRegistry.Step, or None: anchor under a Merkle root
"""

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
