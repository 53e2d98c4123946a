"""What every benchmark module shares: the row type and a throwaway deployed local chain."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace_api.chain import node
from trace_api.chain.accounts import dev_account
from trace_api.chain.client import Chain, connect
from trace_api.config import Settings
from trace_api.services.deploy import deploy


def row(metric: str, value: float, unit: str, baseline: float | None) -> dict[str, Any]:
    """One result; ratio is ours ÷ baseline (below 1 is better for costs, above 1 for rates)."""
    ratio = round(value / baseline, 3) if baseline else None
    return {"metric": metric, "value": round(value, 3), "unit": unit, "baseline": baseline, "ratio": ratio}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BenchEnv:
    settings: Settings
    chain: Chain
    workdir: Path


@contextmanager
def bench_env() -> Iterator[BenchEnv]:
    """A fresh TRACE_HOME with its own node and deployment, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp:
        settings = Settings(home=Path(tmp) / "home", node_port=free_port())
        node.start(settings)
        try:
            chain = connect(settings, autostart=False)
            deploy(chain=chain, account=dev_account("admin"))
            yield BenchEnv(settings=settings, chain=chain, workdir=Path(tmp))
        finally:
            node.stop(settings)
