"""What the `trace escrow` CLI tests share: a local node with the contracts deployed (one per test module, through
the `chain_env` fixture of tests/cli/conftest.py), the command run against it, and the chain read directly to check
what the command did."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract

from tests.conftest import CliResult, free_port, run_trace
from trace_api.chain.accounts import dev_account
from trace_api.chain.compiler import get_artifact

GTIN = "09506000134352"
ADMIN = dev_account("admin").address
FEED_PAIRS = ("EUR/USD", "CNY/USD")  # the local deploy's mock price feeds


@dataclass
class Env:
    env: dict[str, str]
    w3: Web3
    escrow: Contract
    usdc: Contract
    feeds: dict[str, Contract]

    def trace(self, *args: str) -> CliResult:
        return run_trace(*args, env=self.env)

    def ok(self, *args: str) -> Any:
        """Run with --json; the command must succeed."""
        result = run_trace(*args, "--json", env=self.env)
        assert result.code == 0, result.stderr
        return json.loads(result.stdout)

    def nonce(self, address: str) -> int:
        return self.w3.eth.get_transaction_count(address)

    def time_travel(self, seconds: int) -> None:
        assert "error" not in self.w3.provider.make_request("evm_increaseTime", [seconds])
        assert "error" not in self.w3.provider.make_request("evm_mine", [])

    def transact(self, fn: Any) -> None:
        """Send ``fn`` as the admin (a test's own move on the chain, not the command's)."""
        self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": ADMIN}))


def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    home = tmp_path_factory.mktemp("escrow-cli")
    env = {"TRACE_HOME": str(home), "TRACE_NODE_PORT": str(free_port())}
    done = run_trace("deploy", "--json", env=env)
    try:
        assert done.code == 0, done.stderr
        record = json.loads(done.stdout)
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{env['TRACE_NODE_PORT']}"))
        contracts = record["contracts"]
        escrow = w3.eth.contract(contracts["TradeEscrow"]["address"], abi=get_artifact("TradeEscrow").abi)
        usdc = w3.eth.contract(record["tokens"]["USDC"], abi=get_artifact("MockStablecoin").abi)
        feed_abi = get_artifact("MockV3Aggregator").abi
        feeds = {p: w3.eth.contract(contracts[f"MockV3Aggregator:{p}"]["address"], abi=feed_abi) for p in FEED_PAIRS}
        yield Env(env, w3, escrow, usdc, feeds)
    finally:
        run_trace("node", "stop", env=env)


def one_error_line(result: CliResult) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trace: error: ")
    return lines[0]


def register(e: Env, lot: str) -> None:
    e.ok("batch", "register", "--gtin", GTIN, "--lot", lot, "--as", "seller")
