"""CLI start-up as a producer's shell loop sees it: whole processes, median of 5 runs each.

Same-run baselines: `python -c pass` (the interpreter) and `python -c "import web3"` (the library a chain command
would otherwise need). Each command runs once untimed first, with bytecode cached outside the tree (`make` sets
PYTHONDONTWRITEBYTECODE): an installed package runs from bytecode compiled at install, as web3 does here, so compiling
our modules on every run would time what no user waits for."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import BenchEnv, row

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
GTIN = "09506000134352"
PYCACHE = ROOT / "build" / "pycache"


def _medians(commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, float]:
    """Median wall time of each command over RUNS rounds. The rounds interleave the commands, so a slow spell of the
    machine weighs on the baselines as on the commands compared with them."""
    env = {**_environ(), **env, "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    for args in commands.values():
        subprocess.run(args, cwd=ROOT, env=env, capture_output=True)  # warm-up: bytecode cached
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, args in commands.items():
            started = time.perf_counter()
            proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - started)
            if proc.returncode != 0:
                raise RuntimeError(f"{name} failed: {proc.stderr[-300:]}")
    return {name: statistics.median(found) for name, found in times.items()}


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(env: BenchEnv) -> list[dict[str, Any]]:
    trace = [sys.executable, "-m", "cli.main"]
    trace_env = {"TRACE_HOME": str(env.settings.home), "TRACE_NODE_PORT": str(env.settings.node_port)}
    # Two batches: the one read holds a step and does not grow while the other takes the writes.
    read_lot, write_lot = ("CLI" + uuid.uuid4().hex[:8].upper() for _ in range(2))
    for args in (
        ["batch", "register", "--gtin", GTIN, "--lot", read_lot],
        ["event", "add", GTIN, read_lot, "--step", "storing"],
        ["batch", "register", "--gtin", GTIN, "--lot", write_lot],
    ):
        subprocess.run([*trace, *args], cwd=ROOT, env={**os.environ, **trace_env}, capture_output=True, check=True)
    found = _medians(
        {
            "bare": [sys.executable, "-c", "pass"],
            "web3": [sys.executable, "-c", "import web3"],
            "help": [*trace, "--help"],
            "read": [*trace, "batch", "show", GTIN, read_lot],
            "write": [*trace, "event", "add", GTIN, write_lot, "--step", "storing"],
        },
        trace_env,
    )
    bare, web3 = found["bare"], found["web3"]
    return [
        row("cli.python_seconds", bare, "s", None),
        row("cli.import_web3_seconds", web3, "s", bare),
        row("cli.help_seconds", found["help"], "s", bare),
        row("cli.read_seconds", found["read"], "s", web3),
        row("cli.write_seconds", found["write"], "s", web3),
    ]
