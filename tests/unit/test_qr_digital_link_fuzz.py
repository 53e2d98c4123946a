"""Fuzz the Digital Link parser: whatever the URI, it returns a DigitalLink or raises DigitalLinkError, nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qr import DigitalLinkError, parse
from qr.digital_link import PRIMARY_KEYS, DigitalLink

_AIS = sorted(
    {
        *PRIMARY_KEYS,
        "10",
        "21",
        "22",
        "235",
        "254",
        "7040",
        "8011",
        "8019",
        "8020",
        "17",
        "3103",
        "99",
        "89",
        "gtin",
        "0",
        "01 ",
        "%30%31",
    }
)
_VALUES = [
    "09506000134352",
    "9506000134352",
    "106141412345678908",
    "9520123456788",
    "9520614141234567",
    "L1",
    "A%2FB",
    "%FF",
    "%",
    "%C3%A9",
    "",
    "ABC",
    "261231",
    "000189",
    "1ABC",
    "03870585000552987",
]
segment = st.one_of(
    st.sampled_from(_AIS),
    st.sampled_from(_VALUES),
    st.text(max_size=12),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=40),
)
query_item = st.tuples(
    st.one_of(st.sampled_from(_AIS), st.sampled_from(["linkType", "context", ""])),
    st.one_of(st.sampled_from(_VALUES), st.text(max_size=8)),
)


@st.composite
def uris(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https", "http", "ftp", ""]))
    host = draw(st.sampled_from(["id.gs1.org", "example.com:8080", "[::1", "", "a@b", "[::1]"]))
    path = "/".join(draw(st.lists(segment, max_size=9)))
    query = "&".join(f"{k}={v}" for k, v in draw(st.lists(query_item, max_size=4)))
    tail = draw(st.sampled_from(["", "/", "#sig=0xabc", "?", "/?x"]))
    return f"{scheme}://{host}/{path}" + (f"?{query}" if query else "") + tail


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uris())
def test_parse_never_raises_anything_but_digital_link_error(uri: str) -> None:
    try:
        link = parse(uri)
    except DigitalLinkError:
        return
    assert isinstance(link, DigitalLink)
    again = parse(link.uri)  # what the parser accepts, it can print and read back
    assert (again.primary, again.key, again.qualifiers) == (link.primary, link.key, link.qualifiers)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_parse_of_any_text_raises_only_digital_link_error(text: str) -> None:
    try:
        parse(text)
    except DigitalLinkError:
        pass


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=80))
def test_any_compressed_segment_parses_or_raises_digital_link_error(segment: str) -> None:
    try:
        link = parse(f"https://id.gs1.org/{segment}")
    except DigitalLinkError:
        return
    assert parse(link.uri).path == link.path
