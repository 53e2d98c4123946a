"""Connect to the chain: the JSON-RPC endpoint, the deployment record, contract handles.

The read paths (view calls, blocks, transactions, logs) speak JSON-RPC through :mod:`trace_api.chain.rpc` and code
the ABI with eth_abi, and so does a :class:`Call` a transaction sends; web3 is imported only when a command asks for
``Chain.w3`` (contract functions built with web3, deployments), and then runs over the same transport.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from eth_utils.address import to_checksum_address

from trace_api.chain import node
from trace_api.chain.artifacts import Artifact, load_artifacts
from trace_api.chain.reverts import ErrorDecoder
from trace_api.chain.rpc import JsonRpc, RpcError
from trace_api.config import Settings
from trace_api.deployments import Deployment, deployment_path, load_deployment
from trace_api.domain import hx
from trace_api.errors import ChainUnavailableError, ConfigError, ContractRevert, NotFoundError, ValidationError

if TYPE_CHECKING:
    from hexbytes import HexBytes
    from web3 import Web3
    from web3.contract import Contract
    from web3.types import TxReceipt


class Deployed(Protocol):
    """What a view call needs of a contract: where it is and its ABI (a web3 Contract is one)."""

    @property
    def address(self) -> Any: ...

    @property
    def abi(self) -> Any: ...


@dataclass(frozen=True)
class ContractRef:
    """A deployed contract as the read and write paths know it: its address and ABI, without web3."""

    address: str
    abi: list[dict[str, Any]] = field(repr=False)

    def fn(self, name: str, *args: Any) -> Call:
        """One of its functions with arguments, to call or to send (see :class:`TxSender`)."""
        return Call(self, name, args)


@dataclass(frozen=True)
class Call:
    """A contract function with its arguments: what a transaction sends, coded with eth_abi like a view."""

    contract: Deployed
    name: str
    args: tuple[Any, ...]

    @property
    def data(self) -> str:
        """The calldata: the function's selector and its arguments, ABI-coded."""
        return encode_call(self.contract, self.name, self.args)


@dataclass
class Chain:
    """A live connection: the JSON-RPC endpoint, the settings it came from and the artifacts of our contracts."""

    rpc: JsonRpc
    settings: Settings
    chain_id: int
    artifacts: dict[str, Artifact] = field(repr=False)
    _deployment: tuple[int | None, Deployment] | None = field(default=None, repr=False)

    @functools.cached_property
    def w3(self) -> Web3:
        """web3 over this chain's transport, made (and imported) on first use."""
        return _make_web3(self.rpc)

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

    def ref(self, name: str, address: str | None = None) -> ContractRef:
        """A deployed contract's address and ABI; ``name`` is an artifact name, or ``Artifact:label`` for instances."""
        artifact = name.split(":")[0]
        if artifact not in self.artifacts:
            raise ConfigError(f"no contract named {artifact}")
        if address is None:
            address = self.deployment().address(name)
        return ContractRef(to_checksum_address(address), self.artifacts[artifact].abi)

    def contract(self, name: str, address: str | None = None) -> Contract:
        """A web3 handle on a deployed contract (to build transactions); see :meth:`ref`."""
        ref = self.ref(name, address)
        contract: Contract = self.w3.eth.contract(address=ref.address, abi=ref.abi)  # type: ignore[call-overload]
        return contract

    # ---- reads, without web3 ----
    def block_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def block(self, number: int | str) -> dict[str, Any]:
        """A block's header fields as the node sends them (hex strings); NotFoundError above the head."""
        tag = hex(number) if isinstance(number, int) else number
        block = self.rpc.call("eth_getBlockByNumber", tag, False)
        if block is None:
            raise NotFoundError(f"no block {number}")
        return dict(block)

    def transaction(self, tx_hash: str) -> dict[str, Any]:
        """A transaction's fields as the node sends them (hex strings); NotFoundError for one it does not know."""
        found = self.rpc.call("eth_getTransactionByHash", tx_hash)
        if found is None:
            raise NotFoundError(f"no transaction {tx_hash}")
        return dict(found)

    def logs(self, address: str, from_block: int, to_block: int) -> list[dict[str, Any]]:
        """A contract's logs in a block range, as the node sends them (hex strings)."""
        return list(
            self.rpc.call("eth_getLogs", {"address": address, "fromBlock": hex(from_block), "toBlock": hex(to_block)})
        )

    def view(
        self, contract: Deployed, name: str, *args: Any, block: int | None = None, sender: str | None = None
    ) -> Any:
        """A view call: one ``eth_call`` with the ABI coded here, without web3's contract machinery (which costs
        several milliseconds a call in Python, and a second to import). One output comes back bare, several as a
        tuple, one struct as a dict of its named fields; a revert raises ContractRevert. ``sender`` is the call's
        ``from`` (a transaction's dry run).
        """
        _, _, outputs, fields = _view_abi(contract, name)
        call = {"to": str(contract.address), "data": encode_call(contract, name, args)}
        if sender is not None:
            call["from"] = sender
        response = self.rpc.request("eth_call", [call, "latest" if block is None else hex(block)])
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
        tx = self.rpc.call("eth_getTransactionByHash", hx(tx_hash)) or {}
        call = {k: tx[k] for k in ("from", "to", "value") if tx.get(k) is not None}
        call["data"] = tx.get("input") or tx.get("data") or "0x"
        try:
            self.rpc.call("eth_call", call, hex(int(receipt["blockNumber"]) - 1))
        except RpcError as exc:
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


