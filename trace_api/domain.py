"""The tool's own vocabulary, shared by every service and front-end: batch keys, GS1 checks, quantities and units
as they go on chain, account names, the EPCIS extension namespace, and the one hex spelling.

Pure functions and value types: nothing here talks to the chain or the index.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from qr import digital_link
from qr.check_digits import gs1_check_digit
from qr.errors import DigitalLinkError
from trace_api.errors import ValidationError

QUANTITY_SCALE = 1000  # quantities go on chain in thousandths of the unit of measure
CBV = "https://ref.gs1.org/cbv/"
EXT = "https://trace.example.org/ns/"  # our EPCIS extension namespace (a URI, never fetched)
ZERO_ADDRESS = "0x" + "00" * 20


def hx(value: bytes | str) -> str:
    """Bytes (or hex text) as lower-case 0x-prefixed hex: how hashes, ids and addresses are stored and compared."""
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class BatchKey:
    gtin: str
    lot: str

    @functools.cached_property
    def id(self) -> bytes:
        return digital_link.batch_id(self.gtin, self.lot)

    @functools.cached_property
    def id_hex(self) -> str:
        return hx(self.id)

    @functools.cached_property
    def epc_class(self) -> str:
        return f"https://id.gs1.org{digital_link.key_path(self.gtin, self.lot)}"


@functools.lru_cache(maxsize=65536)
def batch_key(gtin: str, lot: str) -> BatchKey:
    """Validate a GTIN (check digit) and a lot (GS1 AI 10 rules). Cached: an import names few batches, often."""
    try:
        return BatchKey(digital_link.normalize_gtin(gtin), digital_link.validate_lot(lot))
    except DigitalLinkError as exc:
        raise ValidationError(str(exc)) from exc


def parse_gln(gln: str | None) -> int:
    """A GLN (13 digits, GS1 check digit) as the uint64 that goes on chain; 0 when absent."""
    if not gln:
        return 0
    if len(gln) != 13 or not gln.isdigit():
        raise ValidationError(f"GLN {gln!r}: must be 13 digits")
    check = gs1_check_digit(gln[:12])
    if check != int(gln[12]):
        raise ValidationError(f"GLN {gln}: invalid check digit, expected {check}")
    return int(gln)


# CLDR territories that are not ISO 3166-1 countries: groupings (EU, EZ, UN, QO), private use (XA, XB, ZZ) and the
# exceptionally reserved codes of places that belong to a country's code (AC, CP, DG, EA, IC, TA).
_NOT_COUNTRIES = frozenset({"AC", "CP", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"})


@functools.cache
def _countries() -> frozenset[str]:
    from babel import Locale  # CLDR's territory list: loaded when a country code is checked, not on every command

    return frozenset(c for c in map(str, Locale("en").territories) if len(c) == 2 and c.isalpha()) - _NOT_COUNTRIES


def is_country(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-2 country code (upper case), e.g. NL, CO, CN."""
    return code in _countries()


def parse_quantity(value: str | Decimal | int | None) -> int:
    """A quantity as it goes on chain: thousandths of the unit, 0 when absent."""
    if value is None:
        return 0
    try:
        qty = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError(f"quantity {value!r} is not a number") from exc
    scaled = qty * QUANTITY_SCALE
    if qty < 0 or scaled != scaled.to_integral_value() or scaled >= 2**128:
        raise ValidationError(f"quantity {value}: must be ≥ 0 with at most 3 decimals")
    return int(scaled)


def parse_uom(uom: str | None) -> bytes:
    """A UN/ECE Recommendation 20 unit code as the bytes8 that goes on chain."""
    if not uom:
        return b"\0" * 8
    if not (1 <= len(uom) <= 8 and uom.isalnum() and uom.isupper()):
        raise ValidationError(f"unit of measure {uom!r}: use a UN/ECE Rec 20 code such as KGM, LTR, H87")
    return uom.encode().ljust(8, b"\0")


def resolve_account(value: str | None, *, dev_names: bool = False) -> str:
    """An address from a 0x address, or a dev account name where ``dev_names`` (the local dev chain only: those
    keys are public); the zero address when empty."""
    from trace_api.chain.accounts import DEV_ACCOUNTS, dev_account  # eth-account: only when a name is looked up

    if not value:
        return ZERO_ADDRESS
    if value in DEV_ACCOUNTS:
        if not dev_names:
            raise ValidationError(f"{value!r}: dev account names exist only on the local chain; give an address")
        return dev_account(value).address
    if is_address(value):
        return str(to_checksum_address(value))
    raise ValidationError(f"{value!r} is neither an address nor a dev account name")


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def metadata_hash(metadata: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(metadata).encode()).digest()


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
