"""The test contracts: MockStablecoin (6 decimals, EIP-2612 permit, owner-only mint) and NaiveSupplyChain."""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from eth_account import Account

USD = 10**6


@pytest.fixture(scope="module")
def usdc(MockStablecoin: Any, admin: Any) -> Any:
    return MockStablecoin.deploy("USD Coin", "USDC", {"from": admin})


def test_metadata(usdc: Any, admin: Any) -> None:
    assert usdc.name() == "USD Coin" and usdc.symbol() == "USDC"
    assert usdc.decimals() == 6
    assert usdc.owner() == admin
    assert usdc.totalSupply() == 0


def test_mint_is_owner_only(usdc: Any, admin: Any, producer: Any) -> None:
    tx = usdc.mint(producer, 250 * USD, {"from": admin})
    assert tx.events["Transfer"]["value"] == 250 * USD
    assert usdc.balanceOf(producer) == 250 * USD
    with brownie.reverts(f"OwnableUnauthorizedAccount: {str(producer).lower()}"):
        usdc.mint(producer, 1, {"from": producer})


def test_permit(usdc: Any, admin: Any, producer: Any, chain: Any) -> None:
    owner = Account.create()
    usdc.mint(owner.address, 100 * USD, {"from": admin})
    deadline = chain.time() + 3600
    message = {
        "owner": owner.address,
        "spender": producer.address,
        "value": 40 * USD,
        "nonce": usdc.nonces(owner.address),
        "deadline": deadline,
    }
    domain = {"name": "USD Coin", "version": "1", "chainId": chain.id, "verifyingContract": usdc.address}
    types = {
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]
    }
    signed = Account.sign_typed_data(owner.key, domain, types, message)
    usdc.permit(owner.address, producer, 40 * USD, deadline, signed.v, signed.r, signed.s, {"from": producer})
    assert usdc.allowance(owner.address, producer) == 40 * USD
    assert usdc.nonces(owner.address) == 1
    usdc.transferFrom(owner.address, producer, 40 * USD, {"from": producer})
    assert usdc.balanceOf(producer) == 40 * USD
    with brownie.reverts():  # the same signature cannot be replayed: the nonce moved on
        usdc.permit(owner.address, producer, 40 * USD, deadline, signed.v, signed.r, signed.s, {"from": producer})


def test_naive_supply_chain_overwrites(NaiveSupplyChain: Any, producer: Any, carrier: Any) -> None:
    naive = NaiveSupplyChain.deploy({"from": producer})
    naive.addStep("LOT-1", "Commissioning", "Farm 12", "Harvested", {"from": producer})
    tx = naive.addStep("LOT-1", "Shipping", "Port of Valencia", "Loaded on MSC Anna", {"from": carrier})
    e = tx.events["StepAdded"]
    assert e["batchId"] == "LOT-1" and e["name"] == "Shipping" and e["actor"] == carrier
    name, location, description, actor, timestamp = naive.getStep("LOT-1")
    assert (name, location, description) == ("Shipping", "Port of Valencia", "Loaded on MSC Anna")
    assert actor == carrier and timestamp == tx.timestamp
    assert naive.batches("LOT-1")[0] == "Shipping"
