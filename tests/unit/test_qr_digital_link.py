from __future__ import annotations

import pytest
from eth_utils.crypto import keccak

from qr import DigitalLinkError, batch_id, batch_uri, canonical, key_path, normalize_gtin, parse, unit_uri
from qr.digital_link import CANONICAL_DOMAIN, DEFAULT_DOMAIN, DigitalLink

GTIN13 = "9506000134352"
GTIN14 = "09506000134352"


@pytest.mark.parametrize("gtin", ["96385074", "614141000036", GTIN13, GTIN14, "10614141000033"])
def test_gtin_is_normalised_to_14_digits(gtin: str) -> None:
    assert normalize_gtin(gtin) == gtin.zfill(14)


def test_gtin_with_bad_check_digit_names_the_expected_digit() -> None:
    with pytest.raises(DigitalLinkError, match=r"^GTIN 09506000134353: invalid check digit, expected 2$"):
        batch_uri("09506000134353", "ABC")
    with pytest.raises(DigitalLinkError, match="GTIN 96385075: invalid check digit, expected 4"):
        normalize_gtin("96385075")


@pytest.mark.parametrize("gtin", ["", "123", "95060001343", "095060001343521", "0950600013435x", "٠٩٥٠٦٠٠٠١٣٤٣٥٢"])
def test_gtin_of_wrong_shape_is_rejected(gtin: str) -> None:
    with pytest.raises(DigitalLinkError, match="expected 8, 12, 13 or 14 digits"):
        normalize_gtin(gtin)


def test_batch_and_unit_uris() -> None:
    assert batch_uri(GTIN13, "ABC123") == f"{DEFAULT_DOMAIN}/01/{GTIN14}/10/ABC123"
    assert unit_uri(GTIN13, "ABC123", "S1", domain="https://trace.example.com/") == (
        f"https://trace.example.com/01/{GTIN14}/10/ABC123/21/S1"
    )
    assert (
        batch_uri(GTIN14, "L1", domain="https://res.example.com/dl") == f"https://res.example.com/dl/01/{GTIN14}/10/L1"
    )


@pytest.mark.parametrize(
    ("lot", "encoded"),
    [
        ("A/B", "A%2FB"),
        ("50%", "50%25"),
        ("a+b&c=d?", "a%2Bb%26c%3Dd%3F"),
        ("\"q'(x)*,:;<>!", "%22q%27%28x%29%2A%2C%3A%3B%3C%3E%21"),
        ("Az09-._", "Az09-._"),
    ],
)
def test_lot_is_percent_encoded_and_round_trips(lot: str, encoded: str) -> None:
    uri = batch_uri(GTIN14, lot)
    assert uri == f"{DEFAULT_DOMAIN}/01/{GTIN14}/10/{encoded}"
    assert parse(uri).lot == lot
    assert key_path(GTIN14, lot) == f"/01/{GTIN14}/10/{encoded}"


