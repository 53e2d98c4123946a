"""Sign locally, manage nonces, send, and wait for receipts; reverts come back as ContractRevert.

One sender per account and process. Nonces are handed out under a lock from a local counter that is
re-synchronised with the node's pending count whenever the node disagrees, so concurrent callers never
collide and a restart picks up where the chain is.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxReceipt

from trace_api.chain.client import Chain, guarded
from trace_api.errors import ContractRevert, TraceError

GAS_MARGIN = 1.2
RECEIPT_TIMEOUT_S = 120.0
FEE_CACHE_S = 5.0

Callable_ = ContractFunction | ContractConstructor


class TxSender:
    def __init__(self, chain: Chain, account: LocalAccount) -> None:
        self.chain = chain
        self.account = account
        self.address = account.address
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._fees: tuple[float, dict[str, int]] | None = None

    # ---- nonces and fees ----
    def _take_nonce(self) -> int:
        with self._lock:
            pending = guarded(lambda: self.chain.w3.eth.get_transaction_count(self.address, "pending"))
            if self._next_nonce is None or pending > self._next_nonce:
                self._next_nonce = pending
            nonce = self._next_nonce
            self._next_nonce += 1
            return nonce

    def _resync(self) -> None:
        with self._lock:
            self._next_nonce = None

    def _fee_fields(self) -> dict[str, int]:
        now = time.monotonic()
        if self._fees and now - self._fees[0] < FEE_CACHE_S:
            return self._fees[1]
        w3 = self.chain.w3
        base = int(guarded(lambda: w3.eth.get_block("latest")).get("baseFeePerGas", 0))
        tip = int(guarded(lambda: w3.eth.max_priority_fee)) if base else 0
        fields = {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}
        self._fees = (now, fields)
        return fields

    # ---- reverts ----
    def _revert_from(self, exc: Exception) -> ContractRevert:
        data = getattr(exc, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(exc, Web3RPCError) and data is None:
            err = (exc.rpc_response or {}).get("error", {}) if hasattr(exc, "rpc_response") else {}
            data = err.get("data") if isinstance(err, dict) else None
        if isinstance(data, str) and data.startswith("0x"):
            return self.chain.errors.decode(data)
        return ContractRevert("", (), f"transaction reverted: {exc}")

    def estimate(self, tx: dict[str, Any]) -> int:
        try:
            return int(guarded(lambda: self.chain.w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, Web3RPCError) as exc:
            raise self._revert_from(exc) from exc

    def call(self, fn: ContractFunction) -> Any:
        try:
            return guarded(lambda: fn.call({"from": self.address}))
        except (ContractCustomError, ContractLogicError, Web3RPCError) as exc:
            raise self._revert_from(exc) from exc

    # ---- sending ----
    def submit(self, fn: Callable_, *, value: int = 0, gas: int | None = None) -> HexBytes:
        """Estimate (decoding any revert before anything is sent), sign and send; returns the tx hash."""
        base_tx: dict[str, Any] = {"from": self.address, "value": value, "chainId": self.chain.chain_id}
        tx = fn.build_transaction({**base_tx, "gas": 1})  # type: ignore[arg-type]
        tx.pop("gas", None)
        for key in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice", "nonce"):
            tx.pop(key, None)  # type: ignore[misc]
        if gas is None:
            gas = int(self.estimate(tx) * GAS_MARGIN)  # type: ignore[arg-type]
        tx.update({"gas": gas, **self._fee_fields()})  # type: ignore[typeddict-item]
        for attempt in range(2):
            tx["nonce"] = self._take_nonce()
            signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
            try:
                return HexBytes(guarded(lambda: self.chain.w3.eth.send_raw_transaction(signed.raw_transaction)))
            except Web3RPCError as exc:
                text = str(exc).lower()
                if attempt == 0 and ("nonce too low" in text or "already known" in text or "nonce" in text):
                    self._resync()
                    continue
                raise self._revert_from(exc) from exc
        raise TraceError("could not find a free nonce")

    def wait(self, tx_hash: HexBytes, *, timeout: float = RECEIPT_TIMEOUT_S) -> TxReceipt:
        try:
            receipt = guarded(lambda: self.chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout, 0.05))
        except TimeExhausted as exc:
            raise TraceError(f"transaction {tx_hash.hex()} not mined within {timeout:.0f} s") from exc
        if receipt["status"] != 1:
            raise self._replay_failure(tx_hash, receipt)
        return receipt

    def _replay_failure(self, tx_hash: HexBytes, receipt: TxReceipt) -> ContractRevert:
        w3 = self.chain.w3
        tx = w3.eth.get_transaction(tx_hash)
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}  # type: ignore[literal-required]
        if "input" in tx and "data" not in call:
            call["data"] = tx["input"]  # type: ignore[typeddict-item]
        try:
            w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, Web3RPCError) as exc:
            return self._revert_from(exc)
        return ContractRevert("", (), f"transaction {tx_hash.hex()} failed (out of gas?)")

    def transact(self, fn: Callable_, *, value: int = 0, gas: int | None = None) -> TxReceipt:
        return self.wait(self.submit(fn, value=value, gas=gas))
