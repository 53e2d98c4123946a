"""Attacks on the served API (`trace serve`, real uvicorn, real sockets): what a TestClient cannot show.

Issue 16: unauthenticated 5 MiB uploads were buffered before the key was checked; stalled connections never timed
out; uvicorn honoured X-Forwarded-For from 127.0.0.1 even with TRACE_TRUST_PROXY=false, so a client could forge
its address and get a fresh rate-limit bucket with every request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from trace_api.chain.node import free_port
from trace_api.config import Settings
from trace_api.index.store import get_engine
from trace_api.services import apikeys

TIMEOUT_S = 2  # TRACE_BODY_TIMEOUT and TRACE_HEADER_TIMEOUT of the served app
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(trace_session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    port = free_port()
    log = tmp_path_factory.mktemp("edge-server") / "server.log"
    env = {
        **os.environ,
        **trace_session_env,
        "TRACE_BODY_TIMEOUT": str(TIMEOUT_S),
        "TRACE_HEADER_TIMEOUT": str(TIMEOUT_S),
        "TRACE_RESOLVER_RATE_PER_MINUTE": "2",
        "TRACE_TRUST_PROXY": "false",
        "PYTHONPATH": str(ROOT),
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()[-3000:]) from None
                time.sleep(0.2)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def key(trace_session_settings: Settings) -> str:
    return apikeys.create_key(get_engine(trace_session_settings), organisation="Edge Co", account="producer")


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S + 5)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _head(method: str, path: str, *headers: str) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(server: tuple[int, Path]) -> None:
    port, _ = server
    with _connect(port) as sock:
        # The head announces 5 MiB; not one byte of the body is sent. The key check must not wait for it.
        sock.sendall(_head("POST", "/capture", f"Content-Length: {5 * MIB}", "Content-Type: application/json"))
        started = time.monotonic()
        response = _read_response(sock)
        assert response.startswith(b"HTTP/1.1 401"), response[:200]
        assert time.monotonic() - started < TIMEOUT_S
        assert b"connection: close" in response.lower()


def test_a_stalled_body_is_dropped_with_408(server: tuple[int, Path], key: str) -> None:
    port, _ = server
    with _connect(port) as sock:
        sock.sendall(
            _head(
                "POST",
                "/capture",
                "Content-Length: 1000",
                "Content-Type: application/json",
                f"Authorization: Bearer {key}",
            )
            + b'{"type": '
        )
        started = time.monotonic()
        response = _read_response(sock)
        assert response.startswith(b"HTTP/1.1 408"), response[:200]
        assert TIMEOUT_S - 0.5 < time.monotonic() - started < TIMEOUT_S + 3


def test_a_stalled_request_head_is_dropped(server: tuple[int, Path]) -> None:
    port, _ = server
    with _connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the head never ends
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server, not by our socket timeout
        assert time.monotonic() - started < TIMEOUT_S + 3
    with _connect(port) as sock:  # a silent connection too
        started = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - started < TIMEOUT_S + 3


def test_forwarded_for_from_localhost_is_ignored_without_trust_proxy(server: tuple[int, Path]) -> None:
    port, _ = server
    statuses = []
    for i in range(4):  # the rate is 2 a minute; each request claims another client address
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/.well-known/gs1resolver", headers={"X-Forwarded-For": f"203.0.113.{i + 1}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
    assert statuses[2:] == [429, 429], statuses


def test_the_access_log_shows_the_real_client(server: tuple[int, Path]) -> None:
    _, log = server
    text = log.read_text(errors="replace")
    assert "203.0.113." not in text and "127.0.0.1:" in text
