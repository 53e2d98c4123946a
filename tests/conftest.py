"""Shared fixtures for the pytest suites (brownie's contract tests load this file too, so names are prefixed
to stay clear of brownie's own fixtures such as `chain` and `accounts`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trace_api.chain.node import free_port  # noqa: F401 - shared with the test modules

ROOT = Path(__file__).resolve().parents[1]
TRACE = [sys.executable, "-m", "cli.main"]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


# `make` sets PYTHONDONTWRITEBYTECODE to keep the tree free of __pycache__, so every `trace` subprocess compiled our
# modules again (about 0.25 s of CPU a run, hundreds of runs). Subprocesses cache bytecode outside the tree instead.
PYCACHE = ROOT / "build" / "pycache"


def cli_environ(env: dict[str, str]) -> dict[str, str]:
    """os.environ plus ``env``, for a `trace` subprocess: bytecode cached under build/pycache."""
    merged = {**os.environ, "PYTHONPYCACHEPREFIX": str(PYCACHE), **env}
    merged.pop("PYTHONDONTWRITEBYTECODE", None)
    return merged


def run_trace(*args: str, env: dict[str, str], timeout: float = 180) -> CliResult:
    """Run the real `trace` command in a subprocess."""
    proc = subprocess.run(
        [*TRACE, *args], env=cli_environ(env), cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def trace_ok(env: dict[str, str], *args: str) -> Any:
    """Run `trace ... --json`, assert it exits 0, return its JSON output."""
    import json

    result = run_trace(*args, "--json", env=env)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def trace_fails(env: dict[str, str], code: int, *args: str) -> str:
    """Run `trace ...`, assert it exits ``code`` with one `trace: error:` line on stderr; return that line."""
    result = run_trace(*args, env=env)
    assert result.code == code, (result.code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trace: error: "), result.stderr
    return lines[0]


STATE_INTERVAL_S = 2  # for tests that time kills against the node's state dumps


def with_fast_dumps(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the local node dumping its state every STATE_INTERVAL_S seconds (10 by default)."""
    return {**env, "TRACE_NODE_STATE_INTERVAL": str(STATE_INTERVAL_S)}


@pytest.fixture
def trace_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for an isolated trace: its own TRACE_HOME and node port. Stops the node afterwards."""
    env = {"TRACE_HOME": str(tmp_path / "home"), "TRACE_NODE_PORT": str(free_port())}
    yield env
    run_trace("node", "stop", env=env)


@pytest.fixture(scope="session")
def trace_session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One node with the contracts deployed, shared by the tests of a session that only read or add state."""
    home = tmp_path_factory.mktemp("session-home")
    env = {"TRACE_HOME": str(home), "TRACE_NODE_PORT": str(free_port())}
    result = run_trace("deploy", env=env)
    assert result.code == 0, result.stderr
    yield env
    run_trace("node", "stop", env=env)


@pytest.fixture(scope="session")
def trace_session_settings(trace_session_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from trace_api.config import Settings

    return Settings(home=Path(trace_session_env["TRACE_HOME"]), node_port=int(trace_session_env["TRACE_NODE_PORT"]))


@pytest.fixture(scope="session")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], dict]]:
    """A node on which `trace demo --no-serve` told the whole story once; (env, demo summary)."""
    import json

    home = tmp_path_factory.mktemp("demo-home")
    env = {"TRACE_HOME": str(home), "TRACE_NODE_PORT": str(free_port())}
    result = run_trace("demo", "--no-serve", "--json", env=env, timeout=600)
    assert result.code == 0, result.stderr
    yield env, json.loads(result.stdout)
    run_trace("node", "stop", env=env)
