"""Helpers of the hardening tests: the real CLI, a real `trace serve`, raw JSON-RPC to the node."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak

from tests.conftest import ROOT, TRACE, free_port, run_trace
from trace_api.config import Settings
from trace_api.domain import hx
from trace_api.index.store import get_engine
from trace_api.services import apikeys

GTIN = "09506000134352"


def ok(env: dict[str, str], *args: str) -> Any:
    """`trace ARGS --json`, which must succeed; its output."""
    result = run_trace(*args, "--json", env=env)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(home=Path(env["TRACE_HOME"]), node_port=int(env["TRACE_NODE_PORT"]))


def rpc(env: dict[str, str], method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    response = httpx.post(f"http://127.0.0.1:{env['TRACE_NODE_PORT']}", json=body, timeout=30).json()
    assert "error" not in response, response
    return response["result"]


def registry_address(env: dict[str, str]) -> str:
    record = json.loads((Path(env["TRACE_HOME"]) / "deployments" / "31337.json").read_text())
    return str(record["contracts"]["TraceRegistry"]["address"])


def logs_of(env: dict[str, str], signature: str) -> list[dict[str, Any]]:
    """Every log of the registry with this event signature, straight from eth_getLogs."""
    topic = hx(keccak(text=signature))
    return list(
        rpc(
            env,
            "eth_getLogs",
            {"address": registry_address(env), "fromBlock": "0x0", "toBlock": "latest", "topics": [topic]},
        )
    )


def roots_on_chain(env: dict[str, str]) -> list[str]:
    return [hx(log["topics"][1]) for log in logs_of(env, "RootAnchored(bytes32,address,uint32,bytes32)")]


@contextmanager
def trace_server(env: dict[str, str], log: Path, *, account: str = "producer") -> Iterator[httpx.Client]:
    """`trace serve` in a subprocess, and a client carrying the API key of an organisation signing as ``account``."""
    key = apikeys.create_key(get_engine(settings_of(env)), organisation="Farm Co", account=account)
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*TRACE, "serve", "--port", str(port)],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=60)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "trace serve did not come up"
            time.sleep(0.1)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # stuck in a request: a failing test must still clean up
            proc.kill()
            proc.wait(5)
