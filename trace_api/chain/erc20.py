"""The one token ABI: ``ITradeToken`` (``contracts/interfaces/``), OpenZeppelin's ``IERC20Metadata``,
``IERC20Permit`` and ``IERC5267`` compiled into the shipped ``contracts.json``: ERC-20 with its metadata (EIP-20),
EIP-2612 permits and the ERC-5267 domain.

Real tokens are read and sent through this, never through the ABI of a test mock.
"""

from __future__ import annotations

from typing import Any

from trace_api.chain.artifacts import load_artifacts

__all__ = ["TOKEN_INTERFACE", "token_abi"]

TOKEN_INTERFACE = "ITradeToken"


def token_abi() -> list[dict[str, Any]]:
    """The compiled ABI of :data:`TOKEN_INTERFACE`, as shipped in the package."""
    return load_artifacts()[TOKEN_INTERFACE].abi
