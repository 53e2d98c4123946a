"""The rules of the GS1 Digital Link URI syntax and of GS1 element strings that parsing checks: primary keys and
their key qualifiers, which AIs may be data attributes, check digits and check character pairs, invalid pairs of
element strings, and the character set of lots and serials."""

from __future__ import annotations

import re

from qr.check_digits import gs1_check_digit
from qr.errors import DigitalLinkError

# GS1 General Specifications, figure 7.11-1: the 82 characters allowed in AIs of format X..n (lot, serial).
_CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_MAX_X_LEN = 20
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
NOT_ATTRIBUTES = frozenset(
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
AI_SEGMENT = re.compile(r"[0-9]{2,4}")
_CSET82_ORDER = "".join(sorted(_CSET82))
_CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # the check characters of alphanumeric keys


def check_qualifiers(primary: str, given: list[str]) -> None:
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


def check_pairs(ais: list[str]) -> None:
    for first, second in _INVALID_PAIRS:
        a = next((ai for ai in ais if first.fullmatch(ai)), None)
        b = next((ai for ai in ais if second.fullmatch(ai)), None)
        if a is not None and b is not None:
            raise DigitalLinkError(f"AI {a} and AI {b} must not appear together")


def check_value(ai: str, value: str) -> None:
    from biip import ParseError  # biip (and its GS1 prefix tables) loads when a URI is parsed, not at import
    from biip.gs1_element_strings import GS1ElementString

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
        expected = gs1_check_digit(digits[:-1])
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


def is_ai(key: str) -> bool:
    if not (key.isascii() and key.isdigit()):
        return False
    from biip import ParseError
    from biip.gs1_application_identifiers import GS1ApplicationIdentifier

    try:
        return GS1ApplicationIdentifier.extract(key).ai == key
    except ParseError:
        return False


def check_x20(what: str, value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_X_LEN:
        raise DigitalLinkError(f"{what} {value!r}: expected 1 to {_MAX_X_LEN} characters")
    for pos, char in enumerate(value, start=1):
        if char not in _CSET82:
            raise DigitalLinkError(
                f"{what} {value!r}: character {char!r} at position {pos} is not in GS1 AI encodable character set 82"
            )
    return value
