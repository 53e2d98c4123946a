"""The GS1-conformant resolver: every SHALL of the GS1-Conformant Resolver standard 1.0 that applies to it, plus
content negotiation, the verify page, scans and the signature check.

The checklist below lists the standard's SHALL statements (as GS1's resolver test suite words them); each names the
test that checks it here, or why none can. ``test_checklist_is_covered`` keeps the list and the tests in step.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.services.demo import EXPORT_LOTS, GREEN, ROASTED, UNITS

VOC = "https://gs1.org/voc/"
LINKSET = "application/linkset+json"
SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "gs1-linkset" / "gs1-linkset-schema.json").read_text())
UNKNOWN_GTIN = "09506000134376"

# (id, SHALL statement, test that checks it | None, reason when None)
CHECKLIST: list[tuple[str, str, str | None]] = [
    (
        "qualifiers",
        "For primary keys that have key qualifiers, all key qualifiers SHALL be supported",
        "test_every_gtin_qualifier_is_supported",
    ),
    ("methods", "SHALL support HTTP 1.1 (or higher) GET, HEAD and OPTIONS requests", "test_get_head_options"),
    ("https", "SHALL support HTTP Over TLS (HTTPS)", None),  # terminated by the deployment's proxy, not the app
    ("cors", "SHALL support CORS", "test_cors_on_every_response"),
    (
        "syntax-400",
        "SHALL extract and syntactically validate the URI and report errors with 400",
        "test_syntax_errors_are_400",
    ),
    (
        "no-200-error",
        "SHALL NOT use a 200 OK response code with a resource that indicates an error condition",
        "test_unknown_items_are_404_without_links",
    ),
    (
        "decompress",
        "SHALL be able to decompress a URI to generate a GS1 Digital Link URI",
        "test_compressed_uri_resolves",
    ),
    (
        "same-as",
        "If handling a compressed request URI, SHALL expose the uncompressed URI in the Link header with "
        "rel owl:sameAs",
        "test_compressed_uri_resolves",
    ),
    (
        "linkset",
        "SHALL respond to linkType=linkset and/or Accept: application/linkset+json with the linkset as per RFC 9264",
        "test_linkset_by_query_and_by_accept",
    ),
    (
        "walk-up-levels",
        "Links associated with each level up to the primary key SHALL be included in the linkset",
        "test_linkset_includes_every_level",
    ),
    (
        "anchor",
        "The URI used as the subject of facts presented SHALL be the uncompressed version",
        "test_compressed_uri_resolves",
    ),
    (
        "titled",
        "All links SHALL include the target URL, the link type and a link title",
        "test_linksets_valid_against_gs1_schema",
    ),
    (
        "iana",
        "If a media type is defined for a link, it SHALL be one defined by IANA",
        "test_linksets_valid_against_gs1_schema",
    ),
    (
        "default-described",
        "Links typed gs1:defaultLink SHALL also be described using a descriptive link type",
        "test_default_link",
    ),
    (
        "default-one",
        "SHALL recognise one available link as the default; the default link SHALL NOT have optional attributes",
        "test_default_link",
    ),
    (
        "default-redirect",
        "SHALL redirect to the default link unless the request allows a better match",
        "test_default_link",
    ),
    (
        "default-exists",
        "For any request URI there SHALL be a default link at the entry level or higher up the tree",
        "test_walk_up_from_unknown_lot_and_serial",
    ),
    ("link-type", "SHALL redirect to the requested type of link if available", "test_redirect_to_requested_type"),
    (
        "link-type-404",
        "SHALL return 404 if a link of the requested type is not available",
        "test_redirect_to_requested_type",
    ),
    (
        "query",
        "By default, SHALL pass on all key=value pairs in the query string when redirecting",
        "test_query_string_is_passed_on",
    ),
    ("description", "SHALL provide a resolver description file at /.well-known/gs1resolver", "test_description_file"),
    (
        "primary-keys",
        "The supported primary identifiers SHALL be listed in the resolver description file",
        "test_description_file",
    ),
    (
        "vocabulary",
        "SHALL recognise the GS1 Web vocabulary namespace; other link types SHALL NOT duplicate GS1's",
        "test_linksets_valid_against_gs1_schema",
    ),
    ("handled-by", "Redirections based on a GCP with no further processing SHALL be annotated gs1:handledBy", None),
]
NOT_APPLICABLE = {
    "https": "TLS is terminated by the deployment (reverse proxy), not by the app",
    "handled-by": "this resolver never redirects on a company prefix alone",
}


@pytest.fixture(scope="module")
def client(demo_env) -> Iterator[TestClient]:
    env, _ = demo_env
    settings = Settings(
        home=Path(env["TRACE_HOME"]),
        node_port=int(env["TRACE_NODE_PORT"]),
        trust_proxy=True,
        resolver_rate_per_minute=0,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def path(gtin: str, lot: str | None = None, serial: str | None = None) -> str:
    return f"/01/{gtin}" + (f"/10/{lot}" if lot else "") + (f"/21/{serial}" if serial else "")


def links_of(response) -> dict[str, str]:
    """The Link header as {rel: target}."""
    found = {}
    for part in response.headers.get("link", "").split(", <"):
        target, _, params = part.lstrip("<").partition(">")
        rel = params.split('rel="', 1)[1].split('"', 1)[0] if 'rel="' in params else ""
        found[rel] = target
    return found


def test_checklist_is_covered() -> None:
    names = {name for name in globals() if name.startswith("test_")}
    for check_id, _, test in CHECKLIST:
        assert (test in names) if test else (check_id in NOT_APPLICABLE), check_id
    met = sum(1 for _, _, test in CHECKLIST if test)
    assert (met, len(CHECKLIST)) == (22, 24)


# ---- content served directly ----


def test_json_summary(client: TestClient) -> None:
    body = client.get(path(*GREEN), headers={"Accept": "application/json"}).json()
    assert body["verdict"]["level"] == "verified"
    assert body["metadata"]["product"] == "Arabica green coffee"
    sensors = body["journey"]["groups"][0]["sensors"]
    assert sensors["count"] == 1000 and sensors["verified"] == 1000
    assert body["children"][0]["lot"] == ROASTED[1]


def test_epcis_json_ld(client: TestClient) -> None:
    response = client.get(path(*ROASTED), headers={"Accept": "application/ld+json"})
    assert response.headers["content-type"].startswith("application/ld+json")
    doc = response.json()
    assert doc["type"] == "EPCISDocument" and len(doc["epcisBody"]["eventList"]) == 1 + len(UNITS) + 3


def test_browser_gets_the_verify_page(client: TestClient) -> None:
    page = client.get(path(*ROASTED, UNITS[0]), headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Verified on chain" in page.text
    assert links_of(page)["linkset"].endswith(f"{path(*ROASTED, UNITS[0])}?linkType=linkset")
    # the page is also the default link, at its own address, so redirects to it cannot loop
    default = client.get(f"/verify{path(*ROASTED, UNITS[0])}")
    assert default.status_code == 200 and "Verified on chain" in default.text


# ---- the standard ----


def test_get_head_options(client: TestClient) -> None:
    url = path(*ROASTED)
    get = client.get(url, headers={"Accept": LINKSET})
    head = client.head(url, headers={"Accept": LINKSET})
    assert get.status_code == head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"] and head.headers["link"] == get.headers["link"]
    options = client.options(url)
    assert options.status_code == 204
    for header in ("allow", "access-control-allow-methods"):
        assert {m.strip() for m in options.headers[header].split(",")} == {"GET", "HEAD", "OPTIONS"}
    redirect = client.head(url, follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"].endswith(f"/verify{url}")


def test_cors_on_every_response(client: TestClient, demo_env) -> None:
    responses = [
        client.get(path(*ROASTED), follow_redirects=False),  # 307
        client.get(path(*ROASTED), params={"linkType": "linkset"}),  # 200 linkset
        client.get(path(*ROASTED), headers={"Accept": "text/html"}),  # 200 page
        client.get(path(UNKNOWN_GTIN, "NOPE"), headers={"Accept": "application/json"}),  # 404
        client.get(path("09506000134353", "X")),  # 400
        client.get("/.well-known/gs1resolver"),
        client.get(f"/products/{ROASTED[0]}"),
        client.options(
            path(*ROASTED), headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
        ),
    ]
    # errors that never reach the route carry them too: a bad body, a preflight, the rate limiter
    responses.append(client.post("/verify/signature", json={"uri": "x"}))  # 422
    preflight = client.options(
        "/verify/signature",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204 and "content-type" in preflight.headers["access-control-allow-headers"].lower()
    responses.append(preflight)
    env, _ = demo_env
    limited = Settings(home=Path(env["TRACE_HOME"]), node_port=int(env["TRACE_NODE_PORT"]), resolver_rate_per_minute=1)
    with TestClient(create_app(limited)) as strict:
        statuses = [strict.get("/.well-known/gs1resolver") for _ in range(3)]
    assert statuses[-1].status_code == 429
    responses.append(statuses[-1])
    for response in responses:
        assert response.headers["access-control-allow-origin"] == "*", response.url
        exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
        assert {"link", "location"} <= exposed


def test_syntax_errors_are_400(client: TestClient) -> None:
    for url, message in [
        (path("09506000134353", "X"), "invalid check digit"),
        (path("9506000134352", "X"), "must have 14 digits"),  # GTIN-13 in /01/
        (f"{path(*ROASTED)}/foo", "no primary key in the path"),  # GS1's test suite appends /foo
        (f"{path(*ROASTED)}?89=1", "89 is not a GS1 data attribute"),
        (f"{path(*ROASTED)}?17=261231&17=261231", "AI 17 is given more than once"),
        (f"{path(*ROASTED)}/22", "no primary key in the path"),
        ("/8004/" + "A" * 31, "AI 8004 value"),
    ]:
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 400, url
        assert response.headers["content-type"].startswith("application/problem+json")
        assert message in response.json()["detail"], (url, response.json())


def test_every_gtin_qualifier_is_supported(client: TestClient) -> None:
    # 22 (consumer product variant) and 235 (third-party controlled serial) parse; with no links of their own, the
    # resolver walks up to the batch or the GTIN
    variant = client.get(f"/01/{ROASTED[0]}/22/V1/10/{ROASTED[1]}", params={"linkType": "linkset"}).json()
    history = variant["linkset"][0][f"{VOC}traceability"][0]["href"]
    assert history.endswith(f"/batches/{ROASTED[0]}/{ROASTED[1]}/history")
    tpx = client.get(f"/01/{ROASTED[0]}/235/TPX1", follow_redirects=False)
    assert tpx.status_code == 307 and tpx.headers["location"].endswith(f"/products/{ROASTED[0]}")


def test_unknown_items_are_404_without_links(client: TestClient) -> None:
    for url in (path(UNKNOWN_GTIN), path(UNKNOWN_GTIN, "NOPE"), path(*ROASTED, "B9999")):
        for params in ({}, {"linkType": "linkset"}, {"linkType": "gs1:pip"}):
            response = client.get(url, params=params, follow_redirects=False)
            assert response.status_code == 404, (url, params)
            assert "linkset" not in links_of(response) and "location" not in response.headers
        assert client.get(url, headers={"Accept": LINKSET}).status_code == 404
    html = client.get(path(UNKNOWN_GTIN, "NOPE"), headers={"Accept": "text/html"})
    assert html.status_code == 404 and "possible counterfeit" in html.text
    events = client.get(path(UNKNOWN_GTIN, "NOPE"), headers={"Accept": "application/ld+json"})
    assert events.status_code == 404 and events.headers["content-type"].startswith("application/problem+json")
    assert "not registered" in events.json()["detail"]
    unit = client.get(path(*ROASTED, "B9999"), headers={"Accept": "application/json"})
    assert unit.status_code == 404 and unit.json()["verdict"]["level"] == "counterfeit"
    assert "never issued" in client.get(path(*ROASTED, "B9999"), params={"linkType": "linkset"}).json()["detail"]


def test_linkset_by_query_and_by_accept(client: TestClient) -> None:
    by_query = client.get(path(*ROASTED), params={"linkType": "linkset"}, follow_redirects=False)
    by_accept = client.get(path(*ROASTED), headers={"Accept": LINKSET}, follow_redirects=False)
    by_all = client.get(path(*ROASTED), params={"linkType": "all"}, follow_redirects=False)  # before 1.0
    for response in (by_query, by_accept, by_all):
        assert response.status_code == 200 and response.headers["content-type"].startswith(LINKSET)
    assert by_query.json() == by_accept.json() == by_all.json()
    links = by_query.json()["linkset"][0]
    assert links["anchor"].endswith(path(*ROASTED))
    for rel in ("pip", "traceability", "epcis", "certificationInfo", "defaultLink"):
        assert links[f"{VOC}{rel}"][0]["href"].startswith("http")
    assert links_of(by_accept)["http://www.w3.org/ns/json-ld#context"].startswith("https://")


def test_linkset_includes_every_level(client: TestClient) -> None:
    unit = client.get(path(*ROASTED, UNITS[3]), params={"linkType": "linkset"}).json()["linkset"][0]
    pips = [link["href"] for link in unit[f"{VOC}pip"]]
    # most specific first: the unit's page, the batch's page, the GTIN's batches
    assert [p.split("testserver", 1)[1] for p in pips] == [
        f"/verify{path(*ROASTED, UNITS[3])}",
        f"/verify{path(*ROASTED)}",
        f"/products/{ROASTED[0]}",
    ]
    assert f"{VOC}traceability" in unit and f"{VOC}epcis" in unit  # the batch's links, walked up to
    assert unit["itemDescription"] == f"Huila medium roast, whole bean, lot {ROASTED[1]}, serial {UNITS[3]}"


def test_linksets_valid_against_gs1_schema(client: TestClient) -> None:
    iana = {"text/html", "application/json", "application/ld+json", "application/linkset+json"}
    for url in (
        path(ROASTED[0]),
        path(*ROASTED),
        path(*ROASTED, UNITS[0]),
        path(ROASTED[0], "UNKNOWN-LOT"),
        path(*GREEN),
    ):
        body = client.get(url, params={"linkType": "linkset"}).json()
        jsonschema.validate(body, SCHEMA)
        for rel, links in body["linkset"][0].items():
            if rel in ("anchor", "itemDescription"):
                continue
            assert rel.startswith(VOC), rel  # GS1 Web vocabulary link types only
            for link in links:
                assert link["href"].startswith("http") and link["title"].strip()
                assert link.get("type", "text/html") in iana
    with pytest.raises(jsonschema.ValidationError):  # the schema is strict enough to catch an untitled link
        jsonschema.validate(
            {
                "linkset": [
                    {"anchor": "https://x", "itemDescription": "x", f"{VOC}defaultLink": [{"href": "https://x"}]}
                ]
            },
            SCHEMA,
        )


def test_default_link(client: TestClient) -> None:
    links = client.get(path(*ROASTED), params={"linkType": "linkset"}).json()["linkset"][0]
    default = links[f"{VOC}defaultLink"]
    assert len(default) == 1 and set(default[0]) == {"href", "title"}  # no optional attributes
    assert default[0]["href"] == links[f"{VOC}pip"][0]["href"]  # also described as gs1:pip
    for accept in (None, "*/*", "image/png"):
        response = client.get(path(*ROASTED), headers={"Accept": accept} if accept else {}, follow_redirects=False)
        assert response.status_code == 307 and response.headers["location"] == default[0]["href"]
        assert links_of(response)["linkset"].endswith(f"{path(*ROASTED)}?linkType=linkset")  # even when redirecting


def test_walk_up_from_unknown_lot_and_serial(client: TestClient) -> None:
    for url in (
        path(ROASTED[0], "UNKNOWN-LOT"),
        path(ROASTED[0], "UNKNOWN-LOT", "S1"),
        path(ROASTED[0], None, "S1"),
        path(ROASTED[0]),
    ):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 307 and response.headers["location"].endswith(f"/products/{ROASTED[0]}"), url
        body = client.get(url, params={"linkType": "linkset"}).json()["linkset"][0]
        assert body["anchor"].endswith(url) and body[f"{VOC}defaultLink"][0]["href"].endswith(f"/products/{ROASTED[0]}")
    products = client.get(f"/products/{ROASTED[0]}").json()
    # the shop's roast and the two lots roasted for the Shanghai order share the GTIN
    lots = {b["lot"]: b for b in products["batches"]}
    assert set(lots) == {ROASTED[1], *(lot for gtin, lot, _ in EXPORT_LOTS if gtin == ROASTED[0])}
    assert lots[ROASTED[1]]["uri"].endswith(path(*ROASTED))
    assert client.get(f"/products/{UNKNOWN_GTIN}").status_code == 404


def test_redirect_to_requested_type(client: TestClient) -> None:
    redirect = client.get(path(*ROASTED), params={"linkType": "gs1:traceability"}, follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"].split("?")[0].endswith(f"/batches/{ROASTED[0]}/{ROASTED[1]}/history")
    assert "linkset" in links_of(redirect)
    full = client.get(path(*ROASTED), params={"linkType": f"{VOC}epcis"}, follow_redirects=False)
    assert full.status_code == 307 and "/events?gtin=" in full.headers["location"]
    missing = client.get(path(*ROASTED), params={"linkType": "gs1:recipeInfo"}, follow_redirects=False)
    assert missing.status_code == 404 and "gs1:traceability" in missing.json()["detail"]
    gtin_level = client.get(path(ROASTED[0]), params={"linkType": "gs1:traceability"}, follow_redirects=False)
    assert gtin_level.status_code == 404  # the GTIN level has no traceability link


def test_query_string_is_passed_on(client: TestClient) -> None:
    response = client.get(f"{path(*ROASTED)}?17=261231&campaign=qr&linkType=gs1:traceability", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/history?17=261231&campaign=qr&linkType=gs1:traceability")
    default = client.get(f"{path(*ROASTED)}?campaign=qr", follow_redirects=False)
    assert default.headers["location"].endswith(f"/verify{path(*ROASTED)}?campaign=qr")
    epcis = client.get(f"{path(*ROASTED)}?campaign=qr&linkType=gs1:epcis", follow_redirects=False)
    assert epcis.headers["location"].endswith(f"lot={ROASTED[1]}&campaign=qr&linkType=gs1:epcis")


def test_trailing_slash_is_tolerated(client: TestClient) -> None:
    plain = client.get(path(*ROASTED), follow_redirects=False)
    slash = client.get(path(*ROASTED) + "/", follow_redirects=False)
    assert (plain.status_code, plain.headers["location"]) == (slash.status_code, slash.headers["location"])


def test_accept_language_and_hreflang(client: TestClient) -> None:
    body = client.get(path(*ROASTED), params={"linkType": "linkset"}).json()["linkset"][0]
    assert all(
        link["hreflang"] == (["en", "zh-CN"] if link["type"] == "text/html" else ["en"])
        for rel, links in body.items()
        if rel.startswith(VOC) and rel != f"{VOC}defaultLink"
        for link in links
    )
    # the page speaks English and Chinese: any other Accept-Language still gets the default link, never an error
    german = client.get(path(*ROASTED), headers={"Accept-Language": "de-CH, de;q=0.9"}, follow_redirects=False)
    assert german.status_code == 307 and german.headers["location"].endswith(f"/verify{path(*ROASTED)}")
    assert "accept-language" in german.headers["vary"].lower()


def test_description_file(client: TestClient) -> None:
    response = client.get("/.well-known/gs1resolver")
    body = response.json()
    standard_fields = {
        "name",
        "resolverRoot",
        "supportedPrimaryKeys",
        "supportedLinkType",
        "linkTypeDefaultCanBeLinkset",
        "supportedContextValuesEnumerated",
        "supportedContextValuesExternal",
        "extensionProfile",
        "jsonLdContextLocation",
        "contact",
        "termsOfUse",
    }
    assert set(body) <= standard_fields
    assert body["supportedPrimaryKeys"] == ["01"] and body["resolverRoot"] == "http://testserver"
    assert body["jsonLdContextLocation"].startswith("https://")
    assert body["supportedLinkType"] == [{"namespace": VOC, "prefix": "gs1:"}]
    assert client.head("/.well-known/gs1resolver").status_code == 200


def test_compressed_uri_resolves(client: TestClient) -> None:
    # /01/09506000134369/10/ROAST-2026-11-A/21/B0001 as GS1's DigitalLinkToolkit.js compresses it
    compressed, unit = "/CxFKk4XBwt6JwCSf22m3X2uvwBCi2AAI", path(*ROASTED, UNITS[0])
    assert UNITS[0] == "B0001"
    redirect = client.get(f"{compressed}?campaign=qr", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == f"http://testserver/verify{unit}?campaign=qr"
    assert links_of(redirect)["owl:sameAs"] == f"http://testserver{unit}"  # not redirected to it: exposed
    linkset = client.get(compressed, headers={"Accept": LINKSET})
    assert linkset.json()["linkset"][0]["anchor"] == f"http://testserver{unit}"  # the uncompressed URI
    jsonschema.validate(linkset.json(), SCHEMA)
    assert links_of(linkset)["owl:sameAs"] == f"http://testserver{unit}"
    page = client.get(compressed, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Verified on chain" in page.text
    assert client.options(compressed).status_code == 204
    # a single segment that does not decompress is not the resolver's business: 404, as any unknown path
    assert client.get("/not-a-compressed-uri").status_code == 404


# ---- scans and signatures ----


def test_scans_from_many_places_are_flagged(client: TestClient) -> None:
    url = path(*ROASTED, UNITS[5])
    levels = []
    for network in ("10.0.1.7", "10.0.2.7", "10.0.2.9", "10.0.3.7"):
        body = client.get(url, headers={"Accept": "application/json", "X-Forwarded-For": network}).json()
        assert client.app.state.ctx.scans.flush()  # scans are written in the background; the next sees this one
        levels.append((body["unit"]["scans"]["count"], body["unit"]["scans"]["places"], body["verdict"]["level"]))
    # 10.0.2.7 and 10.0.2.9 are one place (same /24); the third distinct place raises the flag
    assert levels == [(1, 1, "verified"), (2, 2, "verified"), (3, 2, "verified"), (4, 3, "warning")]
    assert "scanned in 3 different places" in body["unit"]["scans"]["message"]


def test_signature_check_endpoint(client: TestClient, demo_env) -> None:
    _, summary = demo_env
    uri, _, fragment = summary["label"]["signed_uri"].partition("#sig=")
    ok = client.post("/verify/signature", json={"uri": uri, "signature": fragment}).json()
    assert ok["trusted"] is True and ok["registrant"] is True
    tampered = uri.replace(UNITS[0], UNITS[1])
    other = client.post("/verify/signature", json={"uri": tampered, "signature": fragment}).json()
    assert other["trusted"] is False
    assert client.post("/verify/signature", json={"uri": uri, "signature": "0x12"}).status_code == 422


def test_signature_check_of_other_keys_is_not_a_500(client: TestClient, demo_env) -> None:
    _, summary = demo_env
    _, _, fragment = summary["label"]["signed_uri"].partition("#sig=")
    for uri in (
        "https://example.com/8004/9520614141234567?01=09520123456788",
        "https://id.gs1.org/414/9520123456788?01=09506000134369",
    ):
        response = client.post("/verify/signature", json={"uri": uri, "signature": fragment})
        assert response.status_code == 200 and response.json()["registrant"] is False, response.text
    bad = client.post("/verify/signature", json={"uri": "https://id.gs1.org/01/9506000134352", "signature": fragment})
    assert bad.status_code == 400 and "must have 14 digits" in bad.json()["detail"]


_SEGMENTS = st.one_of(
    st.sampled_from(
        [
            "01",
            "10",
            "21",
            "22",
            "235",
            "00",
            "414",
            "254",
            "8004",
            "8003",
            "7040",
            ROASTED[0],
            ROASTED[1],
            UNITS[0],
            "9506000134352",
            "106141412345678908",
            "9520123456788",
            "%2F",
            "%FF",
            "",
            "foo",
        ]
    ),
    st.text(alphabet="ABCDEFabcdef0123456789-_.~%", max_size=24),
)
_QUERIES = st.lists(
    st.tuples(
        st.sampled_from(["linkType", "17", "99", "89", "01", "10", "context", "x"]),
        st.sampled_from(["linkset", "all", "gs1:pip", "gs1:epcis", "gs1:nope", "261231", "", "%ZZ", ROASTED[1]]),
    ),
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segments=st.lists(_SEGMENTS, min_size=1, max_size=7),
    query=_QUERIES,
    accept=st.sampled_from([None, "text/html", "application/json", LINKSET, "application/ld+json", "*/*"]),
    method=st.sampled_from(["GET", "HEAD", "OPTIONS"]),
)
def test_generated_requests_never_fail_the_server(
    client: TestClient, segments: list[str], query: list[tuple[str, str]], accept: str | None, method: str
) -> None:
    assume(segments[0] != "")  # "//..." would name a host, not a path
    url = "/" + "/".join(segments) + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    response = client.request(method, url, headers={"Accept": accept} if accept else {}, follow_redirects=False)
    assert response.status_code < 500, (method, url, response.text[:300])
    if len(segments) > 1 and segments[0] in ("01", "00", "414", "8004", "8003"):  # the resolver's routes: CORS
        assert response.headers.get("access-control-allow-origin") == "*", (method, url, response.status_code)
    if response.status_code == 200 and response.headers.get("content-type", "").startswith(LINKSET):
        jsonschema.validate(response.json(), SCHEMA)
