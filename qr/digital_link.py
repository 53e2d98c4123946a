"""Build and parse GS1 Digital Link URIs.

:func:`parse` reads any GS1 Digital Link URI (every primary key of the URI syntax, its key qualifiers, data
attributes in the query string, compressed URIs) and raises only :class:`DigitalLinkError`. The builders make the
URIs of this project's items: a batch is ``{domain}/01/{gtin14}/10/{lot}``, a unit adds ``/21/{serial}``. Lot
(AI 10) and serial (AI 21) are 1 to 20 characters of GS1 AI encodable character set 82. In the URI path every
character outside RFC 3986's unreserved set (``A-Z a-z 0-9 - . _ ~``) is percent-encoded, as the GS1 Digital Link
URI syntax requires, so ``/`` in a lot becomes ``%2F`` and cannot be taken for a path separator.

The on-chain batch id is ``keccak256(key_path(gtin, lot))``: it depends on neither the resolver domain nor on how the
GTIN was typed (8, 12, 13 or 14 digits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from eth_utils.crypto import keccak

from qr.check_digits import gs1_check_digit
from qr.dl_syntax import (
    AI_SEGMENT,
    NOT_ATTRIBUTES,
    PRIMARY_KEYS,
    check_pairs,
    check_qualifiers,
    check_value,
    check_x20,
    is_ai,
)
from qr.errors import DigitalLinkError

__all__ = [
    "CANONICAL_DOMAIN",
    "DEFAULT_DOMAIN",
    "PRIMARY_KEYS",
    "DigitalLink",
    "batch_id",
    "batch_uri",
    "canonical",
    "key_path",
    "normalize_gtin",
    "parse",
    "unit_uri",
    "validate_lot",
    "validate_serial",
]

DEFAULT_DOMAIN = "http://127.0.0.1:8000"
CANONICAL_DOMAIN = "https://id.gs1.org"

_GTIN_LENGTHS = (8, 12, 13, 14)


@dataclass(frozen=True)
class DigitalLink:
    """A parsed GS1 Digital Link URI: a primary key, its key qualifiers (path), and query parameters.

    ``domain`` is ``scheme://host[:port]`` plus any resolver path prefix, without a trailing slash. ``primary`` is
    the primary key's AI (``"01"``, ``"00"``, ``"414"``, ``"8004"``, ...) and ``key`` its value; ``qualifiers`` are
    the key qualifiers in path order. ``query`` holds every query parameter: GS1 data attributes (each at most once)
    and other parameters such as ``linkType`` (the last value wins when one of those repeats). Only AIs enter the
    canonical URI.
    """

    domain: str
    primary: str
    key: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def gtin(self) -> str | None:
        """The GTIN-14 when the primary key is a GTIN (AI 01), else None."""
        return self.key if self.primary == "01" else None

    @property
    def lot(self) -> str | None:
        return dict(self.qualifiers).get("10")

    @property
    def serial(self) -> str | None:
        return dict(self.qualifiers).get("21")

    @property
    def path(self) -> str:
        """The key path, e.g. ``/01/{gtin14}[/10/{lot}][/21/{serial}]``, values percent-encoded."""
        pairs = ((self.primary, self.key), *self.qualifiers)
        return "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in pairs)

    @property
    def uri(self) -> str:
        """The URI on this link's own domain, with AI query parameters in canonical order."""
        return f"{self.domain}{self.path}{_ai_query(self.query)}"


def normalize_gtin(gtin: str) -> str:
    """Return ``gtin`` (8, 12, 13 or 14 digits) as a GTIN-14, after checking its check digit.

    Raises:
        DigitalLinkError: on a wrong length, a non-digit, or a wrong check digit.
    """
    if not isinstance(gtin, str) or not gtin.isascii() or not gtin.isdigit() or len(gtin) not in _GTIN_LENGTHS:
        raise DigitalLinkError(f"GTIN {gtin!r}: expected 8, 12, 13 or 14 digits")
    gtin14 = gtin.zfill(14)
    expected = gs1_check_digit(gtin14[:-1])
    if int(gtin14[-1]) != expected:
        raise DigitalLinkError(f"GTIN {gtin}: invalid check digit, expected {expected}")
    return gtin14


