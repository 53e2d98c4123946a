"""Escrow inputs as people write them, checked before anything is signed: exact token amounts, durations and
deadlines, milestone schedules, a seller's share, evidence hashes. Pure: no chain, no database.

The front-ends turn their own syntax into the structures here (the CLI parses ``shipped:30%,delivered:70%`` with
:func:`parse_milestones`; HTTP fills :class:`Milestones` from JSON); the services take the structures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from trace_api.chain.artifacts import load_constants, load_enums, load_structs
from trace_api.errors import ValidationError

__all__ = [
    "BPS",
    "DAY",
    "DEFAULT_DISPUTE_WINDOW",
    "MILESTONES",
    "Milestones",
    "evidence_hash",
    "format_amount",
    "iso",
    "parse_amount",
    "parse_deliver_by",
    "parse_duration",
    "parse_milestones",
    "parse_share",
    "percent_to_bps",
]

DAY = 86_400
MILESTONES = tuple(name.lower() for name in load_enums()["ITradeEscrow.Milestone"])  # shipped, delivered, by value
# The contract's limits, read from its compiled source (contracts.json), checked here so that a bad value is a
# ValidationError and nothing is sent.
_LIMITS = load_constants()["TradeEscrow"]
BPS = int(_LIMITS["_BPS"])
MIN_RULING_PERIOD_S = int(_LIMITS["MIN_RULING_PERIOD"])
MAX_RULING_PERIOD_S = int(_LIMITS["MAX_RULING_PERIOD"])
MIN_DISPUTE_WINDOW_S = int(_LIMITS["MIN_DISPUTE_WINDOW"])
MAX_DISPUTE_WINDOW_S = int(_LIMITS["MAX_DISPUTE_WINDOW"])
MAX_DELIVERY_WINDOW_S = int(_LIMITS["MAX_DELIVERY_WINDOW"])
MAX_LINES = int(_LIMITS["MAX_LINES"])
# The escrow stores an amount in its trade record's `amount` field: its width (uint96) bounds every amount.
MAX_AMOUNT = 2 ** int(load_structs()["TradeEscrow.TradeRecord"]["amount"].removeprefix("uint")) - 1
# How long a buyer has to dispute a delivery it did not record itself (a carrier's); its own receipt pays at once.
DEFAULT_DISPUTE_WINDOW = "3d"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


class Milestones(BaseModel):
    """A payment schedule: the share paid on the seller's shipment and on delivery, in basis points (10000 in
    all). Either may be 0."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    shipped_bps: int
    delivered_bps: int

    @classmethod
    def of(cls, shipped_bps: int, delivered_bps: int) -> Milestones:
        """The schedule, checked as the contract checks it (ValidationError, not pydantic's, for people)."""
        for name, bps in (("shipped", shipped_bps), ("delivered", delivered_bps)):
            if not 0 <= bps <= BPS:
                raise ValidationError(f"milestone {name}: {bps} bps is not between 0 and {BPS}")
        if shipped_bps + delivered_bps != BPS:
            raise ValidationError(f"milestones must add up to {BPS} bps (100%); got {shipped_bps + delivered_bps} bps")
        return cls(shipped_bps=shipped_bps, delivered_bps=delivered_bps)


def parse_amount(value: str | int | Decimal, decimals: int) -> int:
    """A human amount ("1250.50") as token units, exactly: no rounding, at most ``decimals`` decimals."""
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(f"amount {text!r} is not a number") from exc
    if not number.is_finite() or number <= 0:
        raise ValidationError(f"amount {text!r} must be a positive number")
    # Integer arithmetic on the digits: Decimal arithmetic would round to its 28-digit context.
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    coefficient = list(digits)
    while coefficient and coefficient[-1] == 0:  # "1.50" has the same decimals as "1.5"
        coefficient.pop()
        exponent += 1
    if -exponent > decimals:
        raise ValidationError(f"amount {text} has more than {decimals} decimals, the token's precision")
    if len(coefficient) + exponent + decimals > len(str(MAX_AMOUNT)):  # more digits than the largest amount
        raise ValidationError(f"amount {text} is too large")
    units = int("".join(map(str, coefficient))) * 10 ** (exponent + decimals)
    if units > MAX_AMOUNT:
        raise ValidationError(f"amount {text} is too large")
    return int(units)


def format_amount(units: int, decimals: int) -> str:
    """Token units as an exact decimal string without trailing zeros: 1250500000, 6 -> "1250.5"."""
    whole, frac = divmod(int(units), 10**decimals)
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).zfill(decimals).rstrip('0')}"