@pytest.mark.parametrize(
    ("lot", "message"),
    [
        ("AB C", r"character ' ' at position 3 is not in GS1 AI encodable character set 82"),
        ("A#1", r"character '#' at position 2"),
        ("A\\1", r"character '\\\\' at position 2"),
        ("café", r"character 'é' at position 4"),
        ("", "expected 1 to 20 characters"),
        ("X" * 21, "expected 1 to 20 characters"),
    ],
)
def test_lot_outside_character_set_82_is_rejected(lot: str, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        batch_uri(GTIN14, lot)


def test_serial_is_validated_like_the_lot() -> None:
    with pytest.raises(DigitalLinkError, match=r"^serial 'S 1': character ' ' at position 2"):
        unit_uri(GTIN14, "L1", "S 1")
    assert unit_uri(GTIN14, "L1", "S/1").endswith("/21/S%2F1")


def test_space_in_a_uri_is_decoded_then_rejected() -> None:
    with pytest.raises(DigitalLinkError, match="not a GS1 Digital Link URI"):
        parse(f"https://id.gs1.org/01/{GTIN14}/10/AB%20C")


@pytest.mark.parametrize(
    "uri",
    [
        f"https://id.gs1.org/01/{GTIN14}/10/A%2FB/21/S1",
        f"http://127.0.0.1:8000/01/{GTIN14}/10/A%2FB/21/S1",
        f"https://shop.example.com/resolver/v1/01/{GTIN14}/10/A%2fB/21/S1/?linkType=gs1:pip#sig=0xabc",
    ],
)
def test_parse_any_domain(uri: str) -> None:
    link = parse(uri)
    assert (link.gtin, link.lot, link.serial) == (GTIN14, "A/B", "S1")
    assert canonical(link) == f"{CANONICAL_DOMAIN}/01/{GTIN14}/10/A%2FB/21/S1"


def test_parse_keeps_domain_prefix_and_query() -> None:
    link = parse(f"https://res.example.com/dl/01/{GTIN14}/10/L1?17=261231&linkType=all")
    assert link == DigitalLink(
        domain="https://res.example.com/dl",
        primary="01",
        key=GTIN14,
        qualifiers=(("10", "L1"),),
        query={"17": "261231", "linkType": "all"},
    )
    assert link.uri == f"https://res.example.com/dl/01/{GTIN14}/10/L1?17=261231"
    assert parse(link.uri) == DigitalLink(
        domain="https://res.example.com/dl",
        primary="01",
        key=GTIN14,
        qualifiers=(("10", "L1"),),
        query={"17": "261231"},
    )


def test_parse_gtin_alone_and_gtin_with_serial() -> None:
    link = parse(f"https://id.gs1.org/01/{GTIN14}")
    assert link == DigitalLink(domain="https://id.gs1.org", primary="01", key=GTIN14)
    link = parse(f"https://id.gs1.org/01/{GTIN14}/21/S9")
    assert (link.lot, link.serial) == (None, "S9")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("not a uri", "expected an absolute http"),
        (f"ftp://x.example/01/{GTIN14}", "expected an absolute http"),
        (f"/01/{GTIN14}/10/L1", "expected an absolute http"),
        ("https://id.gs1.org/01/09506000134353/10/L1", "invalid check digit, expected 2"),
        ("https://id.gs1.org/00/106141412345678907", "invalid check digit, expected 8"),
        (f"https://id.gs1.org/01/{GTIN14}/10/L1/22/V1", r"key qualifiers 10/22 are not allowed after AI 01"),
        (f"https://id.gs1.org/01/{GTIN14}/21/S1/10/L1", "not a GS1 Digital Link URI"),
        (f"https://id.gs1.org/01/{GTIN14}?10=L1", "AI 10 is a key qualifier: it belongs in the path"),
        (f"https://id.gs1.org/01/{GTIN14}/10/L1?17=999999", "not a GS1 Digital Link URI"),
        (f"https://id.gs1.org/01/{GTIN14}/10", "not a GS1 Digital Link URI"),
        ("https://id.gs1.org/", "not a GS1 Digital Link URI"),
    ],
)
def test_parse_rejects_bad_uris(uri: str, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        parse(uri)


def test_canonical_is_independent_of_domain_and_of_non_ai_query() -> None:
    a = canonical(f"http://127.0.0.1:8000/01/{GTIN14}/10/L1/21/S1?linkType=all&17=261231&11=240101")
    b = canonical(f"https://other.example/x/01/{GTIN14}/10/L1/21/S1?11=240101&17=261231")
    assert a == b == f"{CANONICAL_DOMAIN}/01/{GTIN14}/10/L1/21/S1?11=240101&17=261231"


def test_batch_id_is_keccak_of_the_key_path() -> None:
    assert key_path(GTIN13, "ABC123") == f"/01/{GTIN14}/10/ABC123"
    assert batch_id(GTIN13, "ABC123") == batch_id(GTIN14, "ABC123") == keccak(text=f"/01/{GTIN14}/10/ABC123")
    # Pinned: computed with pycryptodome's Keccak-256, so a change of id format shows here.
    assert batch_id(GTIN14, "ABC123").hex() == "3ce513e507238ef5b3b0a34a54295dce12375e7cbedb5a0d8d9adc613e7183ec"
    assert batch_id(GTIN14, "ABC124") != batch_id(GTIN14, "ABC123")
    assert len(batch_id(GTIN14, "A/B")) == 32


def test_batch_id_does_not_depend_on_the_domain() -> None:
    link = parse(f"https://any.example/01/{GTIN14}/10/A%2FB/21/S1")
    assert link.lot is not None
    assert batch_id(link.gtin, link.lot) == keccak(text=f"/01/{GTIN14}/10/A%2FB")


@pytest.mark.parametrize("domain", ["127.0.0.1:8000", "https://x.example/?a=1", "file:///tmp", ""])
def test_bad_domain_is_rejected(domain: str) -> None:
    with pytest.raises(DigitalLinkError, match="domain"):
        batch_uri(GTIN14, "L1", domain=domain)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        parse("nope")


def test_errors_never_show_the_fragment() -> None:
    with pytest.raises(DigitalLinkError) as caught:
        parse(f"https://id.gs1.org/01/{GTIN14}/10/L1/22/V1#sig=0xsecret")
    assert "key qualifiers 10/22" in str(caught.value)
    assert "sig=" not in str(caught.value)


# Every primary key of the GS1 Digital Link URI syntax, with its key qualifiers (examples from GS1's URI syntax
# standard and its syntax-engine test vectors, check digits recomputed).
@pytest.mark.parametrize(
    ("path", "primary", "key", "qualifiers"),
    [
        (f"/01/{GTIN14}/22/2A/10/ABC/21/12345", "01", GTIN14, (("22", "2A"), ("10", "ABC"), ("21", "12345"))),
        (f"/01/{GTIN14}/235/TPX-1", "01", GTIN14, (("235", "TPX-1"),)),
        ("/8006/095201234567880102/10/L1", "8006", "095201234567880102", (("10", "L1"),)),
        ("/8013/1987654Ad4X4bL5ttr2310c2K", "8013", "1987654Ad4X4bL5ttr2310c2K", ()),
        ("/8010/95201234ABC/8011/123456", "8010", "95201234ABC", (("8011", "123456"),)),
        ("/414/9520123456788/254/32a%2Fb", "414", "9520123456788", (("254", "32a/b"),)),
        ("/414/9520123456788/7040/1ABC", "414", "9520123456788", (("7040", "1ABC"),)),
        ("/415/9520123456788/8020/INV-1", "415", "9520123456788", (("8020", "INV-1"),)),
        ("/417/9520123456788", "417", "9520123456788", ()),
        ("/8017/952012345678901233/8019/42", "8017", "952012345678901233", (("8019", "42"),)),
        ("/8018/952012345678901233", "8018", "952012345678901233", ()),
        ("/255/9520123456788125", "255", "9520123456788125", ()),
        ("/00/106141412345678908", "00", "106141412345678908", ()),
        ("/253/9520123456788DOC-1", "253", "9520123456788DOC-1", ()),
        ("/401/9520123ABC", "401", "9520123ABC", ()),
        ("/402/95201234567890122", "402", "95201234567890122", ()),
        ("/8003/03870585000552987", "8003", "03870585000552987", ()),
        ("/8004/9520614141234567", "8004", "9520614141234567", ()),
    ],
)
def test_every_primary_key_parses(path: str, primary: str, key: str, qualifiers: tuple[tuple[str, str], ...]) -> None:
    link = parse(f"https://example.com/res{path}?linkType=gs1:pip")
    assert (link.domain, link.primary, link.key) == ("https://example.com/res", primary, key)
    assert link.qualifiers == qualifiers
    assert link.path == path
    assert link.gtin == (key if primary == "01" else None)


@pytest.mark.parametrize(
    ("uri", "attributes"),
    [
        # Both crashed the old parser (a bare ValueError from list.index): a non-GTIN key with a GTIN attribute.
        ("https://example.com/8004/9520614141234567?01=09520123456788", {"01": "09520123456788"}),
        ("https://id.gs1.org/414/9520123456788?01=09506000134369", {"01": "09506000134369"}),
        (
            f"https://id.gs1.org/01/{GTIN14}/10/L1?17=261231&3103=000189&99=internal",
            {"17": "261231", "3103": "000189", "99": "internal"},
        ),
    ],
)
def test_data_attributes_in_the_query(uri: str, attributes: dict[str, str]) -> None:
    assert {k: v for k, v in parse(uri).query.items() if k.isdigit()} == attributes


@pytest.mark.parametrize("gtin", ["96385074", "614141000036", GTIN13])
def test_short_gtins_in_the_path_are_refused(gtin: str) -> None:
    with pytest.raises(DigitalLinkError, match=rf"GTIN '{gtin}' in /01/ must have 14 digits"):
        parse(f"https://id.gs1.org/01/{gtin}/10/L1")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("99=", "AI 99 value '' is invalid"),
        ("89=1", "query parameter 89 is not a GS1 data attribute AI"),
        ("21=S1", "AI 21 is a key qualifier"),
        ("7040=1ABC", "query parameter 7040 is not a GS1 data attribute AI"),
        ("17=261231&17=261231", "AI 17 is given more than once"),
        ("01=09506000134352", "AI 01 is given more than once"),
        ("3103=12", "AI 3103 value '12' is invalid"),
        ("00=106141412345678907", "AI 00 value '106141412345678907': invalid check digit"),
        ("10=%FF", "not valid percent-encoded UTF-8"),
    ],
)
def test_bad_query_attributes_are_refused(query: str, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        parse(f"https://id.gs1.org/01/{GTIN14}?{query}")


def test_repeated_qualifier_in_the_query_is_refused() -> None:
    with pytest.raises(DigitalLinkError, match="AI 10"):
        parse("https://example.com/8004/9520614141234567?10=A&10=B")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://id.gs1.org/gtin/09506000134352", "use numeric AIs"),
        (f"https://id.gs1.org/01/{GTIN14}/10/L1/foo", "no primary key in the path"),
        ("https://id.gs1.org/00/106141412345678908/10/L1", "key qualifiers 10 are not allowed after AI 00"),
        ("https://id.gs1.org/414/9520123456788/254/A/7040/1ABC", r"allowed, in this order: 254 or 7040"),
        ("https://id.gs1.org/8004/ABC%C3", "not valid percent-encoded UTF-8"),
        ("http://[::1/01/09506000134352", "not a GS1 Digital Link URI"),
    ],
)
def test_bad_paths_are_refused(uri: str, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        parse(uri)


# Compressed URIs and the URIs they stand for, as GS1's DigitalLinkToolkit.js (compressGS1DigitalLink, with and
# without its optimisation codes) compresses them.
COMPRESSED = [
    ("ARFKk4XBoA", "/01/09506000134352"),
    ("CxFKk4XBwt6JwCSf22m3X2uvwA", "/01/09506000134369/10/ROAST-2026-11-A"),
    ("ARFKk4XBwiDeicAkn9tpt19rr8A", "/01/09506000134369/10/ROAST-2026-11-A"),
    ("CxFKk4XBwt6JwCSf22m3X2uvwBCi2AAI", "/01/09506000134369/10/ROAST-2026-11-A/21/B0001"),
    ("ARFKk4XBwiDeicAkn9tpt19rr8AQotgAC", "/01/09506000134369/10/ROAST-2026-11-A/21/B0001"),
    ("GhFKk4XBoI1XgkYKMDk_xv", "/01/09506000134352/10/ABC123/21/12345?17=261231"),
    ("ARFKk4XBoCCNV4JGLn-N5CCjA5", "/01/09506000134352/10/ABC123/21/12345?17=261231"),
    ("LRFKk4XBoAAXohD4cWNfky5g", "/01/09506000134352/10/abc%2Fdef?3103=000189"),
    ("ARFKk4XBoCEPhxY1-TLmMQMAC9", "/01/09506000134352/10/abc%2Fdef?3103=000189"),
    ("ABeRcNWtKMPA", "/00/106141412345678908"),
    ("nYqJOTrRSFZssK_E", "/414/9520123456788/254/32a%2Fb"),
    ("JUhWbLCvxIKRUScnWig", "/414/9520123456788/254/32a%2Fb"),
    ("gAMHCmGwJNAH7Y", "/8003/03870585000552987"),
]


@pytest.mark.parametrize(("compressed", "expanded"), COMPRESSED)
def test_compressed_uris_are_decompressed(compressed: str, expanded: str) -> None:
    link = parse(f"https://res.example.com/dl/{compressed}?campaign=qr")
    assert link.uri == f"https://res.example.com/dl{expanded}"
    assert link.query["campaign"] == "qr"


def test_compressed_non_gs1_parameters_come_back() -> None:
    link = parse("https://id.gs1.org/ARFKk4XBoeIlinkTypegfPzYuuGng")  # /01/09506000134352?linkType=gs1:pip
    assert (link.gtin, dict(link.query)) == ("09506000134352", {"linkType": "gs1:pip"})


@pytest.mark.parametrize(
    ("compressed", "message"),
    [
        ("ABeRcNWtKNPA", "AI 00 value .*: invalid check digit"),  # one character of an SSCC changed
        ("__________", "no compression entry starts with FF|compressed data ends"),
        ("ARFKk4XB", "compressed data ends in the middle of a value"),
        ("abc", "no GS1 AI starts with|compressed data ends|no primary key"),
    ],
)
def test_bad_compressed_uris_are_refused(compressed: str, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        parse(f"https://id.gs1.org/{compressed}")


def test_gmn_check_character_pair() -> None:
    # GS1's example Global Model Number, and the same with one check character changed
    assert parse("https://id.gs1.org/8013/1987654Ad4X4bL5ttr2310c2K").key == "1987654Ad4X4bL5ttr2310c2K"
    with pytest.raises(DigitalLinkError, match="invalid check character pair, expected 2K"):
        parse("https://id.gs1.org/8013/1987654Ad4X4bL5ttr2310cXK")


@pytest.mark.parametrize(
    ("uri", "pair"),
    [
        (f"https://id.gs1.org/01/{GTIN14}?8006=095201234567880102", "AI 01 and AI 8006"),
        (f"https://id.gs1.org/01/{GTIN14}?37=12", "AI 01 and AI 37"),
        ("https://id.gs1.org/255/9520123456788125?01=09506000134352", "AI 01 and AI 255"),
        ("https://id.gs1.org/8017/952012345678901233?8018=952012345678901233", "AI 8017 and AI 8018"),
        (f"https://id.gs1.org/01/{GTIN14}?3902=100&3942=0010", "AI 3902 and AI 3942"),
    ],
)
def test_invalid_pairs_of_element_strings_are_refused(uri: str, pair: str) -> None:
    with pytest.raises(DigitalLinkError, match=f"{pair} must not appear together"):
        parse(uri)


def test_the_check_digit_is_the_gs1_standard_one_biip_computes() -> None:
    """qr.check_digits computes the GS1 check digit itself (importing biip costs every command 0.1 s): it must agree
    with biip's for every key length, leading zeros included."""
    import random

    from biip.checksums import gs1_standard_check_digit

    from qr.check_digits import gs1_check_digit

    rng = random.Random(12)
    payloads = ["0", "0" * 17, "9" * 17, "950600013435", "1061414100003", "٠٩٥٠٦٠٠٠١٣٤٣٥"]  # Arabic-Indic too
    payloads += [str(rng.randrange(10**n)).zfill(n) for n in range(1, 18) for _ in range(200)]
    assert [gs1_check_digit(p) for p in payloads] == [gs1_standard_check_digit(p) for p in payloads]
    with pytest.raises(ValueError, match="digits only"):
        gs1_check_digit("12a4")


ARABIC_GTIN = "%D9%A0%D9%A9%D9%A5%D9%A0%D9%A6%D9%A0%D9%A0%D9%A0%D9%A1%D9%A3%D9%A4%D9%A3%D9%A5%D9%A2"  # 09506000134352


def test_digits_of_another_script_never_raise_anything_but_a_digital_link_error() -> None:
    """A percent-encoded value may decode to decimal digits of another script: parsing answers (biip takes them as
    digits, check digit included) or refuses with DigitalLinkError, as documented, never with another exception
    (the resolver would answer 500)."""
    link = parse(f"https://id.gs1.org/01/{ARABIC_GTIN}/10/A")
    assert link.key == "٠٩٥٠٦٠٠٠١٣٤٣٥٢" and link.lot == "A"
    with pytest.raises(DigitalLinkError, match="AI 414 value .*: invalid check digit, expected 9"):
        parse(f"https://id.gs1.org/01/{GTIN14}/10/A?414={ARABIC_GTIN[:-6]}")
    with pytest.raises(DigitalLinkError, match="expected 8, 12, 13 or 14 digits"):
        normalize_gtin(link.key)  # a batch key is ASCII digits: the resolver refuses it with a 4xx
