"""What an event is about: batches (GTIN + lot), serialised items, SSCCs and GLNs, from any identifier form.

EPC URNs (``urn:epc:id:sgtin``, ``urn:epc:class:lgtin``, ``urn:epc:id:sscc``, ``urn:epc:id:sgln`` ...) and GS1
Digital Link URIs (any host, any key alias) are read the one way the event hash reads them: as constrained
canonical Digital Link URIs (:func:`trace_api.epcis._canon.to_digital_link`). Identifiers of other schemes (GRAI,
GIAI, a company's own URIs) are valid in an event; they just name no batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from trace_api.epcis._canon import to_digital_link

__all__ = ["EventSubjects", "gln_of", "subjects", "to_digital_link"]

_BATCH = re.compile(r"https://id\.gs1\.org/01/(\d{14})/10/([^/]+)$")
_ITEM = re.compile(r"https://id\.gs1\.org/01/(\d{14})/21/([^/]+)$")
_SSCC = re.compile(r"https://id\.gs1\.org/00/(\d{18})$")
# A Digital Link of a unit that states its lot (/01/…/10/…/21/…) names the batch too, before the lot is dropped
# from the constrained (hashed) form.
_UNIT_OF_LOT = re.compile(r"^https?://[^?#]*?/01/(\d{14})/10/([^/?#]+)/21/[^/?#]+(?:[?#].*)?$")
_GLN = re.compile(r"https://id\.gs1\.org/414/(\d{13})(?:/254/[^/]+)?$")
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


@dataclass(frozen=True)
class EventSubjects:
    batches: tuple[tuple[str, str], ...]  # (GTIN, lot) from LGTIN classes and lot-level Digital Links
    items: tuple[tuple[str, str], ...]  # (GTIN, serial) from SGTINs
    ssccs: tuple[str, ...]  # 18 digits


def _identifiers(event: Mapping[str, Any]) -> Iterator[str]:
    for name in _QUANTITY_LISTS:
        for element in event.get(name) or []:
            if isinstance(element, dict) and isinstance(element.get("epcClass"), str):
                yield element["epcClass"]
    for name in _EPC_LISTS:
        for epc in event.get(name) or []:
            if isinstance(epc, str):
                yield epc
    if isinstance(event.get("parentID"), str):
        yield event["parentID"]


def subjects(event: Mapping[str, Any]) -> EventSubjects:
    """The batches, serialised items and SSCCs an event names, each once, in the order first named."""
    batches: dict[tuple[str, str], None] = {}
    items: dict[tuple[str, str], None] = {}
    ssccs: dict[str, None] = {}
    for raw in _identifiers(event):
        if stated := _UNIT_OF_LOT.match(raw.strip()):
            batches[(stated.group(1), unquote(stated.group(2)))] = None
        link = to_digital_link(raw.strip())
        if link is None:
            continue
        if found := _BATCH.match(link):
            batches[(found.group(1), unquote(found.group(2)))] = None
        elif found := _ITEM.match(link):
            items[(found.group(1), unquote(found.group(2)))] = None
        elif found := _SSCC.match(link):
            ssccs[found.group(1)] = None
    return EventSubjects(tuple(batches), tuple(items), tuple(ssccs))


def gln_of(location: Any) -> str | None:
    """The 13-digit GLN of a readPoint/bizLocation (``{"id": ...}`` or its id): SGLN URN or Digital Link."""
    uri = location.get("id") if isinstance(location, Mapping) else location
    if not isinstance(uri, str):
        return None
    link = to_digital_link(uri.strip())
    found = _GLN.match(link) if link else None
    return found.group(1) if found else None
