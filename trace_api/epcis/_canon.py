"""Value canonicalisation for the CBV 2.0 event hash: identifiers, numbers, timestamps, CBV URNs.

Rules 5-18 of the EPCIS Event Hash ID algorithm (CBV 2.0 section 8.9), written to give byte-for-byte the same
output as GS1's exemplary implementation (``epcis-event-hash-generator`` 1.9.3), including its quirks:

- EPC URIs (``urn:epc:id``, ``urn:epc:class``, ``urn:epc:idpat``) become canonical GS1 Digital Link URIs, with
  the check digit added and ``! ( ) * + , :`` percent-encoded. For a 12-digit company prefix GRAI, GDTI pattern,
  GRAI pattern and SGCN pattern the reference only accepts a third dot; we accept the same inputs.
- Digital Link URIs move to ``https://id.gs1.org``, lose the query string, key aliases (``/gtin/``), a CPV and a
  lot next to a serial; only the key combinations of rule 18 survive, anything else stays as it was.
- Any value that parses as a float loses trailing zeros (``"007"`` becomes ``"7"``, ``"10.0"`` becomes ``"10"``).
- Timestamps go to UTC at millisecond precision, rounded half to even on the microseconds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from qr.check_digits import gs1_check_digit

__all__ = ["canonical_time", "canonical_value", "to_digital_link"]

_DL = "https://id.gs1.org"
# EPC URI escapes of the GS1 AI encodable character set 82 (TDS 1.13 table A-1), and of the CPI set 39.
_S = r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])"
_CP = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"
_PERCENT = str.maketrans({"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"})


def _pe(text: str) -> str:
    return text.translate(_PERCENT)


def _gcp_alternatives(total: int, twelve: str | None = None) -> str:
    """``gcp.ref`` with a 6..12 digit company prefix and ``total`` digits in all.

    ``twelve`` replaces the 12-digit alternative where the reference spells it differently.
    """
    alts = [rf"\d{{{n}}}\.\d{{{total - n}}}" for n in range(6, 13) if total - n > 0]
    if total == 12:
        alts.append(twelve if twelve is not None else r"\d{12}\.")
    return "(?:" + "|".join(alts) + ")"


def _gcp_text(width: Callable[[int], int], chars: str) -> str:
    return "(?:" + "|".join(rf"\d{{{n}}}\.{chars}{{1,{width(n)}}}" for n in range(6, 13)) + ")"


def _gtin(body: str) -> str:
    gcp = body[: body.index(".")]
    item = body[len(gcp) + 1 : 14]
    raw = item[0] + gcp + item[1:]
    return raw + str(gs1_check_digit(raw))


def _key12(body: str, extra: str = "") -> str:
    """GCP plus the reference digits up to 12 (GLN, GDTI, SGCN) or 12 with a leading digit (GRAI)."""
    gcp = body[: body.index(".")]
    raw = extra + gcp + body[len(gcp) + 1 : 13]
    return raw + str(gs1_check_digit(raw))


def _sscc(body: str) -> str:
    gcp = body[: body.index(".")]
    ref = body[len(gcp) + 1 :]
    raw = ref[0] + gcp + ref[1:]
    return "/00/" + raw + str(gs1_check_digit(raw))


def _sgln(body: str) -> str:
    ext = body[14:]
    return "/414/" + _key12(body) + ("" if ext == "0" else "/254/" + _pe(ext))


def _plain(ai: str, check: bool, encode: bool) -> Callable[[str], str]:
    def build(body: str) -> str:
        gcp = body[: body.index(".")]
        raw = gcp + body[len(gcp) + 1 :]
        if check:
            raw += str(gs1_check_digit(raw))
        return f"/{ai}/" + (_pe(raw) if encode else raw)

    return build


def _cpi(body: str, pattern: bool) -> str:
    gcp = body[: body.index(".")]
    last = body.rindex(".")
    head = "/8010/" + _pe(gcp + body[len(gcp) + 1 : last])
    return head if pattern else head + "/8011/" + body[last + 1 :]


_GRAI12 = r"\d{12}\.\."
# Pattern texts, each compiled on first use (_compiled): compiling them all would cost every process that imports
# the event hash a few tens of milliseconds.
_EPC: dict[str, tuple[str, Callable[[str], str]]] = {
    "urn:epc:id:sgtin:": (
        _gcp_alternatives(13) + rf"\.{_S}{{1,20}}",
        lambda b: "/01/" + _gtin(b) + "/21/" + _pe(b[15:]),
    ),
    "urn:epc:id:sscc:": (_gcp_alternatives(17), _sscc),
    "urn:epc:id:sgln:": (_gcp_alternatives(12) + rf"\.{_S}{{1,20}}", _sgln),
    "urn:epc:id:grai:": (
        _gcp_alternatives(12, _GRAI12) + rf"\.{_S}{{1,16}}",
        lambda b: "/8003/" + _key12(b, "0") + _pe(b[14:]),
    ),
    "urn:epc:id:giai:": (_gcp_text(lambda n: 30 - n, _S), _plain("8004", False, True)),
    "urn:epc:id:gsrn:": (_gcp_alternatives(17), _plain("8018", True, False)),
    "urn:epc:id:gsrnp:": (_gcp_alternatives(17), _plain("8017", True, False)),
    "urn:epc:id:gdti:": (
        _gcp_alternatives(12, _GRAI12) + rf"{_S}{{1,20}}",
        lambda b: "/253/" + _key12(b) + _pe(b[14:]),
    ),
    "urn:epc:id:cpi:": (_gcp_text(lambda n: 30 - n, _CP) + r"\.\d{1,12}", lambda b: _cpi(b, False)),
    "urn:epc:id:sgcn:": (_gcp_alternatives(12) + r"\.\d{1,12}", lambda b: "/255/" + _key12(b) + b[14:]),
    "urn:epc:id:ginc:": (_gcp_text(lambda n: 30 - n, _S), _plain("401", False, True)),
    "urn:epc:id:gsin:": (_gcp_alternatives(16), _plain("402", True, False)),
    "urn:epc:id:itip:": (
        _gcp_alternatives(13) + rf"\.\d{{2}}\.\d{{2}}\.{_S}{{1,20}}",
        lambda b: "/8006/" + _gtin(b) + b[15:17] + b[18:20] + "/21/" + _pe(b[21:]),
    ),
    "urn:epc:id:upui:": (
        _gcp_alternatives(13) + rf"\.{_S}{{1,28}}",
        lambda b: "/01/" + _gtin(b) + "/235/" + _pe(b[15:]),
    ),
    "urn:epc:id:pgln:": (_gcp_alternatives(12), lambda b: "/417/" + _key12(b)),
    "urn:epc:class:lgtin:": (
        _gcp_alternatives(13) + rf"\.{_S}{{1,20}}",
        lambda b: "/01/" + _gtin(b) + "/10/" + _pe(b[15:]),
    ),
    "urn:epc:idpat:sgtin:": (_gcp_alternatives(13) + r"\.\*", lambda b: "/01/" + _gtin(b)),
    "urn:epc:idpat:grai:": (
        _gcp_alternatives(12, _GRAI12) + r"\.\*",
        lambda b: "/8003/" + _key12(b, "0"),
    ),
    "urn:epc:idpat:gdti:": (_gcp_alternatives(12, _GRAI12) + r"\.\*", lambda b: "/253/" + _key12(b)),
    "urn:epc:idpat:sgcn:": (_gcp_alternatives(12, _GRAI12) + r"\.\*", lambda b: "/255/" + _key12(b)),
    "urn:epc:idpat:cpi:": (_gcp_text(lambda n: 30 - n, _CP) + r"\.\*", lambda b: _cpi(b, True)),
    "urn:epc:idpat:itip:": (
        _gcp_alternatives(13) + r"\.\d{2}\.\d{2}\.\*",
        lambda b: "/8006/" + _gtin(b) + b[15:17] + b[18:20],
    ),
    "urn:epc:idpat:upui:": (_gcp_alternatives(13) + r"\.\*", lambda b: "/01/" + _gtin(b)),
}


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_DL_ANY_KEY = re.compile(
    r"https?:[^?#]*/(?:01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti"
    r"|401|ginc|402|gsin|8003|grai|8004|giai)/\d{4}[^/]"
)
_ALIASES = (
    ("/gtin/", "/01/"), ("/itip/", "/8006/"), ("/cpid/", "/8010/"), ("/gln/", "/414/"), ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"), ("/gsrn/", "/8018/"), ("/gcn/", "/255/"), ("/sscc/", "/00/"), ("/gdti/", "/253/"),
    ("/ginc/", "/401/"), ("/gsin/", "/402/"), ("/grai/", "/8003/"), ("/giai/", "/8004/"), ("/cpv/", "/22/"),
    ("/lot/", "/10/"), ("/ser/", "/21/"),
)  # fmt: skip
_CANONICAL_HOST = re.compile(
    r"https://id\.gs1\.org/(?:01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/\d{4}[^/]"
)
# Priority order of the primary keys when a custom domain is replaced (the reference's, not position in the URI).
_PRIMARY_KEYS = ("/00/", "/01/", "/253/", "/255/", "/401/", "/402/", "/414/", "/417/", "/8003/", "/8004/", "/8006/",
                 "/8010/", "/8017/", "/8018/")  # fmt: skip
_C = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_C_SLASH = r"[\x22\x27\x2D\x2E\x2F\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_GTIN_DIGITS = re.compile(r"https://id\.gs1\.org/01/(\d*)")
_ITEM = r"https://id\.gs1\.org/(?:8006/\d{18}|01/\d{14})"
_CPV_LAST = re.compile(rf"{_ITEM}/22/{_C}{{0,20}}")
_CPV_INNER = re.compile(rf"{_ITEM}/22/{_C_SLASH}{{0,20}}")
_LOT_AND_SERIAL = re.compile(rf"{_ITEM}/10/{_C}{{0,20}}/21/{_C}{{0,20}}")
_CONSTRAINED = re.compile(
    r"https://id\.gs1\.org/(?:"
    rf"00/\d{{18}}|01/\d{{14}}(?:/21/{_C}{{0,20}}|/10/{_C}{{0,20}}|/235/{_C}{{0,28}})?|253/\d{{13}}{_C}{{0,17}}"
    rf"|255/\d{{13}}\d{{0,12}}|401/{_C}{{0,30}}|402/\d{{17}}|414/\d{{13}}(?:/254/{_C}{{0,20}})?|417/\d{{13}}"
    rf"|8003/\d{{14}}{_C}{{0,16}}|8004/{_C}{{0,30}}|8006/\d{{18}}(?:/21/{_C}{{0,20}}|/10/{_C}{{0,20}})?"
    r"|8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}(?:/8011/\d{0,12})?|8017/\d{18}|8018/\d{18})"
)


def _constrain_digital_link(uri: str) -> str | None:
    if "?" in uri:
        uri = uri[: uri.index("?")]
    for alias, ai in _ALIASES:
        uri = uri.replace(alias, ai)
    if _CANONICAL_HOST.match(uri) is None:
        for key in _PRIMARY_KEYS:
            at = uri.find(key)
            if at != -1:
                uri = _DL + uri[at:]
                break
    gtin = _GTIN_DIGITS.match(uri)
    if gtin is not None:
        n = len(gtin.group(1))
        pad = "0" if n == 13 else "00" if n == 12 else "000000" if 8 <= n < 12 else ""
        if pad:
            uri = uri.replace("/01/", "/01/" + pad)
    cpv_at = uri.find("/22/")
    cpv = uri[cpv_at + 4 :]
    if _CPV_LAST.fullmatch(uri):
        uri = uri[:cpv_at]
    elif _CPV_INNER.fullmatch(uri):
        uri = uri[:cpv_at] + cpv[cpv.find("/") :]
    if _LOT_AND_SERIAL.fullmatch(uri):
        lot_at = uri.find("/10/")
        rest = uri[lot_at + 4 :]
        uri = uri[:lot_at] + rest[rest.find("/") :]
    return uri if _CONSTRAINED.fullmatch(uri) else None


def to_digital_link(uri: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI of an EPC URI, EPC class/pattern URI or Digital Link URI.

    None when ``uri`` is none of those, for example a geo URI or a company's own URL.
    """
    if "." not in uri:
        return None
    if uri.startswith("urn:epc:"):
        scheme_end = uri.find(":", uri.find(":", 8) + 1) + 1
        rule = _EPC.get(uri[:scheme_end])
        if rule is None:
            return None
        pattern, build = rule
        body = uri[scheme_end:]
        return _DL + build(body) if _compiled(pattern).fullmatch(body) else None
    if uri.startswith("http") and _DL_ANY_KEY.match(uri):
        return _constrain_digital_link(uri)
    return None


_URNS = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)
_CACHE: dict[str, str] = {}
_CACHE_LIMIT = 200_000


def _canonical_value(text: str) -> str:
    if "urn:epcglobal:cbv:" in text:
        for urn, uri in _URNS:
            text = text.replace(urn, uri)
    try:
        number = float(text)
        text = str(int(number)) if int(number) == number else str(number)
    except (ValueError, OverflowError):
        pass
    return to_digital_link(text) or text


def canonical_value(text: str) -> str:
    """A stripped, non-time value as it enters the pre-hash string (CBV URNs, numbers, identifiers)."""
    cached = _CACHE.get(text)
    if cached is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        cached = _CACHE[text] = _canonical_value(text)
    return cached


def canonical_time(text: str) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC; a value that is no ISO 8601 timestamp is returned unchanged.

    A timestamp without offset is read as UTC (the reference reads it in the machine's zone, UTC on servers).
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    micro = moment.microsecond
    rounded = round(micro, -3)  # half to even, as the reference; 999500 carries into the next second
    if rounded != micro:
        moment += timedelta(microseconds=rounded - micro)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
