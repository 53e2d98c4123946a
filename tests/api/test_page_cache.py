"""The resolver's answers are computed once per index version and reused; ETag, Cache-Control and 304.

The server is made to never poll the chain itself (index_poll_seconds is huge): what it serves can only change
because the index moved. The writes come from another process (the `trace` CLI, which indexes what it wrote) or
through the app's own write routes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import trace_ok
from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.index.store import get_engine
from trace_api.services import apikeys
from trace_api.services.demo import ROASTERY_GLN

GTIN = "09506000134352"
HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def app_settings(trace_session_settings: Settings) -> Settings:
    return trace_session_settings.model_copy(update={"index_poll_seconds": 3600.0, "resolver_rate_per_minute": 0})


@pytest.fixture(scope="module")
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as c:
        yield c


@pytest.fixture
def env(app_settings: Settings) -> dict[str, str]:
    return {"TRACE_HOME": str(app_settings.home), "TRACE_NODE_PORT": str(app_settings.node_port)}


def new_batch(env: dict[str, str]) -> str:
    lot = "C" + uuid.uuid4().hex[:10].upper()
    trace_ok(env, "batch", "register", "--gtin", GTIN, "--lot", lot, "--product", "Green coffee")
    trace_ok(env, "event", "add", GTIN, lot, "--step", "commissioning", "--location", "9506000134000")
    return lot


def computed(client: TestClient) -> int:
    return client.app.state.ctx.histories.computed  # type: ignore[attr-defined]


def test_answers_are_reused_until_the_index_moves(client: TestClient, env: dict[str, str]) -> None:
    lot = new_batch(env)
    url = f"/01/{GTIN}/10/{lot}"
    first = client.get(url, headers=JSON)
    assert first.status_code == 200 and len(first.json()["timeline"]) == 1
    before = computed(client)
    for _ in range(5):
        again = client.get(url, headers=JSON)
        assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert computed(client) == before  # the history was not computed again
    # Another process records a step and indexes it: the very next request sees it, under a new ETag.
    trace_ok(env, "event", "add", GTIN, lot, "--step", "commissioning", "--location", ROASTERY_GLN)
    moved = client.get(url, headers=JSON)
    assert [e["where"][-13:] for e in moved.json()["timeline"]] == ["9506000134000", ROASTERY_GLN]
    assert moved.headers["etag"] != first.headers["etag"]


def test_a_recall_shows_on_the_next_request_and_changes_the_etag(client: TestClient, env: dict[str, str]) -> None:
    lot = new_batch(env)
    url = f"/verify/01/{GTIN}/10/{lot}"
    page = client.get(url)
    assert page.status_code == 200 and "RECALLED" not in page.text
    assert client.get(url, headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    trace_ok(env, "batch", "recall", GTIN, lot, "--reason", "Salmonella found in a sample")
    recalled = client.get(url, headers={"If-None-Match": page.headers["etag"]})
    assert recalled.status_code == 200 and "RECALLED" in recalled.text
    assert recalled.headers["etag"] != page.headers["etag"]
    assert client.get(f"/01/{GTIN}/10/{lot}", headers=JSON).json()["verdict"]["level"] == "recalled"


def test_writes_through_the_app_show_at_once(client: TestClient, app_settings: Settings) -> None:
    key = apikeys.create_key(get_engine(app_settings), organisation="Farm Co", account="producer")
    auth = {"Authorization": f"Bearer {key}"}
    lot = "W" + uuid.uuid4().hex[:10].upper()
    assert client.post("/batches", json={"gtin": GTIN, "lot": lot}, headers=auth).status_code == 201
    url = f"/01/{GTIN}/10/{lot}"
    assert client.get(url, headers=JSON).json()["timeline"] == []
    assert client.post(f"/batches/{GTIN}/{lot}/events", json={"step": "commissioning"}, headers=auth).status_code == 201
    assert len(client.get(url, headers=JSON).json()["timeline"]) == 1


def test_etag_cache_control_and_304(client: TestClient, env: dict[str, str]) -> None:
    lot = new_batch(env)
    for url, headers in (
        (f"/01/{GTIN}/10/{lot}", HTML),
        (f"/01/{GTIN}/10/{lot}", JSON),
        (f"/verify/01/{GTIN}/10/{lot}", {}),
    ):
        full = client.get(url, headers=headers)
        etag = full.headers["etag"]
        assert full.status_code == 200 and etag.startswith('"') and full.headers["cache-control"] == "public, no-cache"
        for held in (etag, f'"other", {etag}', f"W/{etag}", "*"):
            not_modified = client.get(url, headers={**headers, "If-None-Match": held})
            assert not_modified.status_code == 304 and not_modified.content == b""
            assert not_modified.headers["etag"] == etag and "public" in not_modified.headers["cache-control"]
            assert "Accept" in not_modified.headers["vary"]
        assert client.get(url, headers={**headers, "If-None-Match": '"other"'}).content == full.content
        head = client.head(url, headers=headers)
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    # the HTML page and the JSON summary are two representations: two ETags
    assert (
        client.get(f"/01/{GTIN}/10/{lot}", headers=HTML).headers["etag"]
        != client.get(f"/01/{GTIN}/10/{lot}", headers=JSON).headers["etag"]
    )


def test_an_unknown_batch_is_not_a_304(client: TestClient) -> None:
    url = f"/verify/01/{GTIN}/10/NOSUCHLOT"
    missing = client.get(url)
    assert missing.status_code == 404 and "etag" in missing.headers
    assert client.get(url, headers={"If-None-Match": missing.headers["etag"]}).status_code == 404


def test_answers_with_an_api_key_are_private_and_not_shared(
    client: TestClient, app_settings: Settings, env: dict[str, str]
) -> None:
    lot = new_batch(env)
    key = apikeys.create_key(get_engine(app_settings), organisation="Farm Co", account="producer")
    mine = client.get(f"/01/{GTIN}/10/{lot}", headers={**JSON, "Authorization": f"Bearer {key}"})
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-cache"
    assert client.get(f"/01/{GTIN}/10/{lot}", headers=JSON).headers["cache-control"] == "public, no-cache"


def test_a_reorg_to_the_same_height_is_a_new_version(app_settings: Settings, env: dict[str, str]) -> None:
    from trace_api.index import schema as t
    from trace_api.services.snapshots import index_version

    engine = get_engine(app_settings)
    number, block_hash, _ = index_version(engine)
    assert number is not None and block_hash is not None
    with engine.begin() as conn:  # what a rollback and a new read to the same height leave: another hash
        conn.execute(t.blocks.update().where(t.blocks.c.number == number).values(hash="0x" + "ab" * 32))
    try:
        assert index_version(engine)[:2] == (number, "0x" + "ab" * 32)
    finally:
        with engine.begin() as conn:
            conn.execute(t.blocks.update().where(t.blocks.c.number == number).values(hash=block_hash))


def test_the_index_poller() -> None:
    import threading

    from trace_api.services.snapshots import IndexPoller

    now = [0.0]
    calls: list[str] = []
    ran = threading.Event()
    poller = IndexPoller(1.0, clock=lambda: now[0])
    poller.poke(lambda: calls.append(threading.current_thread().name))
    poller.poke(lambda: calls.append("again"))
    assert calls == [threading.current_thread().name]  # the first in the caller's thread, then not within 1 s
    now[0] = 1.5
    poller.poke(lambda: (calls.append(threading.current_thread().name), ran.set()))
    assert ran.wait(5) and calls[-1] == "index-poller"  # later ones in the background
    every = IndexPoller(0)
    every.poke(lambda: calls.append("now"))
    every.poke(lambda: calls.append("now"))
    assert calls[-2:] == ["now", "now"]


def test_kept_answers_still_spend_the_clients_tokens(app_settings: Settings, env: dict[str, str]) -> None:
    lot = new_batch(env)
    url = f"/01/{GTIN}/10/{lot}"
    limited = app_settings.model_copy(update={"resolver_rate_per_minute": 3, "trust_proxy": True})
    with TestClient(create_app(limited)) as client:
        one = {**JSON, "X-Forwarded-For": "192.0.2.1"}
        assert [client.get(url, headers=one).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert client.get(url, headers={**JSON, "X-Forwarded-For": "192.0.2.2"}).status_code == 200  # per client
        assert client.get(url, headers={**one, "If-None-Match": "*"}).status_code == 429  # a 304 costs one too


def test_one_request_rebuilds_a_page_whose_scans_moved() -> None:
    from starlette.requests import Request

    from trace_api.http.cache import CLAIM_SECONDS, Route, Routes, front_key

    now = [0.0]
    routes = Routes(clock=lambda: now[0])
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/01/x",
            "raw_path": b"/01/x",
            "query_string": b"",
            "headers": [(b"host", b"t"), (b"accept", b"text/html")],
            "scheme": "http",
            "server": ("t", 80),
            "root_path": "",
        }
    )
    key = front_key(request)
    assert routes.claim(key) and not routes.claim(key)  # the others are sent the previous page meanwhile
    routes.remember(request, Route(("dl", "text/html"), ("0xbatch", "B1"), "new key"))
    assert routes.get(key) is not None and routes.get(key).last == "new key"
    assert routes.claim(key)  # the rebuild reported back: the next change is claimed again
    now[0] += CLAIM_SECONDS
    assert routes.claim(key)  # a rebuild that never reported back does not block forever
