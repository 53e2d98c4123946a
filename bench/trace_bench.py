"""Traceability rows: gas per event against a naive contract, import throughput, import memory and history latency
at a million events. Every baseline is measured in the same run, on the same node.

Rows (ratio = ours ÷ baseline):
- ``gas.naive_step``: ``NaiveSupplyChain.addStep`` on an existing batch (30-, 40- and 80-character strings).
- ``gas.record_event``: one plain ``recordEvent`` (Storing by the custodian) on an existing batch; target ≤ 40,000.
- ``gas.record_events_per_event@50``: ``recordEvents`` of 50 events on 50 batches, ÷ 50; target ≤ 15,000.
- ``gas.anchor_per_event@1024`` / ``@10000``: one ``anchorRoot`` ÷ the leaves under it; targets ≤ 60 and ≤ 10.
- ``throughput.naive_events_per_s``: one naive transaction per event, each receipt awaited (300 events).
- ``throughput.import_events_per_s``: 10,000 EPCIS ObjectEvents (JSON-LD) through ``import_file``: validated,
  hashed, indexed and anchored in roots of 1024; target ≥ 3,000/s and ≥ 40× the naive rate.
- ``mem.import_1m_rss_mb``: peak RSS (VmHWM) of ``python -m bench.import_1m`` importing a 1,000,000-row CSV
  (rows from env ``BENCH_IMPORT_ROWS``); baseline the same child on 10,000 rows; target ≤ 300 MB.
- ``latency.history_p99_ms@1m``: p99 of ``history_of`` on the 1M index for batches of about 50 events; baseline the
  same lookups on the 10,000-event index; target ≤ 10 ms.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select

from bench.common import BenchEnv, row
from bench.import_1m import READ_POINTS, write_csv
from bench.registry_gas import deploy_naive, gas_rows, naive_events_per_s
from bench.trace_setup import ANCHOR_SIZE, Bench, keys_of, log, percentile, register
from trace_api.chain.accounts import dev_account
from trace_api.chain.toolchain import PROJECT_ROOT
from trace_api.domain import BatchKey
from trace_api.epcis import EPCIS_CONTEXT
from trace_api.index import schema as t
from trace_api.services.context import TraceContext
from trace_api.services.history import history_of
from trace_api.services.importer import import_file

ROWS_ENV = "BENCH_IMPORT_ROWS"
DEFAULT_IMPORT_ROWS = 1_000_000
EVENTS_PER_BATCH = 50  # the CSV imports spread their rows so that a batch has about this many events
BASELINE_ROWS = 10_000
IMPORT_EVENTS = 10_000
IMPORT_BATCHES = 100
LOOKUPS = 500


def _epcis_event(key: BatchKey, i: int, rng: random.Random) -> dict[str, Any]:
    """An ObjectEvent as a cold-chain site would capture it: a temperature/humidity reading or a storing scan."""
    minute, second = divmod(i, 60)
    when = f"2024-03-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:{second:02d}.{i % 1000:03d}Z"
    site, room = READ_POINTS[i % len(READ_POINTS)], READ_POINTS[(i + 1) % len(READ_POINTS)]
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": when,
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "readPoint": {"id": f"https://id.gs1.org/414/{site}"},
        "bizLocation": {"id": f"https://id.gs1.org/414/{room}"},
        "quantityList": [{"epcClass": key.epc_class, "quantity": 1200, "uom": "KGM"}],
    }
    if i % 4:
        event["bizStep"] = "sensor_reporting"
        event["disposition"] = "in_progress"
        event["sensorElementList"] = [
            {
                "sensorMetadata": {
                    "time": when,
                    "deviceID": f"https://id.gs1.org/8004/950600010000{i % 7}",
                    "deviceMetadata": "https://id.example.com/devices/logger-t4",
                },
                "sensorReport": [
                    {"type": "Temperature", "value": round(rng.uniform(1.5, 7.5), 2), "uom": "CEL"},
                    {"type": "RelativeHumidity", "value": round(rng.uniform(75, 92), 1), "uom": "P1"},
                ],
            }
        ]
    else:
        event["bizStep"] = "storing"
        event["disposition"] = "sellable_not_accessible"
        event["bizTransactionList"] = [{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{site}:PO-{i // 40}"}]
    return event


def _write_epcis(path: Path, keys: Sequence[BatchKey], count: int) -> None:
    rng = random.Random(2024)
    head = {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-08T12:00:00.000Z",
    }
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(head)[:-1] + ', "epcisBody": {"eventList": [\n')
        for i in range(count):
            fh.write((",\n" if i else "") + json.dumps(_epcis_event(keys[rng.randrange(len(keys))], i, rng)))
        fh.write("\n]}}\n")


def _import_rate(b: Bench, keys: Sequence[BatchKey]) -> float:
    path = b.env.workdir / "import-10k.jsonld"
    _write_epcis(path, keys, IMPORT_EVENTS)
    b.ctx.sync()  # index everything before the clock starts: the import's own sync then reads nothing old
    started, cpu = time.perf_counter(), time.process_time()
    report = import_file(b.ctx, account=b.producer, path=path, batch_size=ANCHOR_SIZE)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    expected_roots = math.ceil(IMPORT_EVENTS / ANCHOR_SIZE)
    if report.new_events != IMPORT_EVENTS or report.anchored_roots != expected_roots:
        raise RuntimeError(f"import stored {report.new_events} events under {report.anchored_roots} roots")
    log(
        f"import: {IMPORT_EVENTS} events in {seconds:.2f} s ({path.stat().st_size / 1e6:.1f} MB JSON-LD); this "
        f"process's CPU {cpu:.2f} s = {cpu / IMPORT_EVENTS * 1e6:.0f} µs/event, "
        f"so {IMPORT_EVENTS / cpu:,.0f}/s at most"
    )
    return IMPORT_EVENTS / seconds


# ---- the import child: memory ----
def _child_import(b: Bench, path: Path) -> dict[str, Any]:
    """Run ``bench.import_1m`` on ``path``; its peak RSS is its own VmHWM (see that module), cross-checked by
    polling its RSS from here."""
    out, err = path.with_suffix(".out"), path.with_suffix(".err")
    cmd = [
        sys.executable,
        "-m",
        "bench.import_1m",
        "--home",
        str(b.env.settings.home),
        "--port",
        str(b.env.settings.node_port),
        "--csv",
        str(path),
        "--batch-size",
        str(ANCHOR_SIZE),
        "--account",
        "producer",
    ]
    polled = 0
    with out.open("w") as out_fh, err.open("w") as err_fh:
        proc = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, stdout=out_fh, stderr=err_fh, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        )
        watch = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                polled = max(polled, watch.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
    if proc.returncode != 0:
        raise RuntimeError(f"bench.import_1m failed ({proc.returncode}): {err.read_text()[-2000:]}")
    result = json.loads(out.read_text().strip().splitlines()[-1])
    result["polled_rss_mb"] = round(polled / 2**20, 1)
    log(f"child import of {path.name}: {json.dumps(result)}")
    return result


# ---- latency ----
def _events_query(b: Bench, key: BatchKey) -> int:
    """The lookup's core: one batch's stored events in time order (what history_of reads before verifying)."""
    with b.ctx.engine.connect() as conn:
        return len(
            conn.execute(
                select(t.epcis_events)
                .join(t.event_batches, t.event_batches.c.event_hash == t.epcis_events.c.event_hash)
                .where(t.event_batches.c.batch_id == key.id_hex)
                .order_by(t.event_batches.c.event_time, t.epcis_events.c.created_seq)
            ).all()
        )


def _lookup_p99(b: Bench, keys: Sequence[BatchKey], label: str) -> float:
    """p99 (ms) of history_of over up to LOOKUPS distinct batches, chosen at random; logs the bare query too."""
    sample = random.Random(99).sample(list(keys), min(LOOKUPS, len(keys)))
    for key in sample[:5]:  # warm-up: first-call costs of the code path, not of the data
        history_of(b.ctx, key)

    def timed(fn: Callable[[BatchKey], Any]) -> tuple[list[float], list[float], list[Any]]:
        """Wall and CPU (this thread) milliseconds of each call, and the results."""
        wall, cpu, results = [], [], []
        for key in sample:
            started, on_cpu = time.perf_counter(), time.thread_time()
            results.append(fn(key))
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - on_cpu) * 1000)
        return wall, cpu, results

    full, full_cpu, histories = timed(lambda k: history_of(b.ctx, k))
    sizes = [len(h.timeline) for h in histories]
    unverified = sum(1 for h in histories for e in h.timeline if e.status != "verified")
    bare, _, _ = timed(lambda k: _events_query(b, k))
    mean = sum(sizes) / len(sizes)
    log(
        f"history@{label}: {len(sample)} batches, {min(sizes)}-{max(sizes)} events (mean {mean:.0f}), "
        f"{unverified} not verified; history_of p50 {percentile(full, 50):.2f} p99 {percentile(full, 99):.2f} "
        f"max {max(full):.2f} ms (CPU p50 {percentile(full_cpu, 50):.2f} p99 {percentile(full_cpu, 99):.2f} ms); "
        f"events query alone p50 {percentile(bare, 50):.2f} p99 {percentile(bare, 99):.2f} ms"
    )
    return percentile(full, 99)


def _event_count(b: Bench) -> int:
    with b.ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.epcis_events)).scalar() or 0)


# ---- entry ----
def run(env: BenchEnv) -> list[dict[str, Any]]:
    big_rows = int(os.environ.get(ROWS_ENV, DEFAULT_IMPORT_ROWS))
    ctx = TraceContext.on(env.settings, env.chain)
    b = Bench(env=env, ctx=ctx, producer=dev_account("producer"))
    rows: list[dict[str, Any]] = []

    with b.part("gas"):
        naive = deploy_naive(b)
        rows += gas_rows(b, naive)
    naive_gas = rows[0]["value"]
    with b.part("naive throughput"):
        naive_rate = naive_events_per_s(b, naive)

    import_keys = keys_of("J", IMPORT_BATCHES)
    small_keys = keys_of("S", BASELINE_ROWS // EVENTS_PER_BATCH)
    big_keys = keys_of("M", max(1, big_rows // EVENTS_PER_BATCH))
    small_csv, big_csv = env.workdir / f"import-{BASELINE_ROWS}.csv", env.workdir / f"import-{big_rows}.csv"
    with b.part(f"write CSVs ({BASELINE_ROWS} and {big_rows} rows)"):
        write_csv(small_csv, rows=BASELINE_ROWS, keys=[(k.gtin, k.lot) for k in small_keys], seed=1)
        size = write_csv(big_csv, rows=big_rows, keys=[(k.gtin, k.lot) for k in big_keys], seed=2)
        log(f"{big_csv.name}: {size / 1e6:.1f} MB")
    with b.part(f"register {len(import_keys) + len(small_keys) + len(big_keys)} batches"):
        register(b, [*import_keys, *small_keys, *big_keys])

    with b.part(f"child import {BASELINE_ROWS} rows"):
        small = _child_import(b, small_csv)
    with b.part(f"history lookups on {_event_count(b)} events"):
        small_p99 = _lookup_p99(b, small_keys, "10k")

    with b.part(f"import {IMPORT_EVENTS} JSON-LD events"):
        import_rate = _import_rate(b, import_keys)
    log(
        f"import {import_rate:,.0f} events/s = {import_rate / naive_rate:.1f}× the naive {naive_rate:.1f} events/s "
        f"(needs ≥ 40×)"
    )

    with b.part(f"child import {big_rows} rows"):
        big = _child_import(b, big_csv)
    with b.part(f"history lookups on {_event_count(b)} events"):
        big_p99 = _lookup_p99(b, big_keys, "1m")

    rows += [
        row("throughput.import_events_per_s", import_rate, "events/s", round(naive_rate, 3)),
        row("throughput.naive_events_per_s", naive_rate, "events/s", None),
        row("mem.import_1m_rss_mb", big["peak_rss_mb"], "MB", small["peak_rss_mb"]),
        row("latency.history_p99_ms@1m", big_p99, "ms", round(small_p99, 3)),
    ]
    log(
        f"gas baseline: naive step {naive_gas} gas; 1M child: {big['rows']} rows in {big['seconds']} s "
        f"({big['events_per_s']}/s); timings: {json.dumps(b.timings)}"
    )
    return rows


if __name__ == "__main__":
    from bench.common import bench_env

    with bench_env() as bench:
        results = run(bench)
    width = max(len(r["metric"]) for r in results)
    for r in results:
        baseline = "" if r["baseline"] is None else f"{r['baseline']:,}"
        ratio = "" if r["ratio"] is None else r["ratio"]
        print(f"{r['metric']:<{width}}  {r['value']:>14,} {r['unit']:<9} baseline {baseline:>12}  ratio {ratio}")
