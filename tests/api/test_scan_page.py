"""The scan page's data and its HTML, as served: the whole journey in the JSON, the counts matching what is listed,
a counterfeit answer without any journey, public documents downloadable but never runnable, the resolver's HTML
errors in the reader's language."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.services.demo import GREEN, ROASTED, UNITS

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def client(demo_env) -> Iterator[TestClient]:
    env, _ = demo_env
    settings = Settings(home=Path(env["TRACE_HOME"]), node_port=int(env["TRACE_NODE_PORT"]), resolver_rate_per_minute=0)
    with TestClient(create_app(settings)) as c:
        c.home = Path(env["TRACE_HOME"])  # type: ignore[attr-defined]
        yield c


def path(gtin: str, lot: str, serial: str | None = None) -> str:
    return f"/01/{gtin}/10/{lot}" + (f"/21/{serial}" if serial else "")


def test_json_holds_the_whole_journey(client: TestClient) -> None:
    body = client.get(path(*ROASTED, UNITS[20]), headers=JSON).json()
    trip = body["journey"]
    assert [(g["gtin"], g["lot"], g["depth"]) for g in trip["groups"]] == [(*GREEN, 1), (*ROASTED, 0)]
    farm, roast = trip["groups"]
    assert [e["biz_step"] for e in farm["steps"]] == ["commissioning", "inspecting", "shipping", "receiving"]
    assert [e["type"] for e in roast["steps"]][0] == "TransformationEvent"
    # the transformation belongs to both batches; it is told once, with the batch it made
    hashes = [e["event_hash"] for g in trip["groups"] for e in g["steps"]]
    assert len(hashes) == len(set(hashes))
    # counts are of what is listed
    assert trip["steps"] == len(hashes) == 9 and trip["verified_steps"] == 9
    assert all(g["verified_steps"] == len(g["steps"]) for g in trip["groups"])
    # every verified step's actor is a vouched-for organisation; places are named
    assert {trip["parties"][e["actor"]]["name"] for g in trip["groups"] for e in g["steps"]} == {
        "Finca La Esperanza SAS",
        "Andes Organic Certification Ltda",
        "Rotterdam Roasters BV",
        "Corner Coffee Shop BV",
    }
    assert trip["places"]["9506000134000"] == "Finca La Esperanza, Huila (CO)"
    certificate = farm["steps"][1]["documents"][0]
    assert certificate["type"] == "Organic certificate (EU 2018/848)" and certificate["valid_until"] == "2027-11-30"
    assert certificate["issuer"] == "Andes Organic Certification Ltda" and certificate["verified"]
    series = farm["sensors"]["series"][0]
    assert (series["type"], series["unit"], series["count"], series["excursions"]) == ("Temperature", "°C", 1000, 0)
    assert (series["low"], series["high"]) == (15, 25) and len(series["readings"]) == 1000
    assert roast["sensors"] is None and trip["recalls"] == []


def test_counterfeit_answer_has_no_journey(client: TestClient) -> None:
    response = client.get(path(*ROASTED, "B9999"), headers=JSON)
    assert response.status_code == 404
    body = response.json()
    assert body["verdict"]["level"] == "counterfeit" and "never issued" in body["verdict"]["detail"]
    assert not {"journey", "timeline", "parents", "children", "hash_chain"} & set(body)
    page = client.get(path(*ROASTED, "B9999"), headers=HTML)
    assert page.status_code == 404 and 'id="advice"' in page.text
    assert 'class="event"' not in page.text and "Finca La Esperanza" not in page.text


def test_page_counts_match_the_rows(client: TestClient) -> None:
    page = client.get(path(*ROASTED, UNITS[21]), headers=HTML).text
    rows = page.count('<li class="event"')
    assert rows == 9 and "9 of 9 steps verified on chain" in page
    assert "4 of 4 steps verified" in page and "5 of 5 steps verified" in page
    assert "trace verify" not in page  # the footer speaks to shoppers


def test_language_by_header_and_by_switch(client: TestClient) -> None:
    zh = client.get(path(*ROASTED, UNITS[21]), headers={**HTML, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert (
        zh.headers["content-language"] == "zh-CN"
        and "已在区块链上验证" in zh.text
        and "accept-language" in zh.headers["vary"].lower()
    )
    assert "2026年" in zh.text or "2027年" in zh.text  # dates in the Chinese form
    switched = client.get(
        path(*ROASTED, UNITS[21]), params={"lang": "en"}, headers={**HTML, "Accept-Language": "zh-CN"}
    )
    assert switched.headers["content-language"] == "en" and "Verified on chain" in switched.text
    assert 'hreflang="zh-CN"' in switched.text  # the visible switch back


def test_resolver_html_errors_speak_the_readers_language(client: TestClient) -> None:
    bad = client.get("/01/09506000134353/10/X", headers={**HTML, "Accept-Language": "zh-CN"})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert "无法识别此码" in bad.text and "invalid check digit" in bad.text  # the technical detail, kept
    unknown = client.get("/01/09506000134376", headers=HTML, follow_redirects=False)
    assert unknown.status_code == 404 and "Nothing is known about this code" in unknown.text
    # machines still get problem+json
    assert client.get("/01/09506000134353/10/X").headers["content-type"].startswith("application/problem+json")


def test_public_document_download(client: TestClient) -> None:
    certificate = client.get(path(*GREEN), headers=JSON).json()["journey"]["groups"][0]["steps"][1]["documents"][0]
    response = client.get(f"/documents/{certificate['sha256']}")
    assert response.status_code == 200
    assert "0x" + hashlib.sha256(response.content).hexdigest() == certificate["sha256"]
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/documents/0x" + "ab" * 32).status_code == 404
    assert client.get("/documents/not-a-hash").status_code == 422


def test_documents_are_never_served_as_something_a_browser_runs(client: TestClient) -> None:
    from trace_api.index.store import get_engine
    from trace_api.services import documents

    settings = Settings(home=client.home, resolver_rate_per_minute=0)  # type: ignore[attr-defined]
    ctx = type("Ctx", (), {"settings": settings, "engine": get_engine(settings)})()
    script = client.home / "evil.html"  # type: ignore[attr-defined]
    script.write_text("<script>alert(document.cookie)</script>")
    prepared = documents.prepare(settings, path=script, private=False, recipients=[])
    documents.commit(ctx, prepared, owner="0x" + "11" * 20)
    served = client.get(f"/documents/{prepared.info['sha256']}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-security-policy"] == "sandbox"
    secret = client.home / "deal.txt"  # type: ignore[attr-defined]
    secret.write_text("price 4.10 USD/kg")
    private = documents.prepare(settings, path=secret, private=True, recipients=["0x" + "22" * 20])
    documents.commit(ctx, private, owner="0x" + "11" * 20)
    assert client.get(f"/documents/{private.info['sha256']}").status_code == 403
