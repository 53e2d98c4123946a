"""JSON with finite numbers only, for every reader of JSON input (HTTP bodies, EPCIS files).

Python's ``json`` reads ``NaN``, ``Infinity`` and ``1e999`` (which overflows to infinity) as floats, and then
refuses to write them back (``allow_nan=False``): one such value stored made every JSON view of its batch answer
500. Input is decoded strictly (:func:`loads_finite`); :func:`finite` replaces a non-finite float that older data
may still hold with None.
"""

from __future__ import annotations

import json
import math
from typing import Any

from trace_api.errors import ValidationError


class NonFiniteNumberError(ValidationError):
    """A JSON text holds NaN, Infinity or a number too large for a float."""


def _constant(name: str) -> float:
    raise NonFiniteNumberError(f"numbers must be finite: {name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumberError(f"numbers must be finite: {text[:40]} is out of range")
    return value


def decoder() -> json.JSONDecoder:
    """A decoder that raises :class:`NonFiniteNumberError` for a non-finite number (for ``raw_decode``)."""
    return json.JSONDecoder(parse_constant=_constant, parse_float=_float)


def loads_finite(data: str | bytes) -> Any:
    """``json.loads`` that raises :class:`NonFiniteNumberError` (a ValidationError, 422) for a non-finite number."""
    return json.loads(data, parse_constant=_constant, parse_float=_float)


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (iteratively: the value may nest deeply)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, dict | list):
        return value
    root: Any = dict(value) if isinstance(value, dict) else list(value)
    stack = [root]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for k, v in list(pairs):
            if isinstance(v, float) and not math.isfinite(v):
                item[k] = None
            elif isinstance(v, dict | list):
                item[k] = copy = dict(v) if isinstance(v, dict) else list(v)
                stack.append(copy)
    return root