def validate_lot(lot: str) -> str:
    """Return ``lot`` if it is a valid AI 10 value (1-20 characters of set 82); raise DigitalLinkError if not."""
    return check_x20("lot", lot)


def validate_serial(serial: str) -> str:
    """Return ``serial`` if it is a valid AI 21 value (1-20 characters of set 82); raise DigitalLinkError if not."""
    return check_x20("serial", serial)


def key_path(gtin: str, lot: str) -> str:
    """Return the batch key path ``/01/{gtin14}/10/{encoded lot}``: the preimage of the on-chain batch id."""
    return _path(normalize_gtin(gtin), validate_lot(lot), None)


def batch_id(gtin: str, lot: str) -> bytes:
    """Return the 32-byte on-chain batch id: ``keccak256(key_path(gtin, lot))`` over the UTF-8 text."""
    return bytes(keccak(text=key_path(gtin, lot)))


def batch_uri(gtin: str, lot: str, *, domain: str = DEFAULT_DOMAIN) -> str:
    """Return ``{domain}/01/{gtin14}/10/{lot}``.

    Raises:
        DigitalLinkError: on an invalid GTIN, lot or domain.
    """
    return f"{_check_domain(domain)}{key_path(gtin, lot)}"


def unit_uri(gtin: str, lot: str, serial: str, *, domain: str = DEFAULT_DOMAIN) -> str:
    """Return ``{domain}/01/{gtin14}/10/{lot}/21/{serial}``.

    Raises:
        DigitalLinkError: on an invalid GTIN, lot, serial or domain.
    """
    path = _path(normalize_gtin(gtin), validate_lot(lot), validate_serial(serial))
    return f"{_check_domain(domain)}{path}"


