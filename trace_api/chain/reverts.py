"""Decode reverts into :class:`ContractRevert` carrying the custom-error name and its arguments."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from trace_api.domain import hx
from trace_api.errors import ContractRevert

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


def canonical_type(item: dict[str, Any]) -> str:
    """An ABI input's type as signatures spell it: a struct as the tuple of its members' types."""
    if item["type"].startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


class ErrorDecoder:
    """Knows every custom error of a set of ABIs, by 4-byte selector."""

    def __init__(self, abis: list[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [canonical_type(i) for i in item.get("inputs", [])]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self._errors[selector] = (item["name"], types)

    def from_exception(self, exc: Exception) -> ContractRevert:
        """The revert inside an exception web3 raised for a call or a send (its revert data, wherever web3 put it)."""
        data = getattr(exc, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        if data is None:
            response = getattr(exc, "rpc_response", None) or {}
            err = response.get("error", {}) if isinstance(response, dict) else {}
            data = err.get("data") if isinstance(err, dict) else None
        if isinstance(data, str) and data.startswith("0x"):
            return self.decode(data)
        return ContractRevert("", (), f"transaction reverted: {exc}")

    def decode(self, data: bytes | str | None) -> ContractRevert:
        if isinstance(data, str):
            data = bytes.fromhex(data.removeprefix("0x")) if data.startswith("0x") else b""
        if not data or len(data) < 4:
            return ContractRevert("", (), "transaction reverted without a reason")
        selector, body = data[:4], data[4:]
        if selector == _ERROR_STRING:
            (reason,) = abi_decode(["string"], body)
            return ContractRevert("Error", (reason,), f"reverted: {reason}")
        if selector == _PANIC:
            (code,) = abi_decode(["uint256"], body)
            return ContractRevert("Panic", (code,), f"panic 0x{code:02x}")
        if selector in self._errors:
            name, types = self._errors[selector]
            try:
                values = tuple(_pretty(v) for v in abi_decode(types, body))
            except Exception:  # noqa: BLE001 - malformed revert data still names the error
                values = ()
            return ContractRevert(name, values)
        return ContractRevert("", (), f"reverted with unknown error 0x{selector.hex()}")


def _pretty(value: Any) -> Any:
    if isinstance(value, bytes):
        return hx(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_pretty(v) for v in value)
    return value
