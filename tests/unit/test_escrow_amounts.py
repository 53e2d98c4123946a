"""Escrow input parsing: exact amounts, shares, milestones, deadlines, evidence hashes. No chain."""

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from trace_api.errors import ValidationError
from trace_api.services.escrow import (
    evidence_hash,
    format_amount,
    parse_amount,
    parse_deliver_by,
    parse_duration,
    parse_milestones,
    parse_share,
)

NOW = int(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC).timestamp())


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("1250.50", 6, 1_250_500_000),
        ("1250.5", 6, 1_250_500_000),
        ("0.000001", 6, 1),
        ("1", 6, 1_000_000),
        ("1.500000", 6, 1_500_000),  # trailing zeros add no precision
        ("1.5", 18, 1_500_000_000_000_000_000),
        ("1e3", 6, 1_000_000_000),
        (" 42 ", 0, 42),
        (Decimal("0.1"), 1, 1),
        ("79228162514264337593.543950335", 9, 2**96 - 1),  # 29 digits: beyond Decimal's 28, the uint96 maximum
    ],
)
def test_amounts_convert_exactly(text: str, decimals: int, units: int) -> None:
    assert parse_amount(text, decimals) == units


@pytest.mark.parametrize(
    ("text", "decimals", "message"),
    [
        ("1.0000001", 6, "more than 6 decimals"),
        ("0.0000005", 6, "more than 6 decimals"),
        ("1.5", 0, "more than 0 decimals"),
        ("0", 6, "positive"),
        ("-1", 6, "positive"),
        ("NaN", 6, "positive"),
        ("Infinity", 6, "positive"),
        ("1,250.50", 6, "not a number"),
        ("", 6, "not a number"),
        ("12 USDC", 6, "not a number"),
        ("1e40", 0, "too large"),
        ("1e999999999", 6, "too large"),
        (str(2**96), 0, "too large"),
    ],
)
def test_bad_amounts_are_rejected(text: str, decimals: int, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_amount(text, decimals)


def test_largest_uint96_amount_is_accepted() -> None:
    assert parse_amount(str(2**96 - 1), 0) == 2**96 - 1  # TradeEscrow stores amounts in 96 bits


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (1_250_500_000, 6, "1250.5"),
        (1, 6, "0.000001"),
        (0, 6, "0"),
        (5_000_000, 6, "5"),
        (1_500_000_000_000_000_000, 18, "1.5"),
        (7, 0, "7"),
    ],
)
def test_format_amount(units: int, decimals: int, text: str) -> None:
    assert format_amount(units, decimals) == text
    if units:
        assert parse_amount(text, decimals) == units  # round trip


