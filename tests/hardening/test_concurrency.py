"""Concurrent writers with one organisation key, through a real `trace serve`, and the CLI in another process
signing with the same account at the same time.

No request may fail (a nonce collision surfaces as a 409 or 500), every transaction is mined once and succeeds,
the account's nonce advances by exactly the number of writes (no lost, doubled or gapped nonces), and every event a
writer got a 201 for is on chain (EventRecorded logs read with eth_getLogs) and verified in the index.

Then two runs that anchor at the same time (two captures of one document, a capture during `trace import`), in
this process with the interleaving that processes reach by chance made certain: each event must still be under
exactly one anchored root, and neither run may fail.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import run_trace
from tests.hardening import GTIN, logs_of, ok, rpc, settings_of, trace_server
from tests.pg import create_database, postgres_server  # noqa: F401 - fixture
from trace_api import domain
from trace_api.chain.accounts import dev_account
from trace_api.chain.client import connect
from trace_api.domain import hx
from trace_api.index import schema as t
from trace_api.index.store import make_engine
from trace_api.services import anchoring, batches, importer
from trace_api.services import events as ev
from trace_api.services import roots as rt
from trace_api.services.context import TraceContext

WRITERS = 8
BATCHES = 2  # per writer
EVENTS = 5  # per batch
STEPS = ("commissioning", "packing", "storing", "holding")  # what a producer may record while it holds custody
CLI_WRITES = 3


def _writer(client: httpx.Client, number: int, start: threading.Barrier, out: dict[str, Any]) -> None:
    start.wait()
    for b in range(BATCHES):
        lot = f"W{number}-{b}-{uuid.uuid4().hex[:6]}".upper()
        response = client.post("/batches", json={"gtin": GTIN, "lot": lot})
        out["responses"].append(response)
        if response.status_code != 201:
            continue
        for e in range(EVENTS):
            event = client.post(f"/batches/{GTIN}/{lot}/events", json={"step": STEPS[e % len(STEPS)]})
            out["responses"].append(event)
            if event.status_code == 201:
                out["events"].setdefault(lot, []).append(event.json()["event_hash"])


def _cli_writer(env: dict[str, str], start: threading.Barrier, out: list[Any]) -> None:
    start.wait()
    for i in range(CLI_WRITES):
        out.append(
            run_trace(
                "batch",
                "register",
                "--gtin",
                GTIN,
                "--lot",
                f"CLI-{i}-{uuid.uuid4().hex[:6]}".upper(),
                "--json",
                env=env,
            )
        )


def test_eight_api_writers_and_the_cli_share_one_account(trace_env: dict[str, str], tmp_path: Path) -> None:
    env = trace_env
    ok(env, "deploy")
    producer = dev_account("producer").address
    before = int(rpc(env, "eth_getTransactionCount", producer, "latest"), 16)

    with trace_server(env, tmp_path / "serve.log") as client:
        start = threading.Barrier(WRITERS + 1)
        outs = [{"responses": [], "events": {}} for _ in range(WRITERS)]
        cli_results: list[Any] = []
        threads = [threading.Thread(target=_writer, args=(client, n, start, outs[n])) for n in range(WRITERS)]
        threads.append(threading.Thread(target=_cli_writer, args=(env, start, cli_results)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        responses = [r for out in outs for r in out["responses"]]
        failed = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 201]
        assert not failed, f"{len(failed)} of {len(responses)} requests failed, e.g. {failed[:3]}"
        assert len(responses) == WRITERS * BATCHES * (1 + EVENTS)
        assert [r.code for r in cli_results] == [0] * CLI_WRITES, [r.stderr for r in cli_results]

        written = {lot: hashes for out in outs for lot, hashes in out["events"].items()}
        for lot, hashes in written.items():
            history = client.get(f"/batches/{GTIN}/{lot}/history").json()
            assert sorted(e["event_hash"] for e in history["timeline"]) == sorted(hashes), lot
            assert {e["status"] for e in history["timeline"]} == {"verified"}, lot
            assert history["hash_chain"]["ok"] is True and history["hash_chain"]["events_on_chain"] == EVENTS, lot

    tx_hashes = [r.json()["tx_hash"] for r in responses]
    assert len(set(tx_hashes)) == len(tx_hashes)
    receipts = [rpc(env, "eth_getTransactionReceipt", h) for h in tx_hashes]
    assert all(r is not None and int(r["status"], 16) == 1 for r in receipts)
    after = int(rpc(env, "eth_getTransactionCount", producer, "latest"), 16)
    assert after - before == len(responses) + CLI_WRITES, "the account sent more (or fewer) transactions than writes"

    recorded = collections.Counter(
        hx(log["data"][2 + 64 * 2 : 2 + 64 * 3])
        for log in logs_of(env, "EventRecorded(bytes32,uint32,uint8,bytes32,address)")
    )
    every = [h for hashes in written.values() for h in hashes]
    assert all(recorded[h] == 1 for h in every), "an event with a 201 is missing from the chain's logs, or doubled"


# ---- two imports of overlapping events at once (an HTTP capture and a CLI import, two captures) ----
def _overlap_events(lot: str, count: int) -> list[dict[str, Any]]:
    key = domain.batch_key(GTIN, lot)
    start = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
    return [
        batches.build_event(
            key=key, step="storing", when=(start + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        )
        for i in range(count)
    ]


def _after_both(step: Any) -> Any:
    """``step``, whose first call in each of two threads waits until the other thread got there too (if the code
    under test lets it: code that serialises the two runs makes the wait time out, and then goes on)."""
    barrier = threading.Barrier(2, timeout=5)
    seen: set[int] = set()

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
        return step(*args, **kwargs)

    return wrapped


def _exactly_once(env: dict[str, str], ctx: TraceContext, events: int) -> None:
    with ctx.engine.connect() as conn:
        claimed = collections.Counter(conn.execute(select(t.epcis_events.c.root)).scalars())
    on_chain = {
        hx(log["topics"][1]): int(log["data"][2:66], 16)
        for log in logs_of(env, "RootAnchored(bytes32,address,uint32,bytes32)")
    }
    short = {root[:10]: (count, claimed.get(root, 0)) for root, count in on_chain.items() if claimed.get(root) != count}
    assert not short, f"anchored roots whose leaves other roots took over (anchored count, events claiming it): {short}"
    assert sum(on_chain.values()) == events, "an event is under two anchored roots"


def _index(env: dict[str, str], backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> list[TraceContext]:
    """Two contexts (as two processes have) on a deployed node and one new index database."""
    ok(env, "deploy")
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    else:
        url = create_database(request.getfixturevalue("postgres_server"), prefix="overlap")
    settings = settings_of(env).model_copy(update={"database_url": url})
    return [
        TraceContext(settings=settings, chain=connect(settings, autostart=False), engine=make_engine(url))
        for _ in range(2)
    ]


def _in_threads(*calls: Any) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(call: Any) -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_overlapping_imports_at_once_anchor_each_event_once(
    backend: str,
    trace_env: dict[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = trace_env
    contexts = _index(env, backend, tmp_path, request)
    producer = dev_account("producer")
    batches.register_batch(contexts[0], account=producer, gtin=GTIN, lot="OVERLAP")
    docs = _overlap_events("OVERLAP", 300)
    # The interleaving two processes reach by chance, made certain: both runs have looked up which events are
    # new before either stores its first chunk.
    monkeypatch.setattr(ev, "insert_captured", _after_both(ev.insert_captured))
    errors = _in_threads(
        *(
            lambda ctx=ctx, size=size: importer.import_events(
                ctx, account=producer, events=docs, name=f"overlap-{size}", source=f"overlap-{size}", batch_size=size
            )
            for ctx, size in zip(contexts, (100, 150), strict=True)
        )
    )
    assert not errors, f"an import failed: {errors[0]!r}"
    anchoring.anchor(contexts[0], account=producer)
    _exactly_once(env, contexts[0], len(docs))


def test_two_runs_sending_the_same_pending_roots_both_succeed(
    trace_env: dict[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = trace_env
    contexts = _index(env, "sqlite", tmp_path, request)
    producer = dev_account("producer")
    batches.register_batch(contexts[0], account=producer, gtin=GTIN, lot="PENDING")
    docs = _overlap_events("PENDING", 200)
    ev.insert_events(
        contexts[0].engine,
        [(d, [domain.batch_key(GTIN, "PENDING").id_hex]) for d in docs],
        mode="anchor",
        source="capture",
        capturer=producer.address,
    )
    assert rt.build_pending_roots(contexts[0], account=producer.address, batch_size=100) == 2
    # Both runs have checked rootInfo before either sends.
    monkeypatch.setattr(rt, "submit_root", _after_both(rt.submit_root))
    errors = _in_threads(*(lambda ctx=ctx: rt.send_roots(ctx, account=producer) for ctx in contexts))
    assert not errors, f"a run failed: {errors[0]!r}"
    contexts[0].sync()
    _exactly_once(env, contexts[0], len(docs))
