"""The consumer's view in a real browser: Debian Chromium driven by Playwright at a phone viewport.

Story data comes from the demo (a real chain, a real index); the QR code is rendered, decoded and opened
like a phone camera would. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

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
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]

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


def _open(browser: Any, url: str, *, js: bool = True) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(**PHONE, java_script_enabled=js)
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
    texts = [t.strip() for t in page.locator("li.event .step").all_text_contents()]
    assert texts == ["transformed (roasting)", "commissioning — active", "shipping", "receiving", "retail selling"]
    assert page.locator("li.event[data-status=verified]").count() == 5
    assert "24 serialised units issued" in page.locator("#product").inner_text()
    assert page.locator("#product").get_by_text("Huila medium roast, whole bean").is_visible()
    assert page.locator("#lineage").get_by_text(f"{GREEN[0]} / {GREEN[1]}").is_visible()
    # The signature travelled in the fragment: checked by the page's script, never sent in the URL.
    page.wait_for_function("document.getElementById('signature').textContent.includes('✓')")
    assert all("sig=" not in r.split("#")[0] for r in requested)
    assert all(r.startswith(served["base"]) for r in requested), requested  # no CDN, nothing external
    _shot(page, "verify-page.png")


def test_upstream_page_with_documents_and_sensors(served: dict[str, Any], browser: Any) -> None:
    page, response, _ = _open(browser, digital_link.batch_uri(*GREEN, domain=served["base"]))
    assert response.status == 200
    badges = page.locator("[data-doc]")
    assert badges.count() == 1 and badges.first.inner_text().endswith("hash verified")
    assert "1000 readings" in page.locator("#sensors").inner_text()
    assert "1000 verified" in page.locator("#sensors").inner_text()
    _shot(page, "verify-page-green.png")


def test_works_without_javascript(served: dict[str, Any], browser: Any) -> None:
    page, response, _ = _open(browser, digital_link.batch_uri(*ROASTED, domain=served["base"]), js=False)
    assert response.status == 200
    assert page.locator("li.event[data-status=verified]").count() == 4


def test_unknown_serial_is_a_possible_counterfeit(served: dict[str, Any], browser: Any) -> None:
    page, response, _ = _open(browser, digital_link.unit_uri(*ROASTED, "B9999", domain=served["base"]))
    assert response.status == 404
    assert "possible counterfeit" in page.locator("#verdict").inner_text()
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
        conn.execute(update(t.epcis_events).where(t.epcis_events.c.event_hash == row.event_hash)
                     .values(body=json.dumps(body)))
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
            conn.execute(update(t.epcis_events).where(t.epcis_events.c.event_hash == row.event_hash)
                         .values(body=original))


def test_recalled_upstream_shows_the_banner(served: dict[str, Any], browser: Any) -> None:
    settings = served["settings"]
    ctx = TraceContext.open(settings, autostart=False)
    batches.recall_batch(ctx, account=dev_account("producer"), gtin=GREEN[0], lot=GREEN[1],
                         reason="aflatoxin above the legal limit")
    page, response, _ = _open(browser, digital_link.unit_uri(*ROASTED, UNITS[1], domain=served["base"]))
    assert response.status == 200
    banner = page.locator("#verdict.recalled")
    assert banner.is_visible() and "RECALLED" in banner.inner_text()
    assert page.locator("#lineage").get_by_text("recalled").is_visible()
    _shot(page, "verify-page-recalled.png")
