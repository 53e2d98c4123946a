"""Build and parse GS1 Digital Link URIs for batches (GTIN + lot) and units (GTIN + lot + serial).

A batch is ``{domain}/01/{gtin14}/10/{lot}``, a unit adds ``/21/{serial}``. Lot (AI 10) and serial (AI 21) are 1 to 20
characters of GS1 AI encodable character set 82. In the URI path every character outside RFC 3986's unreserved set
(``A-Z a-z 0-9 - . _ ~``) is percent-encoded, as the GS1 Digital Link URI syntax requires, so ``/`` in a lot becomes
``%2F`` and cannot be taken for a path separator.

The on-chain batch id is ``keccak256(key_path(gtin, lot))``: it depends on neither the resolver domain nor on how the
GTIN was typed (8, 12, 13 or 14 digits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gtin import Gtin
from eth_utils.crypto import keccak

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
# AIs that are key qualifiers of a GTIN. They must sit in the path, in this order, never in the query string.
_QUALIFIERS = ("22", "10", "21", "235")
_SUPPORTED_QUALIFIERS = ("10", "21")


@dataclass(frozen=True)
class DigitalLink:
    """A parsed GS1 Digital Link URI for a GTIN, optionally qualified by lot and serial.

    ``domain`` is ``scheme://host[:port]`` plus any resolver path prefix, without a trailing slash. ``query`` holds
    every query parameter (the last value wins when one repeats); only those that are GS1 AIs enter the canonical
    URI.
    """

    domain: str
    gtin: str
    lot: str | None = None
    serial: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The key path: ``/01/{gtin14}[/10/{lot}][/21/{serial}]``, percent-encoded."""
        return _path(self.gtin, self.lot, self.serial)

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


def parse(uri: str) -> DigitalLink:
    """Parse an absolute GS1 Digital Link URI on any domain into a :class:`DigitalLink`.

    The fragment (where a signature travels) is ignored. Accepted keys are a GTIN with an optional lot and serial
    in the path; the GTIN may be given with 8, 12, 13 or 14 digits.

    Raises:
        DigitalLinkError: if the URI is not a valid GS1 Digital Link URI of that shape.
    """
    if not isinstance(uri, str):
        raise DigitalLinkError(f"not a GS1 Digital Link URI: expected a string, got {type(uri).__name__}")
    # Messages show the URI without its fragment: a signature has no business in an error log.
    shown = repr(uri.partition("#")[0])
    if not uri.isascii():
        raise DigitalLinkError(f"not a GS1 Digital Link URI: {shown} (expected an ASCII string)")
    try:
        parts = urlsplit(uri.strip())
    except ValueError as exc:
        raise DigitalLinkError(f"not a GS1 Digital Link URI: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DigitalLinkError(f"not a GS1 Digital Link URI: {shown} (expected an absolute http(s) URI)")
    try:
        dl = GS1DigitalLinkURI.parse(parts._replace(fragment="").geturl())
    except ParseError as exc:
        raise DigitalLinkError(f"not a GS1 Digital Link URI: {exc}") from exc

    values = {es.ai.ai: es.value for es in dl.element_strings}
    if "01" not in values:
        raise DigitalLinkError(f"GS1 Digital Link URI {shown}: expected a GTIN (AI 01) as primary key")
    gtin = normalize_gtin(values["01"])

    segments = parts.path.split("/")
    start = segments.index("01")  # biip accepted the path, so "01" is there
    prefix = "/".join(segments[:start]).rstrip("/")
    path_keys = segments[start + 2 :: 2]
    for key in path_keys:
        if key not in _SUPPORTED_QUALIFIERS:
            raise DigitalLinkError(f"GS1 Digital Link URI {shown}: qualifier AI {key} is not supported")

    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key in query:
        if key == "01" or key in _QUALIFIERS:
            raise DigitalLinkError(f"GS1 Digital Link URI {shown}: AI {key} belongs in the path, not the query")

    lot = values["10"] if "10" in path_keys else None
    serial = values["21"] if "21" in path_keys else None
    return DigitalLink(
        domain=f"{parts.scheme}://{parts.netloc}{prefix}",
        gtin=gtin,
        lot=None if lot is None else validate_lot(lot),
        serial=None if serial is None else validate_serial(serial),
        query=query,
    )


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
