"""Toolchain rows: compile time, node start time, deployment gas."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchEnv, row
from trace_api.chain import node
from trace_api.chain.accounts import dev_account
from trace_api.chain.compiler import compile_contracts
from trace_api.chain.sender import TxSender
from trace_api.chain.toolchain import PROJECT_ROOT, anvil_binary
from trace_api.config import Settings


def _compile_rows() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        compile_contracts(force=True, build_dir=Path(tmp))
        ours = time.perf_counter() - started
    # Baseline: brownie compiling the same sources with the same compiler, in the same run.
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("brownie")), "compile", "--all"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
        env={**os.environ, "PATH": f"{PROJECT_ROOT / 'node_modules/.bin'}:{os.environ['PATH']}"},
    )
    baseline = time.perf_counter() - started
    return [row("compile.seconds", ours, "s", round(baseline, 3))]


def _node_rows() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), node_port=node.free_port())
        started = time.perf_counter()
        node.start(settings)
        ours = time.perf_counter() - started
        node.stop(settings)
    # Baseline: bare anvil, no state file, until it answers JSON-RPC.
    port = node.free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([str(anvil_binary()), "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        while not node._rpc_ready(port):
            time.sleep(0.01)
        baseline = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait()
    return [row("node.start_seconds", ours, "s", round(baseline, 3))]


def _deploy_gas(env: BenchEnv, name: str, *args: Any) -> int:
    artifact = env.chain.artifacts[name]
    factory = env.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = TxSender(env.chain, dev_account("admin")).transact(factory.constructor(*args))
    return int(receipt["gasUsed"])


def run(env: BenchEnv) -> list[dict[str, Any]]:
    record = env.chain.deployment()
    admin = dev_account("admin").address
    naive = _deploy_gas(env, "NaiveSupplyChain")
    registry = _deploy_gas(env, "TraceRegistry", admin)
    escrow_args = record.contracts["TradeEscrow"].args
    escrow = _deploy_gas(env, "TradeEscrow", *escrow_args)
    return [
        *_compile_rows(),
        *_node_rows(),
        row("gas.deploy.TraceRegistry", registry, "gas", naive),
        row("gas.deploy.TradeEscrow", escrow, "gas", naive),
    ]
