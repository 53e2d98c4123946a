"""`python -m bench`: run every benchmark module, print the table, write bench/out/results.json."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import bench_env

# Modules with `run(env) -> rows`; each measures its baseline in the same run.
MODULES = [
    "bench.foundation",
    "bench.trace_bench",
    "bench.custody_bench",
    "bench.escrow_bench",
    "bench.qr_bench",
    "bench.cli_bench",
    "bench.http_bench",
]
OUT = Path(__file__).with_name("out") / "results.json"


def main(only: list[str]) -> int:
    rows: list[dict[str, Any]] = []
    console = Console()
    with bench_env() as env:
        for name in MODULES:
            if only and not any(o in name for o in only):
                continue
            console.print(f"[dim]running {name}…[/dim]")
            rows.extend(importlib.import_module(name).run(env))
    table = Table(title="trace benchmarks (ratio = ours ÷ baseline, same run)")
    for column in ("metric", "ours", "baseline", "ratio", "unit"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for r in rows:
        table.add_row(
            r["metric"],
            f"{r['value']:,}",
            "" if r["baseline"] is None else f"{r['baseline']:,}",
            "" if r["ratio"] is None else f"{r['ratio']}",
            r["unit"],
        )
    console.print(table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    console.print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