def parse(uri: str) -> DigitalLink:
    """Parse an absolute GS1 Digital Link URI on any domain into a :class:`DigitalLink`.

    Any primary key the URI syntax allows is accepted, with its key qualifiers in the standard's order; a GTIN in
    ``/01/`` must have 14 digits. Query parameters that are AIs must be GS1 data attributes, valid, and given once.
    The fragment (where a signature travels) is ignored and a trailing slash is tolerated. A compressed Digital Link
    URI is decompressed first.

    Raises:
        DigitalLinkError: if the URI is not a valid GS1 Digital Link URI; never any other exception.
    """
    if not isinstance(uri, str):
        raise DigitalLinkError(f"not a GS1 Digital Link URI: expected a string, got {type(uri).__name__}")
    # Messages show the URI without its fragment: a signature has no business in an error log.
    shown = repr(uri.partition("#")[0][:200])
    if not uri.isascii():
        raise DigitalLinkError(f"not a GS1 Digital Link URI: {shown} (expected an ASCII string)")
    try:
        parts = urlsplit(uri.strip())
    except ValueError as exc:
        raise DigitalLinkError(f"not a GS1 Digital Link URI: {shown} ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DigitalLinkError(f"not a GS1 Digital Link URI: {shown} (expected an absolute http(s) URI)")
    origin = f"{parts.scheme}://{parts.netloc}"
    segments = parts.path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # a trailing slash
    from qr import dl_compression  # biip's AI table: loaded by parsing, not by building batch keys

    try:
        query = _query_pairs(parts.query)
        if _primary_position(segments) is not None or not segments or not dl_compression.looks_compressed(segments[-1]):
            return _parse_path(origin, [], segments, query)
        try:
            expanded = dl_compression.decompress(segments[-1], PRIMARY_KEYS)
        except DigitalLinkError as exc:
            if len(segments) == 1:
                raise
            _parse_path(origin, [], segments, query)  # says what is wrong with it as an uncompressed URI
            raise DigitalLinkError(f"not a compressed Digital Link URI: {exc}") from None
        return _parse_path(origin, segments[:-1], expanded.path_segments, [*expanded.query, *query])
    except DigitalLinkError as exc:
        raise DigitalLinkError(f"not a GS1 Digital Link URI {shown}: {exc}") from None


def _primary_position(segments: list[str]) -> int | None:
    """Where the primary key sits: walk back from the end over (qualifier AI, value) pairs to a primary key AI."""
    qualifiers = {ai for sequences in PRIMARY_KEYS.values() for sequence in sequences for ai in sequence}
    at = len(segments) - 2
    while at >= 0:
        if segments[at] in PRIMARY_KEYS:
            return at
        if segments[at] not in qualifiers:
            return None
        at -= 2
    return None


def _parse_path(origin: str, prefix: list[str], segments: list[str], query: list[tuple[str, str]]) -> DigitalLink:
    at = _primary_position(segments)
    if at is None:
        if not segments:
            raise DigitalLinkError("no primary key in the path")
        raise DigitalLinkError(
            f"no primary key in the path, or path segment {segments[-1][:40]!r} is not a "
            "(key qualifier AI, value) pair; use numeric AIs, e.g. /01/{gtin14}/10/{lot}"
        )
    pairs = [(segments[i], _decode(segments[i + 1])) for i in range(at, len(segments), 2)]
    primary, key = pairs[0]
    qualifiers = tuple(pairs[1:])
    check_qualifiers(primary, [ai for ai, _ in qualifiers])
    if primary == "01" and len(key) != 14:
        raise DigitalLinkError(
            f"GTIN {key!r} in /01/ must have 14 digits (write a GTIN-8, -12 or -13 with leading zeros)"
        )
    for ai, value in pairs:
        check_value(ai, value)
    attributes: dict[str, str] = {}
    others: dict[str, str] = {}
    for name, value in query:
        if not AI_SEGMENT.fullmatch(name):
            others[name] = value  # linkType, context and other non-GS1 parameters: the last value wins
            continue
        if any(name == ai for ai, _ in pairs) or name in attributes:
            raise DigitalLinkError(f"AI {name} is given more than once")
        if any(name in sequence for sequence in PRIMARY_KEYS[primary]):
            raise DigitalLinkError(f"AI {name} is a key qualifier: it belongs in the path, not the query")
        if not is_ai(name) or name in NOT_ATTRIBUTES:
            raise DigitalLinkError(f"query parameter {name} is not a GS1 data attribute AI")
        check_value(name, value)
        attributes[name] = value
    check_pairs([ai for ai, _ in pairs] + list(attributes))
    domain = origin + "".join(f"/{s}" for s in (*prefix, *segments[:at]))
    return DigitalLink(domain=domain, primary=primary, key=key, qualifiers=qualifiers, query={**attributes, **others})


def _decode(segment: str) -> str:
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError as exc:
        raise DigitalLinkError(f"path segment {segment[:40]!r} is not valid percent-encoded UTF-8") from exc


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((_decode(name), _decode(value)))
    return pairs


def canonical(link: DigitalLink | str) -> str:
    """Return the canonical URI of ``link`` on ``https://id.gs1.org``, the form that signatures cover.

    Canonical means: GTIN-14, numeric AIs, percent-encoded path values, and only the query parameters that are GS1
    AIs, sorted by AI. It is the same whichever resolver domain the link was printed with.
    """
    if isinstance(link, str):
        link = parse(link)
    return f"{CANONICAL_DOMAIN}{link.path}{_ai_query(link.query)}"


def _path(gtin14: str, lot: str | None, serial: str | None) -> str:
    path = f"/01/{gtin14}"
    if lot is not None:
        path += f"/10/{quote(lot, safe='')}"
    if serial is not None:
        path += f"/21/{quote(serial, safe='')}"
    return path


def _ai_query(query: Mapping[str, str]) -> str:
    pairs = sorted((k, v) for k, v in query.items() if is_ai(k))
    if not pairs:
        return ""
    return "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs)


def _check_domain(domain: str) -> str:
    parts = urlsplit(domain)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise DigitalLinkError(f"domain {domain!r}: expected http(s)://host[:port][/prefix]")
    return domain.rstrip("/")
