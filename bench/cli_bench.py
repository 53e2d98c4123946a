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


def _median_seconds(args: list[str], env: dict[str, str]) -> float:
    env = {**env, "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    subprocess.run(args, cwd=ROOT, env={**_environ(), **env}, capture_output=True)  # warm-up: bytecode cached
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        proc = subprocess.run(args, cwd=ROOT, env={**_environ(), **env}, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[3:]} failed: {proc.stderr[-300:]}")
    return statistics.median(times)


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(env: BenchEnv) -> list[dict[str, Any]]:
    trace = [sys.executable, "-m", "cli.main"]
    trace_env = {"TRACE_HOME": str(env.settings.home), "TRACE_NODE_PORT": str(env.settings.node_port)}
    lot = "CLI" + uuid.uuid4().hex[:8].upper()
    subprocess.run(
        [*trace, "batch", "register", "--gtin", GTIN, "--lot", lot],
        cwd=ROOT,
        env={**os.environ, **trace_env},
        capture_output=True,
        check=True,
    )
    bare = _median_seconds([sys.executable, "-c", "pass"], {})
    web3 = _median_seconds([sys.executable, "-c", "import web3"], {})
    help_s = _median_seconds([*trace, "--help"], trace_env)
    read_s = _median_seconds([*trace, "batch", "show", GTIN, lot], trace_env)
    write_s = _median_seconds([*trace, "event", "add", GTIN, lot, "--step", "storing"], trace_env)
    return [
        row("cli.python_seconds", bare, "s", None),
        row("cli.import_web3_seconds", web3, "s", bare),
        row("cli.help_seconds", help_s, "s", bare),
        row("cli.read_seconds", read_s, "s", web3),
        row("cli.write_seconds", write_s, "s", web3),
    ]
