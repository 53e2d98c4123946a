"""What a transaction offers to pay: EIP-1559 fee fields at the market price (asked of the node, kept a few
seconds), and what a replacement of a pending transaction must offer."""

from __future__ import annotations

import time

from trace_api.chain.client import Chain
from trace_api.chain.rpc import RpcError

FEE_CACHE_S = 5.0
FEE_KEYS = ("maxFeePerGas", "maxPriorityFeePerGas")


def bump(fee: int) -> int:
    """The least fee a node accepts for a replacement: 10 % more, plus 1 wei so that a zero fee rises too."""
    return fee + fee // 10 + 1


class Fees:
    """The fee fields of one sender's transactions."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self._cached: tuple[float, dict[str, int]] | None = None

    def market(self, *, fresh: bool = False) -> dict[str, int]:
        """Twice the latest base fee plus the suggested tip (a cap that survives a few full blocks), and that tip;
        both 0 on a chain without a base fee."""
        now = time.monotonic()
        if self._cached and not fresh and now - self._cached[0] < FEE_CACHE_S:
            return self._cached[1]
        base = int(self.chain.block("latest").get("baseFeePerGas") or "0x0", 16)
        tip = self._tip() if base else 0
        fields = {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}
        self._cached = (now, fields)
        return fields

    def _tip(self) -> int:
        try:
            return int(self.chain.rpc.call("eth_maxPriorityFeePerGas"), 16)
        except RpcError:  # a node without the method: web3 estimates the tip from the fee history
            return int(self.chain.w3.eth.max_priority_fee)

    def replacement(self, previous: dict[str, int]) -> dict[str, int]:
        """The fees of the next version of a pending transaction: today's price, and at least bump() of the last."""
        market = self.market(fresh=True)
        tip = max(bump(int(previous["maxPriorityFeePerGas"])), market["maxPriorityFeePerGas"])
        cap = max(bump(int(previous["maxFeePerGas"])), market["maxFeePerGas"], tip)
        return {"maxFeePerGas": cap, "maxPriorityFeePerGas": tip}

    def at_least_market(self, previous: dict[str, int]) -> dict[str, int]:
        """The fees of a transaction sent again after the node forgot it: at today's price at least, since a node
        evicts what cannot pay the base fee."""
        market = self.market(fresh=True)
        return {k: max(int(previous[k]), market[k]) for k in FEE_KEYS}
