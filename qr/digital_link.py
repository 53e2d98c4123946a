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

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from biip.gtin import Gtin
from eth_utils.crypto import keccak

from qr import dl_compression
from qr.errors import DigitalLinkError

__all__ = [
    "CANONICAL_DOMAIN",
    "DEFAULT_DOMAIN",
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

# GS1 General Specifications, figure 7.11-1: the 82 characters allowed in AIs of format X..n (lot, serial).
_CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_MAX_X_LEN = 20
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
    expected = gs1_standard_check_digit(gtin14[:-1])
    if int(gtin14[-1]) != expected:
        raise DigitalLinkError(f"GTIN {gtin}: invalid check digit, expected {expected}")
    try:
        Gtin.parse(gtin14)
    except ParseError as exc:
        raise DigitalLinkError(f"GTIN {gtin}: {exc}") from exc
    return gtin14


def validate_lot(lot: str) -> str:
    """Return ``lot`` if it is a valid AI 10 value (1-20 characters of set 82); raise DigitalLinkError if not."""
    return _check_x20("lot", lot)


def validate_serial(serial: str) -> str:
    """Return ``serial`` if it is a valid AI 21 value (1-20 characters of set 82); raise DigitalLinkError if not."""
    return _check_x20("serial", serial)


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


# GS1 Digital Link URI syntax: each primary key with its key qualifiers, in path order. A key's qualifier sequences
# are alternatives ("22,10,21" or "235" for a GTIN), each an ordered list of optional AIs (the GS1 Barcode Syntax
# Dictionary's "dlpkey" attribute).
PRIMARY_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "01": (("22", "10", "21"), ("235",)),  # GTIN
    "8006": (("22", "10", "21"),),  # ITIP
    "8013": (),  # GMN
    "8010": (("8011",),),  # CPID
    "414": (("254",), ("7040",)),  # GLN of a physical location
    "415": (("8020",),),  # GLN of the invoicing party (pay to)
    "417": (("7040",),),  # party GLN
    "8017": (("8019",),),  # GSRN provider
    "8018": (("8019",),),  # GSRN recipient
    "255": (),  # GCN
    "00": (),  # SSCC
    "253": (),  # GDTI
    "401": (),  # GINC
    "402": (),  # GSIN
    "8003": (),  # GRAI
    "8004": (("7040",),),  # GIAI
}
# AIs the syntax dictionary does not permit as Digital Link data attributes (query string): key qualifiers and a
# few that only make sense in a carrier. Every other AI known to biip may appear once in the query string.
_NOT_ATTRIBUTES = frozenset(
    [
        "03",
        "21",
        "22",
        "235",
        "254",
        "7040",
        "7041",
        "8011",
        "8014",
        "8019",
        "8020",
        "8040",
        "8041",
        "8042",
        "8043",
        "8200",
    ]
)
# Numeric components that end in a GS1 check digit: AI -> (start, length) of the digits it covers, check digit last.
_CHECK_DIGITS = {
    "00": (0, 18),
    "01": (0, 14),
    "02": (0, 14),
    "253": (0, 13),
    "255": (0, 13),
    "402": (0, 17),
    "410": (0, 13),
    "411": (0, 13),
    "412": (0, 13),
    "413": (0, 13),
    "414": (0, 13),
    "415": (0, 13),
    "416": (0, 13),
    "417": (0, 13),
    "8003": (1, 13),
    "8006": (0, 14),
    "8017": (0, 18),
    "8018": (0, 18),
}
# Element strings that must not appear together (GS1 General Specifications, "invalid pairs of element strings").
_INVALID_PAIRS = tuple(
    (re.compile(a), re.compile(b))
    for a, b in (
        ("01", "02|37|255|8006"),
        ("02", "255"),
        ("420", "421"),
        ("426", "42[2-5]"),
        ("390.", "394.|8111"),
        ("391.", "390."),
        ("392.", "393."),
        ("394.", "8111"),
        ("8017", "8018"),
        ("255", "415|8020|8026"),
    )
)
_AI_SEGMENT = re.compile(r"[0-9]{2,4}")
_CSET82_ORDER = "".join(sorted(_CSET82))
_CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # the check characters of alphanumeric keys


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
    _check_qualifiers(primary, [ai for ai, _ in qualifiers])
    if primary == "01" and len(key) != 14:
        raise DigitalLinkError(
            f"GTIN {key!r} in /01/ must have 14 digits (write a GTIN-8, -12 or -13 with leading zeros)"
        )
    for ai, value in pairs:
        _check_value(ai, value)
    attributes: dict[str, str] = {}
    others: dict[str, str] = {}
    for name, value in query:
        if not _AI_SEGMENT.fullmatch(name):
            others[name] = value  # linkType, context and other non-GS1 parameters: the last value wins
            continue
        if any(name == ai for ai, _ in pairs) or name in attributes:
            raise DigitalLinkError(f"AI {name} is given more than once")
        if any(name in sequence for sequence in PRIMARY_KEYS[primary]):
            raise DigitalLinkError(f"AI {name} is a key qualifier: it belongs in the path, not the query")
        if not _is_ai(name) or name in _NOT_ATTRIBUTES:
            raise DigitalLinkError(f"query parameter {name} is not a GS1 data attribute AI")
        _check_value(name, value)
        attributes[name] = value
    _check_pairs([ai for ai, _ in pairs] + list(attributes))
    domain = origin + "".join(f"/{s}" for s in (*prefix, *segments[:at]))
    return DigitalLink(domain=domain, primary=primary, key=key, qualifiers=qualifiers, query={**attributes, **others})


