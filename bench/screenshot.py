"""`python -m bench.screenshot`: the demo bag's scan page as a phone shows it (390 px wide), English and Chinese,
written to bench/out/ for a reviewer to look at. Debian Chromium through Playwright; no network."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from qr import digital_link
from trace_api.chain import node
from trace_api.chain.node import free_port
from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.services.demo import ROASTED, UNITS, run_story

OUT = Path(__file__).with_name("out")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = {"verify-page-390.png": "en-GB", "verify-page-390-zh.png": "zh-CN"}


def main() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="trace-shot-") as tmp:
        settings = Settings(home=Path(tmp) / "home", node_port=free_port(), resolver_rate_per_minute=0)
        node.start(settings)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        try:
            run_story(settings, domain=base)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            OUT.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                for name, locale in SHOTS.items():
                    context = browser.new_context(
                        viewport={"width": 390, "height": 844},
                        device_scale_factor=2,
                        is_mobile=True,
                        has_touch=True,
                        locale=locale,
                    )
                    page = context.new_page()
                    page.goto(digital_link.unit_uri(*ROASTED, UNITS[0], domain=base))
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(OUT / name), full_page=True)
                    print(f"wrote {OUT / name}")
                    context.close()
                browser.close()
        finally:
            server.should_exit = True
            if thread.is_alive():
                thread.join(10)
            node.stop(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
