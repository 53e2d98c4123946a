"""web3's provider on our JSON-RPC transport, for what still goes through web3 (sending, deployments)."""

from __future__ import annotations

from typing import Any, cast

from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from trace_api.chain.rpc import NEVER_CHANGES, JsonRpc


class RpcProvider(JSONBaseProvider):
    """Requests are encoded by web3 (its JSON encoder knows its own types) and travel through :class:`JsonRpc`:
    the same connections, the same ChainUnavailableError on transport failures, the same cache of what never
    changes (web3 would otherwise ask eth_chainId before every call and estimate)."""

    def __init__(self, rpc: JsonRpc) -> None:
        super().__init__()
        self.rpc = rpc

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method in NEVER_CHANGES:
            return cast(RPCResponse, self.rpc.request(method, list(params or [])))
        return cast(RPCResponse, JsonRpc.decode(self.rpc.post(self.encode_rpc_request(method, params))))

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        response = self.decode_rpc_response(self.rpc.post(self.encode_batch_rpc_request(batch_requests)))
        if isinstance(response, list):
            return sorted(response, key=lambda r: int(r.get("id", 0)))
        return response
