"""Transaction receipts as the node sends them (hex strings), typed the way web3 types them: numbers as ints,
hashes and data as HexBytes, addresses checksummed. Callers read them like web3's, and web3's event decoding
(``process_receipt``) accepts them, without importing web3 to send."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes

if TYPE_CHECKING:
    from web3.types import TxReceipt

_INTS = frozenset(
    {
        "blockNumber",
        "transactionIndex",
        "cumulativeGasUsed",
        "status",
        "gasUsed",
        "effectiveGasPrice",
        "type",
        "blobGasPrice",
        "blobGasUsed",
        "logIndex",
    }
)
_BYTES = frozenset({"blockHash", "transactionHash", "logsBloom", "data"})
_ADDRESSES = frozenset({"contractAddress", "from", "to", "address"})


def _typed(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in _INTS:
        return int(value, 16) if isinstance(value, str) else value
    if key in _BYTES:
        return HexBytes(value)
    if key in _ADDRESSES:
        return to_checksum_address(value)
    if key == "topics":
        return [HexBytes(t) for t in value]
    if key == "logs":
        return [{k: _typed(k, v) for k, v in log.items()} for log in value]
    return value


def typed_receipt(raw: dict[str, Any]) -> TxReceipt:
    """A receipt from ``eth_getTransactionReceipt``, with web3's types."""
    return cast("TxReceipt", {k: _typed(k, v) for k, v in raw.items()})
