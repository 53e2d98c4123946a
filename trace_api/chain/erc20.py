"""The standard ERC-20 read ABI (EIP-20: name, symbol, decimals, balanceOf, allowance, totalSupply), for any token.

Real tokens are read through this, never through the ABI of a test mock.
"""

from __future__ import annotations

from typing import Any


def _view(name: str, inputs: list[tuple[str, str]], output: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [{"name": n, "type": t} for n, t in inputs],
        "outputs": [{"name": "", "type": output}],
    }


ERC20_READ_ABI: list[dict[str, Any]] = [
    _view("name", [], "string"),
    _view("symbol", [], "string"),
    _view("decimals", [], "uint8"),
    _view("totalSupply", [], "uint256"),
    _view("balanceOf", [("account", "address")], "uint256"),
    _view("allowance", [("owner", "address"), ("spender", "address")], "uint256"),
]