def parse_duration(value: str) -> int:
    """ "30d", "12h", "2w", "90m", "45s" (or a bare "0") as seconds."""
    if value.strip() == "0":
        return 0
    match = _DURATION.match(value)
    if not match:
        raise ValidationError(f"duration {value!r}: use a number and a unit s, m, h, d or w, e.g. 30d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_deliver_by(value: str, *, now: int) -> int:
    """The delivery deadline as unix time: a duration from ``now`` ("30d"), an ISO datetime (UTC unless it has an
    offset) or an ISO date (the end of that day, UTC). Must lie in (now, now + MAX_DELIVERY_WINDOW], the contract's
    window."""
    text = value.strip()
    if _DURATION.match(text):
        deadline = now + parse_duration(text)
    else:
        try:
            try:
                day = dt.date.fromisoformat(text)
                moment = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)
            except ValueError:
                moment = dt.datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise ValidationError(
                f"deliver-by {value!r}: use a duration (30d), a date (2026-12-31) or an ISO datetime"
            ) from exc
        deadline = int(moment.timestamp())
    if deadline <= now:
        raise ValidationError(f"deliver-by {value}: {iso(deadline)} is not in the future (chain time {iso(now)})")
    if deadline > now + MAX_DELIVERY_WINDOW_S:
        raise ValidationError(f"deliver-by {value}: at most {MAX_DELIVERY_WINDOW_S // DAY} days ahead")
    return deadline


def parse_milestones(value: str | None) -> Milestones:
    """The CLI's schedule: "shipped:3000,delivered:7000" (bps), "shipped=30,delivered=70" (bare shares adding up
    to 100 are percent), or with units, "shipped:30%" and "shipped:2500bps". Empty means 100% on delivery; a
    milestone left out is 0."""
    if value is None or not value.strip():
        return Milestones.of(0, BPS)
    given: dict[str, str] = {}
    for part in value.split(","):
        name, share = (re.split(r"[:=]", part, maxsplit=1) + [""])[:2]
        name, share = name.strip().lower(), share.strip().lower()
        if not share or name not in MILESTONES:
            raise ValidationError(
                f"milestone {part.strip()!r}: use shipped:BPS and delivered:BPS, e.g. "
                "shipped:3000,delivered:7000 or shipped=30%,delivered=70%"
            )
        if name in given:
            raise ValidationError(f"milestone {name} is given twice")
        given[name] = share
    bare_unit = "%" if _bare_percent(given.values()) else "bps"
    shares = {n: parse_share(s if s.endswith(("%", "bps")) else s + bare_unit) for n, s in given.items()}
    return Milestones.of(shares.get("shipped", 0), shares.get("delivered", 0))


def _bare_percent(shares: Iterable[str]) -> bool:
    """Shares written without a unit are percent when they add up to 100, else basis points."""
    try:
        return sum(Decimal(s) for s in shares) == 100
    except InvalidOperation:  # a unit, or not a number: parse_share says which
        return False


def parse_share(value: str | int) -> int:
    """A share as basis points: an int is bps; text is "70%", "70.5%" or "7000bps". Must lie in [0, 10000]."""
    if isinstance(value, int):
        bps = value
    else:
        text = value.strip().lower().replace(" ", "")
        try:
            if text.endswith("%"):
                bps = percent_to_bps(Decimal(text[:-1]), shown=str(value))
            elif text.endswith("bps") and text[:-3].isdigit():
                bps = int(text[:-3])
            else:
                raise ValidationError(f"share {value!r}: write a percent (70%) or basis points (7000bps)")
        except InvalidOperation as exc:
            raise ValidationError(f"share {value!r} is not a number") from exc
    if not 0 <= bps <= BPS:
        raise ValidationError(f"share {value}: must be between 0% and 100%")
    return bps


def percent_to_bps(percent: Decimal, *, shown: str | None = None) -> int:
    """A percent (70.5) as basis points (7050), exactly: at most two decimals."""
    scaled = percent * 100
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ValidationError(f"share {shown or f'{percent}%'}: at most two decimals of a percent (1 bps)")
    return int(scaled)


def evidence_hash(
    *, text: str | None = None, path: Path | None = None, digest: str | None = None, max_bytes: int | None = None
) -> bytes:
    """SHA-256 of a statement, of a file, or a SHA-256 computed elsewhere (64 hex digits); exactly one of them."""
    given = [x is not None for x in (text, path, digest)]
    if sum(given) != 1:
        raise ValidationError("give the evidence as exactly one of: text, a file, or its SHA-256")
    if text is not None:
        if not text.strip():
            raise ValidationError("the evidence text is empty")
        return hashlib.sha256(text.encode()).digest()
    if path is not None:
        if not path.is_file():
            raise ValidationError(f"evidence file {path} does not exist")
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise ValidationError(f"evidence file {path} is over {max_bytes} bytes")
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
        return sha.digest()
    assert digest is not None
    hexed = digest.lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{64}", hexed):
        raise ValidationError("an evidence SHA-256 is 64 hex digits")
    return bytes.fromhex(hexed)


def iso(timestamp: int) -> str | None:
    """Unix time as ISO 8601 UTC ("2026-12-01T05:00:00Z"); None for 0 (never)."""
    if not timestamp:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")
