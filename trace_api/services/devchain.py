"""Steering the local development chain's clock: mine blocks, jump ahead in time, follow the wall clock.

Only on the embedded local chain (local RPC URL and the local chain id); refused anywhere else, where time is
real and nobody may move it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field
from web3.types import RPCEndpoint

from trace_api.chain.accounts import dev_account
from trace_api.chain.client import Chain, guarded
from trace_api.config import LOCAL_CHAIN_ID
from trace_api.errors import ChainUnavailableError, ConfigError, NotFoundError, ValidationError
from trace_api.services.deploy import refresh_dev_feeds

MAX_BLOCKS = 10_000
MAX_WARP_S = 5 * 365 * 86400


class ChainClock(BaseModel):
    """The local chain's latest block and its time."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    block: int
    timestamp: int = Field(description="Unix seconds of the latest block")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def time(self) -> str:
        """The block's time, ISO 8601 in UTC."""
        return datetime.fromtimestamp(self.timestamp, UTC).isoformat().replace("+00:00", "Z")


def is_dev_chain(chain: Chain) -> bool:
    return chain.settings.is_dev_chain(chain.chain_id)


def require_dev_chain(chain: Chain, what: str) -> None:
    if not is_dev_chain(chain):
        raise ConfigError(
            f"{what} works only on the local development chain (chain id {LOCAL_CHAIN_ID}), "
            f"not on chain {chain.chain_id}"
        )


def clock(chain: Chain) -> ChainClock:
    block = guarded(lambda: chain.w3.eth.get_block("latest"))
    return ChainClock(block=int(block["number"]), timestamp=int(block["timestamp"]))


def _rpc(chain: Chain, method: str, params: list[Any]) -> None:
    response = chain.w3.provider.make_request(RPCEndpoint(method), params)
    if "error" in response:
        raise ChainUnavailableError(f"the node refused {method}: {response['error']}")


def mine(*, chain: Chain, blocks: int = 1) -> ChainClock:
    """Mine ``blocks`` empty blocks on the local chain."""
    require_dev_chain(chain, "trace node mine")
    if not 1 <= blocks <= MAX_BLOCKS:
        raise ValidationError(f"--blocks must be between 1 and {MAX_BLOCKS}, got {blocks}")
    _rpc(chain, "anvil_mine", [hex(blocks)])
    return clock(chain)


def warp(*, chain: Chain, seconds: int) -> ChainClock:
    """Move the local chain's time ``seconds`` ahead and mine a block at that time."""
    require_dev_chain(chain, "trace node warp")
    if not 1 <= seconds <= MAX_WARP_S:
        raise ValidationError(f"warp must be between 1 s and 5 years, got {seconds} s")
    target = clock(chain).timestamp + seconds
    _rpc(chain, "evm_mine", [target])
    keep_mock_feeds_fresh(chain)
    return clock(chain)


MOCK_FEED_FRESH_S = 3600


def keep_mock_feeds_fresh(chain: Chain) -> None:
    """After a warp on the local chain, post a new round (same rate) on each mock price feed whose latest round is
    over an hour older than chain time, as a live feed would have: otherwise the warp leaves only stale rounds and
    an invoiced `escrow open` is refused. Real feeds are never touched; a feed left stale otherwise stays stale."""
    if not is_dev_chain(chain):
        return
    try:
        contracts = chain.deployment().contracts
    except NotFoundError:  # nothing deployed yet: no feeds
        return
    now = clock(chain).timestamp
    for name, item in contracts.items():
        if name.startswith("MockV3Aggregator:"):
            feed = chain.contract("MockV3Aggregator", item.address)
            updated = int(guarded(lambda feed=feed: feed.functions.latestRoundData().call())[3])
            if updated < now - MOCK_FEED_FRESH_S:
                refresh_dev_feeds(chain, dev_account("admin"))
                return


def follow_wall_clock(chain: Chain) -> None:
    """On the local chain, mine one block when the last one is older than the wall clock, so reads that depend on
    `block.timestamp` (deadlines, dispute windows) see the present even when nothing else happens. No-op elsewhere
    and when the chain was warped ahead of the clock."""
    if is_dev_chain(chain) and clock(chain).timestamp < int(time.time()) - 1:
        _rpc(chain, "evm_mine", [])
