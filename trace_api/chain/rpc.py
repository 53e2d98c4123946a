"""The one JSON-RPC transport: HTTP(S) POSTs over a kept-alive connection per thread, from the standard library.

Every request to the node goes through :class:`JsonRpc`, whether our code makes it (view calls, logs, blocks on
the read paths; nonces, estimates, raw transactions and receipts in the sender) or web3 does (the services that
still build contract calls with web3): web3 is given :class:`RpcProvider`, a provider on top of it. So neither the
read paths nor a lean write imports web3 (its import costs about a second), and every
transport failure, whoever made the call, raises ChainUnavailableError: commands exit 4 and routes answer 503
while the node is down.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import urllib.parse
from typing import Any

from trace_api.errors import ChainUnavailableError, TraceError

RPC_TIMEOUT_S = 30
# Answers that never change for one endpoint: asked once. Blocks and transactions are never cached, which would hide
# a reorg from the indexer.
NEVER_CHANGES = frozenset({"eth_chainId", "net_version", "web3_clientVersion"})
_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class RpcError(TraceError):
    """The node answered a request with a JSON-RPC error object (``code``, ``message``, optional ``data``)."""

    def __init__(self, method: str, error: Any) -> None:
        body = error if isinstance(error, dict) else {"message": str(error)}
        self.code = body.get("code")
        self.data = body.get("data")
        super().__init__(f"{method} failed: {body.get('message', body)}")


def _is_rpc_answer(payload: bytes) -> bool:
    """A JSON-RPC response (or a batch of them): what an error status may still carry from a node."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return False
    answers = answer if isinstance(answer, list) else [answer]
    return all(isinstance(a, dict) and "jsonrpc" in a and ("result" in a or "error" in a) for a in answers)


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    raise TypeError(f"cannot send {type(value).__name__} over JSON-RPC")


def hex_quantities(params: dict[str, Any]) -> dict[str, Any]:
    """Request fields as JSON-RPC takes them: numbers (quantities) in hex."""
    return {k: hex(v) if isinstance(v, int) else v for k, v in params.items()}


class JsonRpc:
    """A JSON-RPC endpoint. Thread-safe: each thread keeps its own connection alive between requests."""

    def __init__(self, url: str, *, timeout: float = RPC_TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChainUnavailableError("chain unavailable: the RPC URL must be http(s)://host[:port][/path]")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._local = threading.local()
        self._ids = itertools.count(1)
        self._cache: dict[str, Any] = {}

    # ---- transport ----
    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def post(self, body: bytes) -> bytes:
        """POST a request body, return the response body. A connection the node closed while it sat idle is opened
        again once (JSON-RPC requests are safe to repeat: a raw transaction sent twice is "already known")."""
        for attempt in (0, 1):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request("POST", self._path, body, _HEADERS)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError) as exc:
                self._drop()
                if attempt == 0 and reused and not isinstance(exc, TimeoutError):
                    continue
                raise ChainUnavailableError("chain unavailable: cannot reach the JSON-RPC node") from exc
            if response.will_close:
                self._drop()
            if response.status >= 400 and not _is_rpc_answer(payload):  # a proxy's error page, a rate limit
                raise ChainUnavailableError(f"chain unavailable: the JSON-RPC node answered HTTP {response.status}")
            return payload
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- requests ----
    def request(self, method: str, params: list[Any]) -> dict[str, Any]:
        """The node's whole response object: ``result`` or ``error``."""
        if method in self._cache:
            return {"jsonrpc": "2.0", "id": 0, "result": self._cache[method]}
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}, default=_json_default
        )
        response = self.decode(self.post(body.encode()))
        if method in NEVER_CHANGES and "result" in response:
            self._cache[method] = response["result"]
        return response

    def call(self, method: str, *params: Any) -> Any:
        """The result of a request; RpcError when the node answers with an error."""
        response = self.request(method, list(params))
        if "error" in response:
            raise RpcError(method, response["error"])
        if "result" not in response:
            raise ChainUnavailableError("chain unavailable: the JSON-RPC node sent a malformed answer")
        return response["result"]

    @staticmethod
    def decode(payload: bytes) -> dict[str, Any]:
        try:
            response = json.loads(payload)
        except ValueError as exc:
            raise ChainUnavailableError("chain unavailable: the JSON-RPC node sent a malformed answer") from exc
        if not isinstance(response, dict):
            raise ChainUnavailableError("chain unavailable: the JSON-RPC node sent a malformed answer")
        return response

    def cached(self, method: str, value: Any) -> None:
        """Remember the answer to a request in NEVER_CHANGES, learnt another way."""
        if method in NEVER_CHANGES:
            self._cache[method] = value
