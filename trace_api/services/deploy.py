"""Deploy TraceRegistry and TradeEscrow (and, on the local chain, mock stablecoins and dev roles)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3

from trace_api.chain import node
from trace_api.chain.accounts import dev_account
from trace_api.chain.artifacts import Artifact
from trace_api.chain.client import Chain, connect, guarded
from trace_api.chain.sender import TxSender
from trace_api.config import Settings
from trace_api.deployments import Deployed, Deployment, load_deployment, save_deployment
from trace_api.domain import hx

# Mock stablecoins on the local chain: symbol -> name. 6 decimals, EIP-2612 permit.
DEV_TOKENS = {"USDC": "USD Coin (local mock)", "EURC": "Euro Coin (local mock)"}
DEV_TOKEN_FUNDING = 1_000_000 * 10**6  # per dev buyer, in token units
DEV_ROLES = {
    "producer": "PRODUCER_ROLE",
    "processor": "PROCESSOR_ROLE",
    "carrier": "CARRIER_ROLE",
    "inspector": "INSPECTOR_ROLE",
    "retailer": "RETAILER_ROLE",
    "seller": "PRODUCER_ROLE",
}
DEV_BUYERS = ("buyer", "retailer")
# Mock price feeds on the local chain, quoting one unit of the currency in USD (so in USDC), 8 decimals like
# Chainlink's fiat feeds: pair -> (currency, ISO 4217 minor unit, answer).
DEV_FEEDS = {"EUR/USD": ("EUR", 2, 108_000_000), "CNY/USD": ("CNY", 2, 13_800_000)}
DEV_FEED_DECIMALS = 8
# Chainlink's fiat feeds post at least daily; a round older than a day and an hour is stale.
DEV_FEED_MAX_AGE_S = 25 * 3600
DEFAULT_FEE_BPS = 50  # 0.5 % platform fee on the local chain


class DeployResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    deployment: Deployment = Field(description="The deployment record, as saved under TRACE_HOME/deployments")
    deployed: bool = Field(description="False when the live deployment already matched")


def _code_hash(chain: Chain, address: str) -> str:
    code = guarded(lambda: chain.w3.eth.get_code(Web3.to_checksum_address(address)))
    return hx(Web3.keccak(code))


REQUIRED = ("TraceRegistry", "OrgDirectory", "TradeEscrow")


def matches_live(chain: Chain, record: Deployment) -> bool:
    """True if every contract the tool needs is recorded, and every recorded contract is live with the recorded
    code and was built from today's sources."""
    if any(name not in record.contracts for name in REQUIRED):
        return False
    for name, item in record.contracts.items():
        artifact = chain.artifacts.get(name.split(":")[0])
        if artifact is None or artifact.bytecode_hash != item.bytecode_hash:
            return False
        if _code_hash(chain, item.address) != item.code_hash:
            return False
    return bool(record.contracts)


def _deploy_one(chain: Chain, sender: TxSender, artifact: Artifact, *args: Any) -> Deployed:
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = sender.transact(factory.constructor(*args))
    address = receipt["contractAddress"]
    assert address is not None
    return Deployed(
        address=address,
        tx_hash=hx(receipt["transactionHash"]),
        block=receipt["blockNumber"],
        bytecode_hash=artifact.bytecode_hash,
        code_hash=_code_hash(chain, address),
        args=[hx(a) if isinstance(a, bytes) else a for a in args],
    )