@pytest.mark.parametrize(
    ("text", "shipped", "delivered"),
    [
        (None, 0, 10_000),
        ("", 0, 10_000),
        ("shipped:3000,delivered:7000", 3000, 7000),
        ("delivered:7000, shipped:3000", 3000, 7000),
        ("shipped:30%,delivered:70%", 3000, 7000),
        ("shipped:2500bps,delivered:75%", 2500, 7500),
        ("delivered:10000", 0, 10_000),
        ("shipped:100%", 10_000, 0),
        ("shipped=30,delivered=70", 3000, 7000),  # bare shares adding up to 100 are percent
        ("shipped=30.5,delivered=69.5", 3050, 6950),
        ("delivered=100", 0, 10_000),
        ("shipped=25%,delivered:7500bps", 2500, 7500),
    ],
)
def test_milestones(text: str | None, shipped: int, delivered: int) -> None:
    parsed = parse_milestones(text)
    assert (parsed.shipped_bps, parsed.delivered_bps) == (shipped, delivered)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shipped:3000,delivered:6000", "add up to 10000"),
        ("shipped:3000,shipped:7000", "twice"),
        ("paid:10000", "use shipped:BPS"),
        ("shipped 3000,delivered 7000", "use shipped:BPS"),
        ("shipped=30%,delivered=70", "add up to 10000"),  # a bare share beside a unit is bps
        ("shipped=30.5,delivered=9969.5", "percent"),
        ("shipped:abc,delivered:7000", "percent"),
        ("shipped:-10%,delivered:110%", "between"),
    ],
)
def test_bad_milestones(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_milestones(text)


@pytest.mark.parametrize(
    ("value", "bps"),
    [
        ("70%", 7000),
        ("70.5%", 7050),
        ("0%", 0),
        ("100%", 10_000),
        ("7000bps", 7000),
        ("7000 bps", 7000),
        (7000, 7000),
        (0, 0),
    ],
)
def test_shares(value: str | int, bps: int) -> None:
    assert parse_share(value) == bps


@pytest.mark.parametrize("value", ["70", "101%", "70.555%", "10001bps", -1, 10_001, "seventy%", "nan%"])
def test_bad_shares(value: str | int) -> None:
    with pytest.raises(ValidationError):
        parse_share(value)


def test_durations() -> None:
    assert parse_duration("30d") == 30 * 86_400
    assert parse_duration("2w") == 14 * 86_400
    assert parse_duration("12h") == 43_200
    assert parse_duration("90m") == 5_400
    with pytest.raises(ValidationError):
        parse_duration("30 days")


def test_deliver_by_forms() -> None:
    assert parse_deliver_by("30d", now=NOW) == NOW + 30 * 86_400
    end_of_day = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert parse_deliver_by("2026-12-31", now=NOW) == int(end_of_day.timestamp())
    assert parse_deliver_by("2026-07-01T10:00:00Z", now=NOW) == int(
        dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC).timestamp()
    )
    assert parse_deliver_by("2026-07-01T12:00:00+02:00", now=NOW) == int(
        dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC).timestamp()
    )
    assert parse_deliver_by("2026-07-01T10:00:00", now=NOW) == int(  # naive means UTC
        dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC).timestamp()
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-05-31", "not in the future"),
        ("0d", "not in the future"),
        ("731d", "at most 730 days"),
        ("2030-01-01", "at most 730 days"),
        ("next week", "use a duration"),
        ("2026-13-01", "use a duration"),
    ],
)
def test_bad_deliver_by(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_deliver_by(value, now=NOW)


def test_evidence_hash(tmp_path: Path) -> None:
    assert evidence_hash(text="goods arrived wet") == hashlib.sha256(b"goods arrived wet").digest()
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"\x00\x01" * 1_000_000)
    assert evidence_hash(path=photo) == hashlib.sha256(photo.read_bytes()).digest()
    digest = hashlib.sha256(b"x").hexdigest()
    assert evidence_hash(digest="0x" + digest) == bytes.fromhex(digest)
    with pytest.raises(ValidationError, match="exactly one"):
        evidence_hash()
    with pytest.raises(ValidationError, match="exactly one"):
        evidence_hash(text="a", path=photo)
    with pytest.raises(ValidationError, match="over 1000 bytes"):
        evidence_hash(path=photo, max_bytes=1000)
    with pytest.raises(ValidationError, match="does not exist"):
        evidence_hash(path=tmp_path / "missing.pdf")
    with pytest.raises(ValidationError, match="64 hex"):
        evidence_hash(digest="abc")
    with pytest.raises(ValidationError, match="empty"):
        evidence_hash(text="  ")


@pytest.mark.parametrize("code", ["IC", "EA", "AC", "TA", "DG", "CP", "EU", "UN", "ZZ", "QQ"])
def test_a_place_and_an_organisation_name_a_country_by_the_same_iso_3166_rule(code: str) -> None:
    """Canary Islands (IC) or Ceuta and Melilla (EA) have UN/LOCODEs under ES, not codes of their own: one rule
    (domain.is_country) decides for a trade's named place and an organisation's country alike."""
    from trace_api.services.escrow.terms import INCOTERMS, parse_place
    from trace_api.services.orgs import OrgProfile

    with pytest.raises(ValidationError, match="not an ISO 3166-1 country code"):
        parse_place(f"{code}LPA", incoterm=INCOTERMS.index("DAP"))
    with pytest.raises(ValueError, match="not an ISO 3166-1 alpha-2 country code"):
        OrgProfile(legal_name="Finca", country=code)
    assert parse_place("ESLPA", incoterm=INCOTERMS.index("DAP")) == b"ESLPA"
    assert OrgProfile(legal_name="Finca", country="es").country == "ES"
