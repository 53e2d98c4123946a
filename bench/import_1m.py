"""`python -m bench.import_1m`: one CSV import in a process of its own, so that its peak RSS is the import's alone.

The parent (``bench.trace_bench``) writes the CSV with :func:`write_csv`, registers the batches and indexes them,
then runs this module against the same node and TRACE_HOME. The child prints one JSON line on stdout: rows, wall
and CPU seconds, the import report and ``peak_rss_mb``, the peak RSS of this process (``VmHWM``).

Why not ``ru_maxrss``: CPython spawns with vfork, and at exec Linux folds the high-water mark of the memory the
child borrowed, the parent's, into the child's ``ru_maxrss`` (and so into the parent's ``RUSAGE_CHILDREN``). A
parent that once held 180 MB makes every child report at least 180 MB. ``VmHWM`` belongs to the child's own
address space, so it starts from zero at exec.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from trace_api.config import Settings

CSV_COLUMNS = ("gtin", "lot", "step", "event_time", "location", "sensor_type", "sensor_value", "sensor_uom")
START = dt.datetime(2024, 3, 1, 6, 0, tzinfo=dt.UTC)


def with_check_digit(body: str) -> str:
    """A GS1 key (GTIN, GLN) from its body: mod-10 check digit, weights 3, 1, ... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


# Read points of a cold chain (GLNs).
READ_POINTS = tuple(with_check_digit(f"95060001000{i}") for i in range(5))


def write_csv(path: Path, *, rows: int, keys: Sequence[tuple[str, str]], seed: int = 2024) -> int:
    """Stream ``rows`` storing / sensor_reporting events over ``keys`` (gtin, lot) to ``path``; returns its size.

    Each row picks a batch at random (about rows / len(keys) events per batch) and a distinct event time, so no
    two rows hash alike. Nothing but the current row is held in memory.
    """
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(CSV_COLUMNS)
        for i in range(rows):
            gtin, lot = keys[rng.randrange(len(keys))]
            when = (START + dt.timedelta(milliseconds=1500 * i)).isoformat(timespec="milliseconds")
            when = when.replace("+00:00", "Z")
            location = READ_POINTS[i % len(READ_POINTS)]
            if i % 4:  # three in four are temperature readings, the rest storing scans
                value = f"{rng.uniform(1.5, 7.5):.2f}"
                out.writerow((gtin, lot, "sensor_reporting", when, location, "Temperature", value, "CEL"))
            else:
                out.writerow((gtin, lot, "storing", when, location, "", "", ""))
    return path.stat().st_size


def _status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status (VmHWM, VmRSS) in MB; None where there is no procfs."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_1m", description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="TRACE_HOME of the running bench node")
    parser.add_argument("--port", type=int, required=True, help="port of that node")
    parser.add_argument("--csv", type=Path, required=True, help="the file to import")
    parser.add_argument("--account", default="producer", help="dev account that anchors the roots")
    parser.add_argument("--batch-size", type=int, default=1024, help="events per Merkle root")
    args = parser.parse_args(argv)

    from trace_api.chain.accounts import dev_account
    from trace_api.services.context import TraceContext
    from trace_api.services.importer import import_file

    ctx = TraceContext.open(Settings(home=args.home, node_port=args.port), autostart=False)
    account = dev_account(args.account)
    ready_rss = _status_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    report = import_file(ctx, account=account, path=args.csv, batch_size=args.batch_size)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _status_mb("VmHWM")
    ru_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(
        json.dumps(
            {
                "rows": report.rows,
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu, 3),
                "events_per_s": round(report.rows / seconds, 1),
                "report": report.model_dump(mode="json"),
                "peak_rss_mb": round(peak if peak is not None else ru_maxrss, 1),
                "ready_rss_mb": None if ready_rss is None else round(ready_rss, 1),
                "ru_maxrss_mb": round(ru_maxrss, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