def encode_call(contract: Deployed, name: str, args: tuple[Any, ...]) -> str:
    """The calldata of one of ``contract``'s functions with ``args``, as a 0x hex string."""
    selector, inputs, _, _ = _view_abi(contract, name)
    try:
        encoded = abi_encode(inputs, list(args))
    except EncodingError as exc:  # a trade id above uint256 is the caller's input, not a bug
        raise ValidationError(f"a value does not fit the argument types of the contract's {name}") from exc
    return "0x" + (selector + encoded).hex()


# The ABI's text by the identity of the list it came from (kept alive here, so an id is never reused while cached):
# dumping a large ABI on every call would cost more than the call.
_ABI_TEXT: dict[int, tuple[Any, str]] = {}


def _view_abi(contract: Deployed, name: str) -> ViewAbi:
    abi = contract.abi
    cached = _ABI_TEXT.get(id(abi))
    if cached is None or cached[0] is not abi:
        if len(_ABI_TEXT) > 256:
            _ABI_TEXT.clear()
        cached = _ABI_TEXT[id(abi)] = (abi, json.dumps(abi, sort_keys=True))
    return _abi_of(str(contract.address), name, cached[1])


def guarded(call: Any) -> Any:
    """Run an RPC call, turning connection failures into ChainUnavailableError. Our transport raises it already;
    this covers what reaches the node another way."""
    try:
        return call()
    except ChainUnavailableError:
        raise
    except OSError as exc:  # refused, reset, timed out (requests' errors are OSErrors too)
        raise ChainUnavailableError("chain unavailable: cannot reach the JSON-RPC node") from exc


def _make_web3(rpc: JsonRpc) -> Web3:
    from web3 import Web3

    from trace_api.chain.web3_provider import RpcProvider

    return Web3(RpcProvider(rpc))


def connect(settings: Settings, *, autostart: bool = True) -> Chain:
    """Connect to the configured node, starting the local one first when allowed and needed."""
    if autostart:
        node.ensure_running(settings)
    rpc = JsonRpc(settings.effective_rpc_url)
    try:
        chain_id = int(rpc.call("eth_chainId"), 16)
    except (RpcError, TypeError, ValueError) as exc:
        raise ChainUnavailableError(f"chain unavailable: {exc}") from exc
    if chain_id != settings.chain_id:
        raise ConfigError(f"the node at the RPC URL has chain id {chain_id}, but TRACE_CHAIN_ID is {settings.chain_id}")
    return Chain(rpc=rpc, settings=settings, chain_id=chain_id, artifacts=load_artifacts())
