"""Decompress GS1 Digital Link URIs, as the GS1 Digital Link compression standard defines them.

A compressed URI carries its element strings as one path segment of base64url text (``A-Z a-z 0-9 - _``, 6 bits a
character). Read as bits from the left, the data is a sequence of entries; each starts with 8 bits read as two hex
digits ``h1 h2``:

- ``00``-``99``: the first two digits of an AI; AIs whose first two digits call for 3 or 4 digits read 4 more bits per
  digit. Then the value, component by component, as the AI's format says:

  - fixed-length numeric ``N<L>``: the number in ``ceil(L log2 10 + 0.01)`` bits, left-padded with zeros to L digits;
  - variable-length numeric ``N..<M>``: the digit count in ``bit_length(M)`` bits, then the number as above;
  - alphanumeric ``X<L>`` / ``X..<M>``: a 3-bit encoding, for ``X..<M>`` the character count in
    ``bit_length(M)`` bits, then the characters: 0 digits (as a number), 1 lower-case hex and 2 upper-case hex
    (4 bits each), 3 base64url (6 bits each), 4 ASCII (7 bits each).

- a code of the optimisation table (``0A``, ``1A``, ...): a fixed sequence of AIs, their values in that order.
- ``F`` then 7 bits (``h2`` and 3 more): a non-GS1 query parameter: a key of that many base64url characters, then
  its value as an alphanumeric component whose character count takes 7 bits.

Trailing bits (fewer than 9, the padding up to a multiple of 6) are ignored. The AI formats come from biip's table
of the GS1 General Specifications; what the element strings mean is checked afterwards by the Digital Link parser.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import quote

# biip (pinned) keeps its table of every AI under this one name; its public API looks up one AI at a time.
from biip.gs1_application_identifiers import _GS1_APPLICATION_IDENTIFIERS as AIS

from qr.errors import DigitalLinkError

__all__ = ["Expanded", "decompress", "looks_compressed"]

_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_HEX = "0123456789ABCDEF"

# The optimisation table of the compression standard: one 8-bit code for a common sequence of AIs.
_OPTIMISED: dict[str, tuple[str, ...]] = {
    "0A": ("01", "22"),
    "0B": ("01", "10"),
    "0C": ("01", "21"),
    "0D": ("01", "17"),
    "0E": ("01", "7003"),
    "0F": ("01", "30"),
    "1A": ("01", "10", "21", "17"),
    "1B": ("01", "15"),
    "1C": ("01", "11"),
    "1D": ("01", "16"),
    "1E": ("01", "91"),
    "1F": ("01", "10", "15"),
    **{f"2{c}": ("01", f"310{i}") for i, c in enumerate("ABCDEF")},
    **{f"3{c}": ("01", f"320{i}") for i, c in enumerate("ABCDEF")},
    "9A": ("8010", "8011"),
    "9B": ("8017", "8019"),
    "9C": ("8018", "8019"),
    "9D": ("414", "254"),
    **{f"A{i}": ("01", f"392{i}") for i in range(10)},
    **{f"C{i}": ("255", f"390{i}") for i in range(10)},
    **{f"C{c}": ("255", f"394{i}") for i, c in enumerate("ABCD")},
}
# How many digits an AI has, by its first two digits (GS1 General Specifications: the AI prefix table).
_AI_LENGTH: dict[str, int] = {}
for _ai in AIS:
    _AI_LENGTH.setdefault(_ai[:2], len(_ai))


@dataclass(frozen=True)
class Expanded:
    """A decompressed URI: its path segments (primary key, qualifiers; percent-encoded) and query pairs."""

    path_segments: list[str]
    query: list[tuple[str, str]] = field(default_factory=list)


def looks_compressed(segment: str) -> bool:
    return bool(_SEGMENT.fullmatch(segment))


def decompress(segment: str, primary_keys: dict[str, tuple[tuple[str, ...], ...]]) -> Expanded:
    """Expand one compressed path segment into the path and query of the uncompressed URI.

    ``primary_keys`` maps each primary key AI to its qualifier sequences (the Digital Link URI syntax); the first
    primary key found becomes the path, its qualifiers follow, every other AI goes to the query string.

    Raises:
        DigitalLinkError: the segment is not a compressed GS1 Digital Link URI.
    """
    if not looks_compressed(segment):
        raise DigitalLinkError(f"{segment[:40]!r} is not base64url text")
    bits = "".join(f"{_BASE64URL.index(char):06b}" for char in segment)
    reader = _Bits(bits)
    values: dict[str, str] = {}
    others: list[tuple[str, str]] = []
    while reader.remaining > 8:
        h1, h2 = _HEX[reader.int(4)], _HEX[reader.int(4)]
        if h1.isdigit() and h2.isdigit():
            prefix = h1 + h2
            if prefix not in _AI_LENGTH:
                raise DigitalLinkError(f"no GS1 AI starts with {prefix}")
            ai = prefix + "".join(_digit(reader.int(4)) for _ in range(_AI_LENGTH[prefix] - 2))
            _put(values, ai, _value(reader, ai))
        elif h1 + h2 in _OPTIMISED:
            for ai in _OPTIMISED[h1 + h2]:
                _put(values, ai, _value(reader, ai))
        elif h1 == "F":
            length = int(bits[reader.at - 4 : reader.at] + reader.take(3), 2)
            key = "".join(_BASE64URL[reader.int(6)] for _ in range(length))
            encoding = reader.int(3)
            others.append((key, _characters(reader, encoding, reader.int(7))))
        else:
            raise DigitalLinkError(f"no compression entry starts with {h1}{h2}")
    return _arrange(values, others, primary_keys)


class _Bits:
    def __init__(self, bits: str) -> None:
        self.bits = bits
        self.at = 0

    @property
    def remaining(self) -> int:
        return len(self.bits) - self.at

    def take(self, count: int) -> str:
        if count > self.remaining:
            raise DigitalLinkError("compressed data ends in the middle of a value")
        chunk = self.bits[self.at : self.at + count]
        self.at += count
        return chunk

    def int(self, count: int) -> int:
        return int(self.take(count), 2) if count else 0


def _digit(value: int) -> str:
    if value > 9:
        raise DigitalLinkError("an AI must be all digits")
    return str(value)


def _value_bits(digits: int) -> int:
    return math.ceil(digits * math.log2(10) + 0.01)


def _number(reader: _Bits, digits: int) -> str:
    number = reader.int(_value_bits(digits))
    text = str(number).zfill(digits)
    if len(text) > digits:
        raise DigitalLinkError(f"a {digits}-digit number is {len(text)} digits long")
    return text if digits else ""


def _characters(reader: _Bits, encoding: int, count: int) -> str:
    if encoding == 0:
        return _number(reader, count)
    if encoding in (1, 2):
        text = "".join(_HEX[reader.int(4)] for _ in range(count))
        return text.lower() if encoding == 1 else text
    if encoding == 3:
        return "".join(_BASE64URL[reader.int(6)] for _ in range(count))
    if encoding == 4:
        return "".join(chr(reader.int(7)) for _ in range(count))
    raise DigitalLinkError(f"unknown character encoding {encoding}")


def _value(reader: _Bits, ai: str) -> str:
    if ai not in AIS:
        raise DigitalLinkError(f"unknown AI {ai}")
    value = ""
    for component in AIS[ai].format.replace("[", "").replace("]", "").split("+")[1:]:
        kind, variable, size = component[0], ".." in component, component.lstrip("NXYZ.")
        if not size.isdigit():
            raise DigitalLinkError(f"AI {ai} ({AIS[ai].format}) cannot be decompressed")
        limit = int(size)
        if kind == "N":
            value += _number(reader, reader.int(limit.bit_length()) if variable else limit)
        else:
            encoding = reader.int(3)
            value += _characters(reader, encoding, reader.int(limit.bit_length()) if variable else limit)
    return value


def _put(values: dict[str, str], ai: str, value: str) -> None:
    if ai in values:
        raise DigitalLinkError(f"AI {ai} appears twice")
    values[ai] = value


def _arrange(
    values: dict[str, str], others: list[tuple[str, str]], primary_keys: dict[str, tuple[tuple[str, ...], ...]]
) -> Expanded:
    primary = next((ai for ai in primary_keys if ai in values), None)
    if primary is None:
        raise DigitalLinkError("the compressed data holds no primary key")
    used = {primary}
    path = [primary, quote(values[primary], safe="")]
    for sequence in primary_keys[primary]:
        present = [ai for ai in sequence if ai in values]
        if present:
            for ai in present:
                path += [ai, quote(values[ai], safe="")]
            used.update(present)
            break
    query = [(ai, value) for ai, value in values.items() if ai not in used]
    return Expanded(path_segments=path, query=[*query, *others])
