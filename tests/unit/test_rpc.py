"""The JSON-RPC transport against a real HTTP server on the loopback: answers, errors, kept-alive connections."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from trace_api.chain.rpc import JsonRpc, RpcError
from trace_api.errors import ChainUnavailableError


class _Node(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a node speaks
    seen: list[tuple[str, int]] = []  # (method, client port): which connection carried each request
    close_after: set[str] = set()

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method = request["method"]
        self.seen.append((method, self.client_address[1]))
        if method == "broken":
            self._send(502, b"<html>bad gateway</html>", "text/html")
            return
        if method == "limited":
            self._send(429, b'{"error": "too many requests"}', "application/json")
            return
        if method == "eth_call":
            body: dict[str, Any] = {"code": 3, "message": "execution reverted", "data": "0x08c379a0"}
            answer = {"jsonrpc": "2.0", "id": request["id"], "error": body}
        else:
            answer = {"jsonrpc": "2.0", "id": request["id"], "result": request["params"] or "0x7a69"}
        self._send(200, json.dumps(answer).encode(), "application/json")
        if method in self.close_after:
            self.close_connection = True

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def node() -> Iterator[str]:
    _Node.seen, _Node.close_after = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Node)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rpc?key=secret"
    server.shutdown()
    server.server_close()


def test_results_come_back_over_one_kept_alive_connection(node: str) -> None:
    rpc = JsonRpc(node)
    assert rpc.call("eth_getBlockByNumber", "0x1", False) == ["0x1", False]
    assert rpc.call("eth_blockNumber") == "0x7a69"
    ports = {port for _, port in _Node.seen}
    assert len(_Node.seen) == 2 and len(ports) == 1


def test_bytes_travel_as_hex(node: str) -> None:
    assert JsonRpc(node).call("eth_getCode", b"\x01\xab") == ["0x01ab"]


def test_the_chain_id_is_asked_once(node: str) -> None:
    rpc = JsonRpc(node)
    assert rpc.call("eth_chainId") == rpc.call("eth_chainId") == "0x7a69"
    assert [m for m, _ in _Node.seen] == ["eth_chainId"]


def test_an_error_object_keeps_its_code_and_revert_data(node: str) -> None:
    with pytest.raises(RpcError) as caught:
        JsonRpc(node).call("eth_call", {"to": "0x" + "00" * 20}, "latest")
    assert caught.value.code == 3 and caught.value.data == "0x08c379a0"
    assert "execution reverted" in str(caught.value)


def test_a_connection_the_node_closed_is_opened_again(node: str) -> None:
    _Node.close_after.add("eth_blockNumber")
    rpc = JsonRpc(node)
    rpc.call("eth_blockNumber")
    assert rpc.call("eth_gasPrice") == "0x7a69"
    assert len({port for _, port in _Node.seen}) == 2


def test_a_proxy_error_page_is_chain_unavailable(node: str) -> None:
    with pytest.raises(ChainUnavailableError, match="HTTP 502"):
        JsonRpc(node).call("broken")


def test_a_rate_limit_that_is_no_rpc_answer_is_chain_unavailable(node: str) -> None:
    with pytest.raises(ChainUnavailableError, match="HTTP 429"):
        JsonRpc(node).call("limited")


def test_nothing_listening_is_chain_unavailable_without_the_url(node: str) -> None:
    with pytest.raises(ChainUnavailableError) as caught:
        JsonRpc("http://127.0.0.1:9/rpc?key=secret", timeout=2).call("eth_blockNumber")
    assert "secret" not in str(caught.value)