def deploy(*, chain: Chain, account: LocalAccount, force: bool = False) -> DeployResult:
    """Deploy the contracts and write ``TRACE_HOME/deployments/<chainId>.json``; a no-op when live and current."""
    existing = load_deployment(chain.settings, chain.chain_id)
    if existing is not None and not force and matches_live(chain, existing):
        return DeployResult(deployment=existing, deployed=False)

    sender = TxSender(chain, account)
    dev = chain.settings.is_dev_chain(chain.chain_id)
    contracts: dict[str, Deployed] = {}
    contracts["TraceRegistry"] = _deploy_one(chain, sender, chain.artifacts["TraceRegistry"], account.address)
    contracts["OrgDirectory"] = _deploy_one(
        chain, sender, chain.artifacts["OrgDirectory"], contracts["TraceRegistry"].address
    )
    fee_bps = DEFAULT_FEE_BPS if dev else 0
    contracts["TradeEscrow"] = _deploy_one(
        chain,
        sender,
        chain.artifacts["TradeEscrow"],
        account.address,
        contracts["TraceRegistry"].address,
        fee_bps,
        account.address,
    )
    tokens: dict[str, str] = {}
    if dev:
        tokens = _deploy_dev_tokens(chain, sender, contracts)
        _deploy_dev_feeds(chain, sender, contracts, tokens["USDC"])
        _grant_dev_roles(chain, sender, contracts["TraceRegistry"].address)
    record = Deployment(
        chain_id=chain.chain_id,
        deployer=account.address,
        contracts=contracts,
        tokens=tokens,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    save_deployment(chain.settings, record)
    return DeployResult(deployment=record, deployed=True)


def _deploy_dev_tokens(chain: Chain, sender: TxSender, contracts: dict[str, Deployed]) -> dict[str, str]:
    escrow = chain.contract("TradeEscrow", contracts["TradeEscrow"].address)
    tokens: dict[str, str] = {}
    pending = []
    for symbol, name in DEV_TOKENS.items():
        deployed = _deploy_one(chain, sender, chain.artifacts["MockStablecoin"], name, symbol)
        contracts[f"MockStablecoin:{symbol}"] = deployed
        tokens[symbol] = deployed.address
        token = chain.contract("MockStablecoin", deployed.address)
        for buyer in DEV_BUYERS:
            pending.append(sender.submit(token.functions.mint(dev_account(buyer).address, DEV_TOKEN_FUNDING)))
        pending.append(sender.submit(escrow.functions.setTokenAllowed(deployed.address, True)))
    for tx_hash in pending:
        sender.wait(tx_hash)
    return tokens


def _deploy_dev_feeds(chain: Chain, sender: TxSender, contracts: dict[str, Deployed], usdc: str) -> None:
    """Mock EUR/USD and CNY/USD feeds, set on the escrow for invoices settled in USDC. On another network the
    admin sets the real feed per pair with ``setPriceFeed``."""
    escrow = chain.contract("TradeEscrow", contracts["TradeEscrow"].address)
    pending = []
    for pair, (currency, minor_unit, answer) in DEV_FEEDS.items():
        deployed = _deploy_one(
            chain, sender, chain.artifacts["MockV3Aggregator"], DEV_FEED_DECIMALS, pair.replace("/", " / "), answer
        )
        contracts[f"MockV3Aggregator:{pair}"] = deployed
        pending.append(
            sender.submit(
                escrow.functions.setPriceFeed(currency.encode(), usdc, deployed.address, DEV_FEED_MAX_AGE_S, minor_unit)
            )
        )
    for tx_hash in pending:
        sender.wait(tx_hash)


def refresh_dev_feeds(chain: Chain, account: LocalAccount) -> None:
    """Post a fresh round, at the same rate, on each mock feed of the local deployment: a chain kept for days
    otherwise has only stale rounds. ``account`` is the deployer, which owns the mocks."""
    sender = TxSender(chain, account)
    for name, item in chain.deployment().contracts.items():
        if name.startswith("MockV3Aggregator:"):
            feed = chain.contract("MockV3Aggregator", item.address)
            answer = guarded(lambda feed=feed: feed.functions.latestRoundData().call())[1]
            sender.transact(feed.functions.updateAnswer(answer))


def _grant_dev_roles(chain: Chain, sender: TxSender, registry_address: str) -> None:
    registry = chain.contract("TraceRegistry", registry_address)
    pending = []
    for name, role in DEV_ROLES.items():
        role_id = getattr(registry.functions, role)().call()
        pending.append(sender.submit(registry.functions.grantRole(role_id, dev_account(name).address)))
    for tx_hash in pending:
        sender.wait(tx_hash)


@contextmanager
def scratch_chain(home: Path) -> Iterator[tuple[Chain, DeployResult]]:
    """A throwaway local node on a free port, with TRACE_HOME ``home`` and the contracts deployed; stopped on exit.
    For benchmarks and tests, which each want a chain of their own."""
    settings = Settings(home=home, node_port=node.free_port())
    node.start(settings)
    try:
        chain = connect(settings, autostart=False)
        yield chain, deploy(chain=chain, account=dev_account("admin"))
    finally:
        node.stop(settings)
