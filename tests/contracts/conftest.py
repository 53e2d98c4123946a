"""Shared brownie fixtures: a TraceRegistry with one role holder per role, and per-test chain isolation."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3

ROLE_NAMES = ("PRODUCER_ROLE", "PROCESSOR_ROLE", "CARRIER_ROLE", "INSPECTOR_ROLE", "RETAILER_ROLE")


@pytest.fixture(autouse=True)
def isolation(fn_isolation: Any) -> None:
    """Roll the chain back after every test."""


@pytest.fixture(scope="module")
def admin(accounts: Any) -> Any:
    return accounts[0]


@pytest.fixture(scope="module")
def producer(accounts: Any) -> Any:
    return accounts[1]


@pytest.fixture(scope="module")
def processor(accounts: Any) -> Any:
    return accounts[2]


@pytest.fixture(scope="module")
def carrier(accounts: Any) -> Any:
    return accounts[3]


@pytest.fixture(scope="module")
def inspector(accounts: Any) -> Any:
    return accounts[4]


@pytest.fixture(scope="module")
def retailer(accounts: Any) -> Any:
    return accounts[5]


@pytest.fixture(scope="module")
def stranger(accounts: Any) -> Any:
    """An account that holds no role."""
    return accounts[9]


@pytest.fixture(scope="module")
def registry(TraceRegistry: Any, accounts: Any) -> Any:
    """TraceRegistry administered by accounts[0], with accounts[1..5] holding PRODUCER, PROCESSOR, CARRIER,
    INSPECTOR and RETAILER roles in that order."""
    reg = TraceRegistry.deploy(accounts[0], {"from": accounts[0]})
    for account, name in zip(accounts[1:6], ROLE_NAMES, strict=False):
        reg.grantRole(Web3.keccak(text=name), account, {"from": accounts[0]})
    return reg
