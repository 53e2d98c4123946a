"""The GS1-conformant resolver's link sets: the links served for a GTIN, a batch and a unit (walked up from the
item to its GTIN), the choice by link type and language, the resolver description file, a GTIN's product page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from qr import digital_link
from qr.errors import DigitalLinkError
from trace_api.domain import batch_key
from trace_api.errors import NotFoundError, ValidationError
from trace_api.index import queries
from trace_api.services.context import TraceContext
from trace_api.services.resolver import unit_status, verified_history

GS1_VOC = "https://gs1.org/voc/"
# GS1's JSON-LD context for linksets, named in the description file and in a Link header of every linkset.
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
LANGUAGES = ("en",)  # the languages of the link titles and JSON targets; links carry them as hreflang
PAGE_LANGUAGES = ("en", "zh-CN")  # the verify page speaks these (chosen by Accept-Language or ?lang=)


@dataclass(frozen=True)
class Resolution:
    """The links a GS1-conformant resolver serves for one requested item, walked up from it to its GTIN.

    ``anchor`` is the uncompressed request URI on this resolver (without query string). ``links`` maps each link
    type (full ``https://gs1.org/voc/...`` IRI) to its links, the most specific first; ``gs1:defaultLink`` holds the
    first ``gs1:pip`` link, where a client that names no link type is redirected.
    """

    anchor: str
    description: str
    links: dict[str, list[dict[str, Any]]]


def resolve(ctx: TraceContext, base: str, link: digital_link.DigitalLink) -> Resolution:
    """The links for ``link``: a unit's or batch's own links plus those of every level up to the GTIN.

    An unknown lot, or a serial without a lot, walks up to the GTIN's links. A serial that was never issued in a
    registered batch, and a GTIN nobody registered a batch of, have no links at all.

    Raises:
        NotFoundError: this resolver has no links for the item (unsupported primary key, unknown GTIN, serial
            never issued).
    """
    if link.gtin is None:
        raise NotFoundError(f"this resolver serves GTINs (AI 01) only, not AI {link.primary}")
    gtin, lot, serial = link.gtin, link.lot, link.serial
    anchor = f"{base}{link.path}"
    product = registered_lots(ctx, gtin)
    name = next((p for p in product.values() if p), None) or f"GTIN {gtin}"
    levels = [_gtin_links(base, gtin, name)]  # most general first
    description = name
    if lot is not None and lot in product:
        levels.append(_batch_links(base, gtin, lot))
        description = f"{product[lot] or name}, lot {lot}"
        if serial is not None:
            key = batch_key(gtin, lot)
            data = verified_history(ctx, key)
            if unit_status(ctx, key, serial, data) == "unknown":
                raise NotFoundError(f"serial {serial} was never issued for batch {gtin}/{lot}")
            levels.append(_unit_links(base, gtin, lot, serial))
            description += f", serial {serial}"
    links: dict[str, list[dict[str, Any]]] = {}
    for level in reversed(levels):  # the most specific link of each type first: it is the one redirected to
        for rel, items in level.items():
            links.setdefault(rel, []).extend(items)
    links[f"{GS1_VOC}defaultLink"] = [_default_of(links[f"{GS1_VOC}pip"][0])]
    return Resolution(anchor=anchor, description=description, links=links)


def linkset(resolution: Resolution) -> dict[str, Any]:
    """The RFC 9264 linkset (``application/linkset+json``) in the shape of GS1's linkset schema."""
    return {"linkset": [{"anchor": resolution.anchor, "itemDescription": resolution.description, **resolution.links}]}


def link_target(resolution: Resolution, link_type: str, accept_language: str | None) -> str:
    """The href of the best link of ``link_type`` (``gs1:pip`` or its full IRI) for the client's languages.

    Raises:
        NotFoundError: the item has no link of that type.
    """
    full = GS1_VOC + link_type.removeprefix("gs1:") if link_type.startswith("gs1:") else link_type
    if full not in resolution.links:
        available = ", ".join("gs1:" + k.removeprefix(GS1_VOC) for k in resolution.links)
        raise NotFoundError(f"no link of type {link_type} for this item; available: {available}")
    return str(choose(resolution.links[full], accept_language)["href"])


def choose(links: list[dict[str, Any]], accept_language: str | None) -> dict[str, Any]:
    """The link whose ``hreflang`` best matches an Accept-Language header (RFC 9110 q-values; a language range
    ``de`` matches ``de-CH``); the first link when nothing matches."""
    ranges = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranges.append((-q, position, tag.lower()))
    for _, _, tag in sorted(ranges):
        for link in links:
            langs = [lang.lower() for lang in link.get("hreflang", [])]
            if tag == "*" or any(
                lang == tag or lang.startswith(tag + "-") or tag.startswith(lang + "-") for lang in langs
            ):
                return link
    return links[0]


def resolver_description(base: str) -> dict[str, Any]:
    """The GS1-Conformant Resolver description file (/.well-known/gs1resolver), with the standard's fields only."""
    return {
        "name": "trace GS1 Digital Link resolver",
        "resolverRoot": base,
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "jsonLdContextLocation": LINKSET_CONTEXT,
        "contact": {"fn": "trace operators"},
    }


def _link(href: str, title: str, media: str) -> dict[str, Any]:
    languages = PAGE_LANGUAGES if media == "text/html" else LANGUAGES
    return {"href": href, "title": title, "type": media, "hreflang": list(languages)}


def _default_of(link: dict[str, Any]) -> dict[str, Any]:
    # The default link carries no optional attributes (GS1-Conformant Resolver standard), only target and title.
    return {"href": link["href"], "title": link["title"]}


def _gtin_links(base: str, gtin: str, name: str) -> dict[str, list[dict[str, Any]]]:
    return {
        f"{GS1_VOC}pip": [
            _link(f"{base}/products/{gtin}", f"{name}: the batches registered on chain", "application/json")
        ]
    }


def _batch_links(base: str, gtin: str, lot: str) -> dict[str, list[dict[str, Any]]]:
    path = digital_link.key_path(gtin, lot)
    history_url = f"{base}/batches/{gtin}/{quote(lot, safe='')}/history"
    return {
        f"{GS1_VOC}pip": [_link(f"{base}/verify{path}", "Product information and verification", "text/html")],
        f"{GS1_VOC}traceability": [_link(history_url, "Verified supply-chain history", "application/json")],
        f"{GS1_VOC}epcis": [
            _link(f"{base}/events?gtin={gtin}&lot={quote(lot, safe='')}", "EPCIS events", "application/json")
        ],
        f"{GS1_VOC}certificationInfo": [
            _link(f"{history_url}#documents", "Certificates (hash-verified)", "application/json")
        ],
    }


def _unit_links(base: str, gtin: str, lot: str, serial: str) -> dict[str, list[dict[str, Any]]]:
    path = digital_link.key_path(gtin, lot) + f"/21/{quote(serial, safe='')}"
    return {
        f"{GS1_VOC}pip": [
            _link(f"{base}/verify{path}", "Product information and verification of this unit", "text/html")
        ]
    }


def registered_lots(ctx: TraceContext, gtin: str) -> dict[str, str | None]:
    """The lots of ``gtin`` registered on chain as indexed (the caller brings the index up to the chain), each with
    its product name (None when its metadata has none).

    Raises:
        NotFoundError: no batch of that GTIN is registered.
    """
    with ctx.engine.connect() as conn:
        rows = queries.registered_lots(conn, gtin)
    if not rows:
        raise NotFoundError(f"GTIN {gtin}: no batch of it is registered on chain")
    return {row.lot: json.loads(row.metadata or "{}").get("product") for row in rows}


def product(ctx: TraceContext, base: str, gtin: str) -> dict[str, Any]:
    """A GTIN's registered batches, each with its Digital Link URI: the GTIN level of the resolver.

    Raises:
        ValidationError: a malformed GTIN.
        NotFoundError: no batch of that GTIN is registered.
    """
    try:
        gtin = digital_link.normalize_gtin(gtin)
    except DigitalLinkError as exc:
        raise ValidationError(str(exc)) from exc
    lots = registered_lots(ctx, gtin)
    return {
        "gtin": gtin,
        "product": next((p for p in lots.values() if p), None),
        "batches": [
            {"lot": lot, "product": name, "uri": f"{base}{digital_link.key_path(gtin, lot)}"}
            for lot, name in lots.items()
        ],
    }