def _check_qualifiers(primary: str, given: list[str]) -> None:
    for sequence in PRIMARY_KEYS[primary] or ((),):
        remaining = list(sequence)
        for ai in given:
            if ai not in remaining:
                break
            del remaining[: remaining.index(ai) + 1]
        else:
            return
    allowed = " or ".join("/".join(s) for s in PRIMARY_KEYS[primary]) or "none"
    raise DigitalLinkError(
        f"key qualifiers {'/'.join(given)} are not allowed after AI {primary} (allowed, in this order: {allowed})"
    )


def _check_pairs(ais: list[str]) -> None:
    for first, second in _INVALID_PAIRS:
        a = next((ai for ai in ais if first.fullmatch(ai)), None)
        b = next((ai for ai in ais if second.fullmatch(ai)), None)
        if a is not None and b is not None:
            raise DigitalLinkError(f"AI {a} and AI {b} must not appear together")


def _check_value(ai: str, value: str) -> None:
    try:
        GS1ElementString.parse(f"{ai}{value}")
    except (ParseError, ValueError) as exc:
        raise DigitalLinkError(f"AI {ai} value {value[:40]!r} is invalid: {exc}") from None
    if ai == "8013":
        expected_pair = _check_pair(value[:-2])
        if value[-2:] != expected_pair:
            raise DigitalLinkError(f"AI 8013 value {value!r}: invalid check character pair, expected {expected_pair}")
    if ai in _CHECK_DIGITS:
        start, length = _CHECK_DIGITS[ai]
        digits = value[start : start + length]
        expected = gs1_standard_check_digit(digits[:-1])
        if int(digits[-1]) != expected:
            raise DigitalLinkError(f"AI {ai} value {value!r}: invalid check digit, expected {expected}")


def _check_pair(data: str) -> str:
    """The GS1 check character pair of an alphanumeric key (GMN): the CSET 82 positions of the characters, weighted
    by the primes 2, 3, 5, ... from the right, summed modulo 1021; the 10 bits as two CSET 32 characters."""
    primes: list[int] = []
    candidate = 2
    while len(primes) < len(data):
        if all(candidate % p for p in primes):
            primes.append(candidate)
        candidate += 1
    total = sum(_CSET82_ORDER.index(char) * prime for char, prime in zip(reversed(data), primes, strict=False)) % 1021
    return _CSET32[total >> 5] + _CSET32[total & 31]


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
    pairs = sorted((k, v) for k, v in query.items() if _is_ai(k))
    if not pairs:
        return ""
    return "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs)


def _is_ai(key: str) -> bool:
    if not (key.isascii() and key.isdigit()):
        return False
    try:
        return GS1ApplicationIdentifier.extract(key).ai == key
    except ParseError:
        return False


def _check_x20(what: str, value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_X_LEN:
        raise DigitalLinkError(f"{what} {value!r}: expected 1 to {_MAX_X_LEN} characters")
    for pos, char in enumerate(value, start=1):
        if char not in _CSET82:
            raise DigitalLinkError(
                f"{what} {value!r}: character {char!r} at position {pos} is not in GS1 AI encodable character set 82"
            )
    return value


def _check_domain(domain: str) -> str:
    parts = urlsplit(domain)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise DigitalLinkError(f"domain {domain!r}: expected http(s)://host[:port][/prefix]")
    return domain.rstrip("/")
