"""The standard ERC-20 ABI (EIP-20), for any token: the reads (name, symbol, decimals, balanceOf, allowance,
totalSupply) and `transfer`.

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

ERC20_ABI: list[dict[str, Any]] = [
    *ERC20_READ_ABI,
    {
        "type": "function",
        "name": "transfer",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]
