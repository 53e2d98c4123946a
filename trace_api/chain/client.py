"""Connect to the chain: web3 over JSON-RPC, the deployment record, contract handles."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3Exception, Web3RPCError
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from trace_api.chain import node
from trace_api.chain.artifacts import Artifact, load_artifacts
from trace_api.chain.reverts import ErrorDecoder
from trace_api.config import Settings
from trace_api.deployments import Deployment, deployment_path, load_deployment
from trace_api.domain import hx
from trace_api.errors import ChainUnavailableError, ConfigError, ContractRevert, NotFoundError

RPC_TIMEOUT_S = 30


@dataclass
class Chain:
    """A live connection: web3, the settings it came from and the artifacts of our contracts."""

    w3: Web3
    settings: Settings
    chain_id: int
    artifacts: dict[str, Artifact] = field(repr=False)
    _deployment: tuple[int | None, Deployment] | None = field(default=None, repr=False)

    @functools.cached_property
    def errors(self) -> ErrorDecoder:
        return ErrorDecoder([a.abi for a in self.artifacts.values()])

    def deployment(self) -> Deployment:
        """The deployment record, re-read only when its file changed (`trace deploy --force` elsewhere)."""
        path = deployment_path(self.settings, self.chain_id)
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if self._deployment is None or self._deployment[0] != stamp:
            record = load_deployment(self.settings, self.chain_id)
            if record is None:
                raise NotFoundError(f"no deployment for chain {self.chain_id}: run `trace deploy`")
            self._deployment = (stamp, record)
        return self._deployment[1]

    def contract(self, name: str, address: str | None = None) -> Contract:
        """A handle on a deployed contract; ``name`` is an artifact name, or ``Artifact:label`` for instances."""
        artifact = name.split(":")[0]
        if artifact not in self.artifacts:
            raise ConfigError(f"no contract named {artifact}")
        if address is None:
            address = self.deployment().address(name)
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.artifacts[artifact].abi)

    def block_number(self) -> int:
        return int(guarded(lambda: self.w3.eth.block_number))

    def view(self, contract: Contract, name: str, *args: Any, block: int | None = None) -> Any:
        """A view call on the hot read paths: one ``eth_call`` with the ABI coded here, without web3's contract
        machinery (which costs several milliseconds a call in Python). One output comes back bare, several as a
        tuple, one struct as a dict of its named fields; a revert raises ContractRevert.
        """
        selector, inputs, outputs, fields = _view_abi(contract, name)
        data = "0x" + (selector + abi_encode(inputs, list(args))).hex()
        response = self.w3.provider.make_request(
            RPCEndpoint("eth_call"), [{"to": contract.address, "data": data}, "latest" if block is None else hex(block)]
        )
        if "error" in response:
            error = response["error"]
            raw = error.get("data") if isinstance(error, dict) else None
            if isinstance(raw, str) and raw.startswith("0x"):
                raise self.errors.decode(raw)
            message = error.get("message") if isinstance(error, dict) else error
            raise ContractRevert("", (), f"eth_call {name} failed: {message}")
        decoded = abi_decode(outputs, bytes.fromhex(str(response["result"])[2:]))
        if fields is not None:  # one struct: by the names the contract gives its fields
            return dict(zip(fields, decoded[0], strict=True))
        return decoded[0] if len(decoded) == 1 else decoded

    def failure_of(self, tx_hash: HexBytes, receipt: TxReceipt) -> ContractRevert:
        """Why a mined transaction failed: its call replayed on the state before its block."""
        tx: dict[str, Any] = dict(self.w3.eth.get_transaction(tx_hash))
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        if "input" in tx and "data" not in call:
            call["data"] = tx["input"]
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, Web3RPCError) as exc:
            return self.errors.from_exception(exc)
        return ContractRevert("", (), f"transaction {hx(tx_hash)} failed (out of gas?)")


ViewAbi = tuple[bytes, tuple[str, ...], tuple[str, ...], tuple[str, ...] | None]


@functools.lru_cache(maxsize=256)
def _abi_of(address: str, name: str, abi_json: str) -> ViewAbi:
    [entry] = [e for e in json.loads(abi_json) if e.get("type") == "function" and e.get("name") == name]
    outputs = entry.get("outputs", [])
    fields = (
        tuple(c["name"] for c in outputs[0]["components"])
        if len(outputs) == 1 and outputs[0].get("type") == "tuple"
        else None
    )
    return (
        function_abi_to_4byte_selector(entry),
        tuple(get_abi_input_types(entry)),
        tuple(get_abi_output_types(entry)),
        fields,
    )


def _view_abi(contract: Contract, name: str) -> ViewAbi:
    cached = getattr(contract, "_trace_abi_json", None)
    if cached is None:
        cached = json.dumps(contract.abi, sort_keys=True)
        contract._trace_abi_json = cached  # type: ignore[attr-defined]
    return _abi_of(contract.address, name, cached)


# How a node that died, is restarting or hangs looks to requests: a refused or reset connection, a timeout, a
# response cut off mid-body.
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    OSError,
)


def guarded(call: Any) -> Any:
    """Run an RPC call, turning connection failures into ChainUnavailableError."""
    try:
        return call()
    except ChainUnavailableError:
        raise
    except _TRANSPORT_ERRORS as exc:
        raise ChainUnavailableError("chain unavailable: cannot reach the JSON-RPC node") from exc


class GuardedHTTPProvider(HTTPProvider):
    """An HTTP provider whose transport failures raise ChainUnavailableError, whoever made the call: our code,
    web3's own look-ups (transaction defaults, receipts) or contract calls and log queries. So every command
    exits 4 and every API route answers 503 while the node is down, not only where a call was wrapped."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        response: RPCResponse = guarded(lambda: super(GuardedHTTPProvider, self).make_request(method, params))
        return response

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> Any:
        return guarded(lambda: super(GuardedHTTPProvider, self).make_batch_request(batch_requests))


NEVER_CHANGES = {RPCEndpoint("eth_chainId"), RPCEndpoint("net_version"), RPCEndpoint("web3_clientVersion")}


def make_web3(rpc_url: str) -> Web3:
    # web3 would otherwise ask eth_chainId before every call and estimate. Only what never changes is cached:
    # web3 also caches blocks and transactions by default, which would hide a reorg from the indexer and costs an
    # extra eth_getBlockByNumber per cached read.
    return Web3(
        GuardedHTTPProvider(
            rpc_url,
            request_kwargs={"timeout": RPC_TIMEOUT_S},
            cache_allowed_requests=True,
            cacheable_requests=NEVER_CHANGES,
        )
    )


def connect(settings: Settings, *, autostart: bool = True) -> Chain:
    """Connect to the configured node, starting the local one first when allowed and needed."""
    if autostart:
        node.ensure_running(settings)
    w3 = make_web3(settings.effective_rpc_url)
    try:
        chain_id = guarded(lambda: w3.eth.chain_id)
    except Web3Exception as exc:
        raise ChainUnavailableError(f"chain unavailable: {exc}") from exc
    if chain_id != settings.chain_id:
        raise ConfigError(f"the node at the RPC URL has chain id {chain_id}, but TRACE_CHAIN_ID is {settings.chain_id}")
    return Chain(w3=w3, settings=settings, chain_id=chain_id, artifacts=load_artifacts())
