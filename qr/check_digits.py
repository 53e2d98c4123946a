"""The GS1 standard check digit (GS1 General Specifications 7.9.1): mod 10, weights 3, 1, 3, ... from the right.

Written here rather than taken from biip: importing any part of biip loads its GS1 prefix tables (about 0.1 s), and
the check digit is on every command's path (batch keys, GLNs, EPC URIs) while biip's parsers are not.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=65536)  # GTINs and GLNs repeat across the events of an import
def gs1_check_digit(payload: str) -> int:
    """The check digit that completes ``payload`` (all digits, the check digit itself not included)."""
    if not payload.isdecimal():  # any decimal digits, as biip and int() take them (an EPC URI's hash depends on it)
        raise ValueError(f"{payload!r}: a GS1 check digit covers digits only")
    total = 3 * sum(map(int, payload[-1::-2])) + sum(map(int, payload[-2::-2]))
    return -total % 10
