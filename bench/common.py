"""What every benchmark module shares: the row type and a throwaway deployed local chain."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace_api.chain.client import Chain
from trace_api.config import Settings
from trace_api.services.deploy import scratch_chain


def row(metric: str, value: float, unit: str, baseline: float | None) -> dict[str, Any]:
    """One result; ratio is ours ÷ baseline (below 1 is better for costs, above 1 for rates)."""
    ratio = round(value / baseline, 3) if baseline else None
    shown = None if baseline is None else round(baseline, 3)
    return {"metric": metric, "value": round(value, 3), "unit": unit, "baseline": shown, "ratio": ratio}


@dataclass
class BenchEnv:
    settings: Settings
    chain: Chain
    workdir: Path


@contextmanager
def bench_env() -> Iterator[BenchEnv]:
    """A fresh TRACE_HOME with its own node and deployment, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp, scratch_chain(Path(tmp) / "home") as (chain, _):
        yield BenchEnv(settings=chain.settings, chain=chain, workdir=Path(tmp))
