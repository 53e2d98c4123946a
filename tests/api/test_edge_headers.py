"""Security headers on every response, a CSP without inline script, and no reflection of the Host header.

Issue 16: no CSP, nosniff or frame-ancestors; the Host header was reflected into redirects and resolverRoot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trace_api.config import Settings
from trace_api.http.app import create_app

GTIN = "09506000134352"
EVIL = {"Host": "evil.example"}


HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def lot(trace_session_settings: Settings) -> str:
    """A batch of GTIN registered for this module, so the resolver has links to redirect to."""
    import uuid

    from trace_api.chain.accounts import dev_account
    from trace_api.services import batches
    from trace_api.services.context import TraceContext

    name = "EDGE" + uuid.uuid4().hex[:8].upper()
    batches.register_batch(
        TraceContext.open(trace_session_settings), account=dev_account("producer"), gtin=GTIN, lot=name
    )
    return name


@pytest.fixture(scope="module")
def client(trace_session_settings: Settings, lot: str) -> Iterator[TestClient]:
    with TestClient(create_app(trace_session_settings)) as c:
        yield c


def _assert_secure(response: object, what: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, what
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") == "no-referrer", what
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if " " in part.strip())
    assert "'unsafe-inline'" not in directives.get("script-src", "'unsafe-inline'"), what
    assert "'unsafe-inline'" not in directives.get("style-src", "'unsafe-inline'"), what


def test_every_kind_of_response_carries_the_security_headers(client: TestClient) -> None:
    responses = {
        "health": client.get("/health"),
        "html page": client.get(f"/01/{GTIN}/10/NOPE", headers=HTML),
        "problem 404": client.get(f"/batches/{GTIN}/NOPE"),
        "problem 401 from the guard": client.post("/capture", content=b"{}"),
        "problem 400": client.get("/01/09506000134353/10/X"),
        "openapi": client.get("/openapi.json"),
        "static": client.get("/static/verify.js"),
        "unknown path": client.get("/nope"),
    }
    for what, response in responses.items():
        _assert_secure(response, what)
    docs = client.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"


def test_the_verify_page_has_no_inline_script_or_style(client: TestClient) -> None:
    page = client.get(f"/01/{GTIN}/10/NOPE", headers=HTML).text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page and " style=" not in page
    assert re.search(r'<script src="/static/verify\.js"', page)
    assert client.get("/static/verify.js").status_code == 200
    assert client.get("/static/verify.css").headers["content-type"].startswith("text/css")
    template = (Path(__file__).resolve().parents[2] / "trace_api/http/templates/verify.html").read_text()
    assert re.findall(r"<[^>]*\son[a-z]+\s*=", template) == []  # no inline event handlers either


def test_the_host_header_is_never_reflected(client: TestClient, lot: str) -> None:
    redirect = client.get(
        f"/01/{GTIN}/10/{lot}", params={"linkType": "gs1:traceability"}, headers=EVIL, follow_redirects=False
    )
    assert redirect.status_code == 307 and "evil.example" not in redirect.headers["location"]
    described = client.get("/.well-known/gs1resolver", headers=EVIL)
    assert "evil.example" not in described.text
    linkset = client.get(f"/01/{GTIN}/10/{lot}", params={"linkType": "all"}, headers=EVIL)
    assert "evil.example" not in linkset.text
    slash = client.get("/health/", headers=EVIL, follow_redirects=False)  # the router's trailing-slash redirect
    assert "evil.example" not in slash.headers.get("location", "")


def test_the_public_url_is_used_for_links(trace_session_settings: Settings, lot: str) -> None:
    settings = trace_session_settings.model_copy(update={"public_url": "https://trace.example.org"})
    with TestClient(create_app(settings)) as client:
        described = client.get("/.well-known/gs1resolver", headers=EVIL).json()
        assert described["resolverRoot"].startswith("https://trace.example.org")
        redirect = client.get(
            f"/01/{GTIN}/10/{lot}", params={"linkType": "gs1:traceability"}, headers=EVIL, follow_redirects=False
        )
        assert redirect.headers["location"].startswith("https://trace.example.org/batches/")
        assert client.get("/health").headers["strict-transport-security"].startswith("max-age=")


def test_a_public_url_with_a_path_query_or_credentials_is_a_config_error() -> None:
    from trace_api.config import load_settings
    from trace_api.errors import ConfigError

    assert load_settings(env_file=None, public_url="https://trace.example.org/").public_url
    for bad in (
        "trace.example.org",
        "https://u:p@trace.example.org",
        "https://trace.example.org/x?y=1",
        "ftp://trace.example.org",
    ):
        with pytest.raises(ConfigError):
            load_settings(env_file=None, public_url=bad)
