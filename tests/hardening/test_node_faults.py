"""Node faults: the anvil node killed with SIGKILL in the middle of a run, then restarted from its persisted state.

While the node is down, commands exit 4 with one line on stderr and the HTTP API answers 503 problem+json; after
`trace node start` (same TRACE_HOME) both work again, the API without being restarted. anvil dumps its state every
STATE_INTERVAL_S seconds here (TRACE_NODE_STATE_INTERVAL, 10 by default), so a kill loses what was mined since the
last dump: the index (which holds rows for the lost blocks) and the senders (whose nonces ran ahead) must reconcile
with the shorter chain.

Kills are timed from the state file's modification time: the dump is complete and the next one is not due, so
they lose a little and never tear the file. What a kill during a dump does is the last test.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from tests.conftest import ROOT, STATE_INTERVAL_S, TRACE, run_trace, with_fast_dumps
from tests.hardening import GTIN, ok, roots_on_chain, rpc, settings_of, trace_server
from trace_api.chain.node import DUMP_FILE
from trace_api.index import schema as t
from trace_api.index.store import get_engine

GLN = "9506000134017"
UNAVAILABLE = "trace: error: chain unavailable: cannot reach the JSON-RPC node"


@pytest.fixture
def trace_env(trace_env: dict[str, str]) -> dict[str, str]:
    return with_fast_dumps(trace_env)


def _node(env: dict[str, str]) -> dict[str, Any]:
    return json.loads((Path(env["TRACE_HOME"]) / "node" / "node.json").read_text())


def _state(env: dict[str, str]) -> Path:
    """The file anvil dumps its state to every STATE_INTERVAL_S (promoted to state.json when complete)."""
    return Path(env["TRACE_HOME"]) / "node" / DUMP_FILE


def _head(env: dict[str, str]) -> int:
    return int(rpc(env, "eth_blockNumber"), 16)


def _dumped_at(env: dict[str, str]) -> float:
    """When anvil last wrote its state dump (0 before its first one)."""
    try:
        return _state(env).stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _dump_age(env: dict[str, str]) -> float:
    return time.time() - _dumped_at(env)


def _kill_node(env: dict[str, str], *, min_age: float = 0.3, max_age: float = 1.5) -> int:
    """SIGKILL anvil once its last state dump is between min_age and max_age seconds old (complete, and the next
    not due); returns the chain head it had."""
    deadline = time.monotonic() + 3 * STATE_INTERVAL_S
    while not min_age <= _dump_age(env) <= max_age:
        assert time.monotonic() < deadline, "anvil stopped dumping its state"
        time.sleep(0.01)
    head = _head(env)
    proc = psutil.Process(_node(env)["pid"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return head


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr}"
    return lines[0]


def _csv(path: Path, lot: str, rows: int) -> Path:
    lines = ["gtin,lot,step,event_time,location,sensor_type,sensor_value,sensor_uom"]
    for r in range(rows):
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_800_000_000 + r)) + ".000Z"
        lines.append(f"{GTIN},{lot},sensor_reporting,{when},{GLN},Temperature,{r % 30}.5,CEL")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_survives_the_node_being_killed_and_restarted(trace_env: dict[str, str], tmp_path: Path) -> None:
    env, lot, rows = trace_env, "FAULT-IMPORT", 4000
    ok(env, "deploy")
    ok(env, "batch", "register", "--gtin", GTIN, "--lot", lot)
    path = _csv(tmp_path / "readings.csv", lot, rows)
    engine = get_engine(settings_of(env))

    with open(tmp_path / "import.stderr", "w+") as err:
        proc = subprocess.Popen(
            [*TRACE, "import", str(path), "--batch-size", "100"],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        while True:  # until the import is sending roots
            assert proc.poll() is None, "the import finished before the node could be killed"
            with engine.connect() as conn:
                built = conn.execute(select(func.count()).select_from(t.anchor_roots)).scalar_one()
            if built >= 3:
                break
            time.sleep(0.05)
        head = _kill_node(env)
        code = proc.wait(60)
        err.seek(0)
        stderr = err.read()
    assert code == 4, stderr
    assert _one_line(stderr) == UNAVAILABLE

    # While it is down: status says so; a command pointed at the node (no autostart) exits 4.
    status = run_trace("node", "status", env=env)
    assert status.code == 4 and _one_line(status.stderr) == "trace: error: node is not running; `trace node start`"
    remote = run_trace("--rpc-url", f"http://localhost:{env['TRACE_NODE_PORT']}", "batch", "show", GTIN, lot, env=env)
    assert remote.code == 4 and _one_line(remote.stderr) == UNAVAILABLE

    assert run_trace("node", "start", env=env).code == 0
    restarted = _head(env)
    assert restarted <= head
    with engine.connect() as conn:
        known = set(conn.execute(select(t.anchor_roots.c.root)).scalars())
    lost = known - set(roots_on_chain(env))
    print(f"\nkill lost {head - restarted} blocks; {len(lost)} of {len(known)} roots the index knew are off chain")

    resumed = ok(env, "import", str(path), "--batch-size", "100")
    assert resumed["rows"] == rows
    on_chain = roots_on_chain(env)
    assert [r for r, n in collections.Counter(on_chain).items() if n > 1] == []
    with engine.connect() as conn:
        roots = dict(conn.execute(select(t.anchor_roots.c.root, t.anchor_roots.c.status)).all())
    assert set(roots) == set(on_chain) and set(roots.values()) == {"anchored"}
    timeline = ok(env, "batch", "show", GTIN, lot)["timeline"]
    assert len(timeline) == rows
    assert collections.Counter(e["status"] for e in timeline) == {"verified": rows}


@pytest.fixture
def server(trace_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """`trace serve` on a deployed node, with the API key of an organisation signing as the producer."""
    ok(trace_env, "deploy")
    with trace_server(trace_env, tmp_path / "serve.log") as client:
        yield client, trace_env


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_api_answers_503_while_the_node_is_down_and_recovers(server: tuple[httpx.Client, dict[str, str]]) -> None:
    client, env = server
    assert client.post("/batches", json={"gtin": GTIN, "lot": "API-1"}).status_code == 201
    assert client.post(f"/batches/{GTIN}/API-1/events", json={"step": "commissioning"}).status_code == 201

    # A registration right after a state dump that holds API-1, then the kill before the next dump: the chain
    # will lose that registration, and only that.
    written = time.time()
    for attempt in range(5):
        deadline = time.monotonic() + 3 * STATE_INTERVAL_S
        while not (_dumped_at(env) > written + 0.05 and 0.05 <= _dump_age(env) <= 0.5):
            assert time.monotonic() < deadline, "anvil stopped dumping its state"
            time.sleep(0.01)
        dumped = _dumped_at(env)
        lost_lot = f"API-LOST-{attempt}"
        assert client.post("/batches", json={"gtin": GTIN, "lot": lost_lot}).status_code == 201
        if _dumped_at(env) == dumped and _dump_age(env) < STATE_INTERVAL_S - 0.3:
            head = _kill_node(env, min_age=0.0, max_age=STATE_INTERVAL_S)
            break
    else:
        pytest.fail("each registration took until the next state dump: the machine is too slow for this test")

    health = _problem(client.get("/health"), 503)
    assert health["title"] == "ChainUnavailableError" and "chain unavailable" in health["detail"]
    assert "chain unavailable" in _problem(client.post("/batches", json={"gtin": GTIN, "lot": "API-2"}), 503)["detail"]
    _problem(client.post(f"/batches/{GTIN}/API-1/events", json={"step": "storing"}), 503)
    _problem(client.get(f"/batches/{GTIN}/API-1/history"), 503)

    assert run_trace("node", "start", env=env).code == 0
    assert _head(env) < head, "the kill was meant to lose the last registration"
    assert client.get("/health").status_code == 200
    # The server's sender had used a nonce the restarted chain never saw; its next write must not wait for it.
    started = time.monotonic()
    created = client.post("/batches", json={"gtin": GTIN, "lot": "API-2"}, timeout=20)
    assert created.status_code == 201, created.text
    assert time.monotonic() - started < 15
    # The index had the lost registration; after the reorg rollback it says what the chain says, and it can be
    # registered again.
    lost = client.get(f"/batches/{GTIN}/{lost_lot}")
    assert lost.status_code == 200 and lost.json()["registered"] is False
    assert client.post("/batches", json={"gtin": GTIN, "lot": lost_lot}).status_code == 201
    assert client.get(f"/batches/{GTIN}/{lost_lot}").json()["registered"] is True
    stored = client.post(f"/batches/{GTIN}/API-1/events", json={"step": "storing"})
    assert stored.status_code == 201, stored.text
    history = client.get(f"/batches/{GTIN}/API-1/history").json()
    assert [e["status"] for e in history["timeline"]] == ["verified", "verified"]
    assert history["hash_chain"]["ok"] is True


def test_a_kill_during_a_state_dump_keeps_the_chain(trace_env: dict[str, str]) -> None:
    env = trace_env
    ok(env, "deploy")
    state = _state(env)
    while not state.exists() or _dump_age(env) < 0.2:  # a first complete dump
        time.sleep(0.05)
    ok(env, "node", "status")  # a command after it: the complete dump is kept as state.json
    full = state.stat().st_size
    pid = _node(env)["pid"]
    deadline = time.monotonic() + 5 * STATE_INTERVAL_S
    while state.stat().st_size >= full:  # until the next dump has truncated the file and is writing it again
        if time.monotonic() > deadline:
            pytest.skip("did not catch anvil in the middle of a state dump")
    os.kill(pid, signal.SIGKILL)
    psutil.Process(pid).wait(10) if psutil.pid_exists(pid) else None
    try:
        json.loads(state.read_text())
        pytest.skip("the kill landed after the dump completed")
    except ValueError:
        pass
    started = run_trace("node", "start", env=env)
    assert started.code == 0, started.stderr
    assert _head(env) > 0  # the deployment is still there
