"""The consumer's view in a real browser: Debian Chromium driven by Playwright at a phone viewport.

Story data comes from the demo (a real chain, a real index); the QR code is rendered, decoded and opened
like a phone camera would. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from qr import decode, digital_link, render_png, sign_uri
from tests.conftest import ROOT, free_port
from trace_api import domain
from trace_api.chain import node
from trace_api.chain.accounts import dev_account
from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.services import batches
from trace_api.services.context import TraceContext
from trace_api.services.demo import GREEN, ROASTED, UNITS, run_story

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("chromium is required in CI: `make sysdeps` installs the Debian package")
    pytest.skip("Debian chromium not installed (make sysdeps)", allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("e2e-home")
    settings = Settings(home=home, node_port=free_port())
    node.start(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    summary = run_story(settings, domain=base)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield {"settings": settings, "base": base, "summary": summary}
    finally:
        server.should_exit = True
        thread.join(10)
        node.stop(settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _open(browser: Any, url: str, *, js: bool = True, **options: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(**PHONE, java_script_enabled=js, **options)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, response, requested


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_scanned_label_shows_the_verified_journey(served: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    # The label as printed: a signed unit URI rendered to PNG, read back as a phone camera would.
    uri = sign_uri(digital_link.unit_uri(*ROASTED, UNITS[0], domain=served["base"]), dev_account("processor").key)
    label = tmp_path / "label.png"
    render_png(uri, label)
    scanned = decode(label)
    assert scanned == uri

    page, response, requested = _open(browser, scanned)
    assert response.status == 200
    assert page.locator("#verdict h1").inner_text().endswith("Verified on chain")
    # The whole journey: the farm's batch first, then the roast, each headed by its batch and linked to its page.
    groups = page.locator("section.group")
    assert groups.count() == 2
    farm, roast = groups.nth(0), groups.nth(1)
    assert farm.get_attribute("data-batch") == f"{GREEN[0]}/{GREEN[1]}"
    assert farm.locator("h3 a").get_attribute("href") == f"/verify{digital_link.key_path(*GREEN)}"
    assert [t.strip() for t in farm.locator("li.event .step").all_text_contents()] == [
        "Commissioned",
        "Inspected",
        "Shipped",
        "Received",
    ]
    assert [t.strip() for t in roast.locator("li.event .step").all_text_contents()] == [
        "Roasted",
        "Commissioned — active",
        "Shipped",
        "Received",
        "On sale in the shop",
    ]
    assert page.locator("li.event[data-status=verified]").count() == 9
    assert page.locator("#journey-count").inner_text() == "9 of 9 steps verified on chain"
    times = page.locator("li.event time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert times == sorted(times)  # ordered in time, farm to shelf
    # Parties by their vouched-for organisation; places by name with the GLN as detail.
    first = farm.locator("li.event").first
    assert "Finca La Esperanza SAS (Colombia) ✓ verified organisation" in first.locator(".by").inner_text()
    assert "Finca La Esperanza, Huila (CO) (GLN 9506000134000)" in first.inner_text()
    assert "Rotterdam Roasters BV" in roast.locator("li.event").first.locator(".by").inner_text()
    # The organic certificate, on the bag's page.
    certificate = farm.locator(".doc")
    assert certificate.count() == 1
    assert "Organic certificate (EU 2018/848)" in certificate.inner_text()
    assert "Issued by Andes Organic Certification Ltda" in certificate.inner_text()
    assert "to November 30, 2027" in certificate.locator(".validity").inner_text()
    assert "24 serialised units issued" in page.locator("#product").inner_text()
    assert page.locator("#product").get_by_text("Huila medium roast, whole bean").is_visible()
    footer = page.locator("footer")
    assert "trace verify" not in footer.inner_text()
    assert (
        footer.get_by_role("link", name="Verified history (JSON)").get_attribute("href")
        == f"/batches/{ROASTED[0]}/{ROASTED[1]}/history"
    )
    # The signature travelled in the fragment: checked by the page's script, never sent in the URL.
    page.wait_for_function("document.getElementById('signature').textContent.includes('✓')")
    assert all("sig=" not in r.split("#")[0] for r in requested)
    assert all(r.startswith(served["base"]) for r in requested), requested  # no CDN, nothing external
    _shot(page, "verify-page.png")


def test_sensor_chart_carries_every_anchored_reading(served: dict[str, Any], browser: Any) -> None:
    page, response, _ = _open(browser, digital_link.batch_uri(*GREEN, domain=served["base"]))
    assert response.status == 200
    sensors = page.locator(".sensors")
    assert "1,000 readings" in sensors.inner_text() and "1,000 verified by Merkle proof" in sensors.inner_text()
    chart = sensors.locator("svg.sensor-chart")
    assert chart.count() == 1 and chart.is_visible()
    assert chart.get_attribute("data-points") == "1000"
    vertices = chart.locator("polyline.readings").get_attribute("points").split()
    assert len(vertices) == 1000
    assert chart.locator("rect.allowed").count() == 1 and chart.locator("circle.excursion").count() == 0
    # The numbers drawn are the anchored readings: the same values, in the same order, as the JSON's series.
    import httpx

    body = httpx.get(f"{served['base']}{digital_link.key_path(*GREEN)}", headers={"Accept": "application/json"}).json()
    series = body["journey"]["groups"][0]["sensors"]["series"][0]
    values = [v for _, v in series["readings"]]
    assert len(values) == 1000 and f"{min(values):g} – {max(values):g} °C" in sensors.inner_text()
    # Each vertex's height is one linear function of its reading (to the SVG's 0.1 px rounding).
    ys = [float(v.split(",")[1]) for v in vertices]
    low, high = values.index(min(values)), values.index(max(values))
    scale = (ys[high] - ys[low]) / (values[high] - values[low])
    assert scale < 0  # SVG y grows downwards
    assert all(abs(ys[low] + scale * (v - values[low]) - y) <= 0.15 for v, y in zip(values, ys, strict=False))
    _shot(page, "verify-page-green.png")


def test_document_hash_is_checked_in_the_browser(served: dict[str, Any], browser: Any) -> None:
    page, _, _ = _open(browser, digital_link.unit_uri(*ROASTED, UNITS[2], domain=served["base"]))
    button = page.locator("button.check-doc")
    assert button.count() == 1
    result = page.locator(".doc-check")
    button.click()
    page.wait_for_function("document.querySelector('.doc-check').dataset.result !== undefined")
    assert result.get_attribute("data-result") == "match"
    assert result.inner_text() == "✓ The file matches the fingerprint recorded on chain."
    # Someone swaps the stored file: the browser's own SHA-256 no longer equals the hash under the event.
    sha256 = button.get_attribute("data-sha256")
    stored = served["settings"].home / "documents" / sha256[2:]
    original = stored.read_bytes()
    stored.write_bytes(original.replace(b"2027-11-30", b"2029-11-30"))
    try:
        page, _, _ = _open(browser, digital_link.unit_uri(*ROASTED, UNITS[2], domain=served["base"]))
        page.locator("button.check-doc").click()
        page.wait_for_function("document.querySelector('.doc-check').dataset.result !== undefined")
        assert page.locator(".doc-check").get_attribute("data-result") == "mismatch"
        assert "does NOT match" in page.locator(".doc-check").inner_text()
        _shot(page, "verify-page-tampered-document.png")
    finally:
        stored.write_bytes(original)


def test_chinese_when_the_browser_asks_for_it(served: dict[str, Any], browser: Any) -> None:
    page, response, _ = _open(browser, digital_link.unit_uri(*ROASTED, UNITS[3], domain=served["base"]), locale="zh-CN")
    assert response.status == 200 and response.headers["content-language"] == "zh-CN"
    assert page.locator("html").get_attribute("lang") == "zh-Hans-CN"
    assert page.locator("#verdict h1").inner_text() == "✓ 已在区块链上验证"
    assert page.locator("#timeline h2").inner_text() == "溯源历程"
    assert "2026年" in page.locator("li.event time").first.inner_text()
    assert "已认证机构" in page.locator(".by").first.inner_text()
    assert "哥伦比亚" in page.locator(".by").first.inner_text()  # country names in Chinese too
    _shot(page, "verify-page-zh.png")
    # The visible switch: English, whatever the browser says.
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#verdict h1").inner_text() == "✓ Verified on chain"
    assert page.locator("html").get_attribute("lang") == "en"


def test_no_serious_accessibility_violations(served: dict[str, Any], browser: Any) -> None:
    axe = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    assert axe.is_file(), "axe-core is a devDependency: npm ci"
    for url, options in [
        (digital_link.unit_uri(*ROASTED, UNITS[4], domain=served["base"]), {}),
        (digital_link.batch_uri(*GREEN, domain=served["base"]), {}),
        (digital_link.unit_uri(*ROASTED, UNITS[4], domain=served["base"]), {"locale": "zh-CN"}),
        (digital_link.unit_uri(*ROASTED, "B9999", domain=served["base"]), {}),
        (f"{served['base']}/01/09506000134353/10/X", {}),  # the resolver's HTML error
    ]:
        page, _, _ = _open(browser, url, bypass_csp=True, extra_http_headers={"Accept": "text/html"}, **options)
        page.add_script_tag(path=str(axe))
        results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], (url, options, serious)


def test_works_without_javascript(served: dict[str, Any], browser: Any) -> None:
    page, response, _ = _open(browser, digital_link.batch_uri(*ROASTED, domain=served["base"]), js=False)
    assert response.status == 200
    assert page.locator("li.event[data-status=verified]").count() == 8  # 4 of the farm's batch, 4 of the roast
    assert page.locator("svg.sensor-chart").count() == 1  # drawn on the server


def test_unknown_serial_is_a_possible_counterfeit(served: dict[str, Any], browser: Any) -> None:
    page, response, _ = _open(browser, digital_link.unit_uri(*ROASTED, "B9999", domain=served["base"]))
    assert response.status == 404
    assert "possible counterfeit" in page.locator("#verdict").inner_text()
    assert "never issued" in page.locator("#verdict").inner_text()
    # The verdict and what to do; nothing of the real batch's journey to lend the copied code credibility.
    assert "Do not eat, drink or use this product." in page.locator("#advice").inner_text()
    assert page.locator("#timeline, #product, li.event, .sensors").count() == 0
    assert "✓" not in page.locator("main").inner_text()
    _shot(page, "verify-page-counterfeit.png")


def test_tampered_index_row_shows_a_cross(served: dict[str, Any], browser: Any) -> None:
    from sqlalchemy import select, update

    from trace_api.index import schema as t
    from trace_api.index.store import get_engine

    engine = get_engine(served["settings"])
    key = domain.batch_key(*ROASTED)
    with engine.begin() as conn:
        row = conn.execute(
            select(t.epcis_events.c.event_hash, t.epcis_events.c.body)
            .join(t.event_batches, t.event_batches.c.event_hash == t.epcis_events.c.event_hash)
            .where(t.event_batches.c.batch_id == key.id_hex, t.epcis_events.c.biz_step == "shipping")
        ).one()
        body = json.loads(row.body)
        original = row.body
        body["readPoint"] = {"id": "https://id.gs1.org/414/9506000134048"}  # someone edits where it shipped from
        conn.execute(
            update(t.epcis_events).where(t.epcis_events.c.event_hash == row.event_hash).values(body=json.dumps(body))
        )
    try:
        page, response, _ = _open(browser, digital_link.batch_uri(*ROASTED, domain=served["base"]))
        assert response.status == 200
        crossed = page.locator("li.event[data-status=mismatch]")
        assert crossed.count() == 1
        assert crossed.locator(".mark").inner_text() == "✗"
        assert "does not match" in page.locator("#verdict").inner_text()
        _shot(page, "verify-page-tampered.png")
    finally:
        with engine.begin() as conn:
            conn.execute(
                update(t.epcis_events).where(t.epcis_events.c.event_hash == row.event_hash).values(body=original)
            )


def test_recalled_upstream_shows_the_banner(served: dict[str, Any], browser: Any) -> None:
    settings = served["settings"]
    ctx = TraceContext.open(settings, autostart=False)
    batches.recall_batch(
        ctx,
        source="test",
        account=dev_account("producer"),
        gtin=GREEN[0],
        lot=GREEN[1],
        reason="aflatoxin above the legal limit",
    )
    page, response, _ = _open(browser, digital_link.unit_uri(*ROASTED, UNITS[1], domain=served["base"]))
    assert response.status == 200
    banner = page.locator("#verdict.recalled")
    assert banner.is_visible() and "RECALLED" in banner.inner_text()
    recall = page.locator("#recall")
    assert "aflatoxin above the legal limit" in recall.inner_text()
    assert "matches the reason recorded on chain" in recall.inner_text()
    assert recall.locator("time").get_attribute("datetime").startswith(str(datetime.date.today().year))
    assert "Take it back to the shop" in recall.inner_text()
    assert page.locator("section.group.upstream .recalled-mark").is_visible()
    _shot(page, "verify-page-recalled.png")
