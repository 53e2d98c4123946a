"""Crash safety: the real `trace import` and `trace anchor` killed with SIGKILL at random points, then resumed.

Each trial starts the command, kills it after a random delay (seeded: the seed is printed, and CRASH_SEED replays
it), counted from its start or, in most trials, from its first write to the index so that kills land densely where
events are stored and roots built and sent; then it runs the same command again to completion. Import trials import a fresh CSV of CRASH_ROWS rows with
``--batch-size 100``; anchor trials first store CRASH_ANCHOR_EVENTS captured events that wait for anchoring (as
an HTTP capture or a derive leaves them). At the end the input, the index and the chain's logs must agree:

- every input row is one stored event, and every input event sits under a root anchored on chain;
- no root is anchored twice (RootAnchored logs read with eth_getLogs);
- each anchored root's leaves, recomputed from the index's events and proofs, rebuild that root and number what
  its log says, so no event is claimed by two roots and none was moved out of an anchored one;
- the index knows every anchored root, and no root is left built or sent;
- ``trace_api.services.history`` verifies every event.

CRASH_TRIALS sets the number of kills (default 6, half import, half anchor: each kind killed both from its start
and from its first write). `make crash` (tools/crash_trials.py) runs the long version, 200 kills. A summary of the trials goes to ``test-artifacts/hardening/crash-trials.txt``.
"""
# ruff: noqa: E501 - the module docstring names long paths and versions

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import ROOT, TRACE, run_trace
from tests.hardening import GTIN, settings_of
from trace_api import domain
from trace_api.chain.accounts import dev_account
from trace_api.domain import hx
from trace_api.index import schema as t
from trace_api.merkle import MerkleTree, verify
from trace_api.services import batches, events, history
from trace_api.services.context import TraceContext

TRIALS = int(os.environ.get("CRASH_TRIALS", "6"))
SEED = int(os.environ.get("CRASH_SEED") or secrets.randbelow(2**31))
ROWS = int(os.environ.get("CRASH_ROWS", "1500"))
ANCHOR_EVENTS = int(os.environ.get("CRASH_ANCHOR_EVENTS", "500"))
BATCH_SIZE = 100
LOTS = ("CRASH-A", "CRASH-B", "CRASH-C")
GLN = "9506000134017"
SUMMARY = ROOT / "test-artifacts" / "hardening" / "crash-trials.txt"
HEADER = "gtin,lot,step,event_time,location,sensor_type,sensor_value,sensor_uom"


@dataclass
class Trial:
    number: int
    kind: str  # import | anchor
    delay: float
    from_write: bool
    killed: bool = False
    phase: str = ""
    resumed_s: float = 0.0

    def describe(self) -> str:
        since = "first write" if self.from_write else "start"
        return (
            f"{self.kind:6s} killed {self.delay:5.2f} s after {since:11s}: {self.phase}; resumed in {self.resumed_s} s"
        )


def _write_csv(path: Path, day: int) -> dict[tuple[str, str], None]:
    """A CSV of ROWS events on one day; returns the (lot, eventTime) key of each row."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)
    lines, keys = [HEADER], {}
    for r in range(ROWS):
        lot = LOTS[r % len(LOTS)]
        when = (start + dt.timedelta(seconds=r)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if r % 10 == 9:
            lines.append(f"{GTIN},{lot},storing,{when},{GLN},,,")
        else:
            lines.append(f"{GTIN},{lot},sensor_reporting,{when},{GLN},Temperature,{(r % 80) / 4},CEL")
        keys[(lot, when)] = None
    path.write_text("\n".join(lines) + "\n")
    return keys


def _seed_pending(ctx: TraceContext, day: int, source: str) -> set[str]:
    """Store ANCHOR_EVENTS captured events that are not under a root yet; returns their hashes."""
    start = dt.datetime(2027, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)
    items = []
    for r in range(ANCHOR_EVENTS):
        key = domain.batch_key(GTIN, LOTS[r % len(LOTS)])
        when = (start + dt.timedelta(seconds=r)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        items.append((batches.build_event(key=key, step="storing", gln=GLN, when=when), [key.id_hex]))
    return set(
        events.insert_events(ctx.engine, items, mode="anchor", source=source, capturer=dev_account("producer").address)
    )


def _run_killed(
    args: list[str], env: dict[str, str], delay: float, log: Path, began: Callable[[], bool] | None = None
) -> float | None:
    """Start `trace ARGS` and SIGKILL it ``delay`` s after it started, or after ``began()`` first held (polled).

    Returns None when it was killed, else how long the run took (counted like the delay); it must have succeeded.
    """
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [*TRACE, *args],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        while began is not None and proc.poll() is None and not began():
            time.sleep(0.02)
        start = time.monotonic()
        try:
            code = proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return None
    assert code == 0, f"`trace {' '.join(args)}` failed before it was killed: {log.read_text()}"
    return time.monotonic() - start


def _writes_began(ctx: TraceContext, source: str) -> Callable[[], bool]:
    """True once the run stored an event of ``source`` (import) or put one under a root (anchor)."""
    e = t.epcis_events

    def check() -> bool:
        with ctx.engine.connect() as conn:
            return (
                conn.execute(select(e.c.event_hash).where(e.c.source == source, e.c.root.is_not(None)).limit(1)).first()
                is not None
            )

    return check


def _resume(args: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    result = run_trace(*args, "--json", env=env, timeout=300)
    assert result.code == 0, f"resumed `trace {' '.join(args)}` failed (seed {SEED}): {result.stderr}"
    return time.monotonic() - started


def _phase(ctx: TraceContext, source: str, expected: int) -> str:
    """Where the killed run was, read from the index: nothing stored, capturing, anchoring, or finishing."""
    e, r = t.epcis_events, t.anchor_roots
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(func.count()).where(e.c.source == source)).scalar_one()
        unrooted = conn.execute(select(func.count()).where(e.c.source == source, e.c.root.is_(None))).scalar_one()
        statuses = collections.Counter(
            conn.execute(select(r.c.status).where(r.c.root.in_(select(e.c.root).where(e.c.source == source)))).scalars()
        )
    if stored < expected:
        return f"capturing {stored}/{expected}" if stored else "starting"
    if unrooted:
        return f"building {stored - unrooted}/{stored}" if unrooted < stored else "starting"
    if statuses.keys() - {"anchored"}:
        return "anchoring " + ",".join(f"{k}={v}" for k, v in sorted(statuses.items()))
    return "finishing"


def _anchored_roots(ctx: TraceContext) -> list[tuple[str, int]]:
    """(root, count) of every RootAnchored log of the registry, read from the chain with eth_getLogs."""
    registry = ctx.registry
    event = registry.events.RootAnchored()
    topic = hx(ctx.chain.w3.keccak(text="RootAnchored(bytes32,address,uint32,bytes32)"))
    logs = ctx.chain.w3.eth.get_logs(
        {"address": registry.address, "fromBlock": 0, "toBlock": "latest", "topics": [topic]}
    )
    decoded = [event.process_log(log)["args"] for log in logs]
    return [(hx(a["root"]), int(a["count"])) for a in decoded]


def _check_exactly_once(ctx: TraceContext, row_keys: dict[tuple[str, str], None], seeded: set[str]) -> dict[str, int]:
    epc_lot = {domain.batch_key(GTIN, lot).epc_class: lot for lot in LOTS}
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(
                t.epcis_events.c.event_hash,
                t.epcis_events.c.root,
                t.epcis_events.c.proof,
                t.epcis_events.c.body,
                t.epcis_events.c.mode,
            )
        ).all()
        index_roots = {r.root: r.status for r in conn.execute(select(t.anchor_roots.c.root, t.anchor_roots.c.status))}
    stored_by_key: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for row in rows:
        body = json.loads(row.body)
        lot = epc_lot.get(body["quantityList"][0]["epcClass"])
        stored_by_key[(lot, body["eventTime"])].append(row.event_hash)
    lost_rows = [k for k in row_keys if k not in stored_by_key]
    doubled_rows = [k for k in row_keys if len(stored_by_key.get(k, [])) > 1]
    assert not lost_rows, f"{len(lost_rows)} input rows have no stored event, e.g. {lost_rows[:3]} (seed {SEED})"
    assert not doubled_rows, f"{len(doubled_rows)} input rows were stored twice, e.g. {doubled_rows[:3]}"
    inputs = {stored_by_key[k][0] for k in row_keys} | seeded
    by_hash = {row.event_hash: row for row in rows}
    assert seeded <= by_hash.keys(), "seeded events vanished from the index"

    on_chain = _anchored_roots(ctx)
    twice = [root for root, n in collections.Counter(r for r, _ in on_chain).items() if n > 1]
    assert not twice, f"roots anchored twice: {twice[:3]} (seed {SEED})"
    counts = dict(on_chain)
    claimed: dict[str, list[str]] = collections.defaultdict(list)
    for row in rows:
        if row.root:
            claimed[row.root].append(row.event_hash)
    for root, count in counts.items():
        leaves = claimed.get(root, [])
        assert len(leaves) == count, (
            f"root {root} was anchored with {count} leaves but {len(leaves)} stored events claim it: an event "
            f"moved to another root or was lost (seed {SEED})"
        )
        tree = MerkleTree.from_event_hashes([bytes.fromhex(h[2:]) for h in leaves])
        assert hx(tree.root) == root, f"the leaves of root {root} rebuild {hx(tree.root)} (seed {SEED})"
        for leaf in leaves:
            proof = [bytes.fromhex(p[2:]) for p in json.loads(by_hash[leaf].proof)]
            assert verify(bytes.fromhex(root[2:]), bytes.fromhex(leaf[2:]), proof), f"bad proof of {leaf}"
    unanchored = [h for h in inputs if by_hash[h].root not in counts]
    assert not unanchored, f"{len(unanchored)} input events are under no anchored root, e.g. {unanchored[:3]}"
    assert sum(counts[r] for r in {by_hash[h].root for h in inputs}) == len(inputs), "an event is in two roots"
    unknown = counts.keys() - index_roots.keys()
    assert not unknown, f"roots anchored on chain that the index does not know: {sorted(unknown)[:3]}"
    left = {r: s for r, s in index_roots.items() if s != "anchored" or r not in counts}
    assert not left, f"roots left behind unanchored: {list(left.items())[:3]} (seed {SEED})"

    ctx.sync()
    per_lot = collections.Counter(
        epc_lot.get(json.loads(by_hash[h].body)["quantityList"][0]["epcClass"]) for h in inputs
    )
    verified = 0
    for lot in LOTS:
        timeline = history.history_of(ctx, domain.batch_key(GTIN, lot)).timeline
        assert len(timeline) == per_lot[lot], f"{lot}: {len(timeline)} events in its history, {per_lot[lot]} input"
        bad = [(e.event_hash, e.status) for e in timeline if e.status != "verified"]
        assert not bad, f"{len(bad)} events of {lot} are not verified, e.g. {bad[:3]} (seed {SEED})"
        verified += len(timeline)
    return {"events": len(inputs), "roots": len(counts), "verified": verified}


def test_kill_9_during_import_and_anchor_then_resume(trace_env: dict[str, str], tmp_path: Path) -> None:
    started_at = time.monotonic()
    rng = random.Random(SEED)
    print(f"\ncrash trials: {TRIALS}, seed {SEED} (replay with CRASH_SEED={SEED})", flush=True)
    env = trace_env
    deployed = run_trace("deploy", env=env)
    assert deployed.code == 0, deployed.stderr
    ctx = TraceContext.open(settings_of(env), autostart=False)
    for lot in LOTS:
        batches.register_batch(ctx, account=dev_account("producer"), gtin=GTIN, lot=lot)

    row_keys: dict[tuple[str, str], None] = {}
    seeded: set[str] = set()
    import_args = lambda path: ["import", str(path), "--batch-size", str(BATCH_SIZE)]  # noqa: E731
    anchor_args = ["anchor", "--batch-size", str(BATCH_SIZE)]

    # Baselines, not killed. A run with nothing to do measures start-up (imports, connect, sync), whole runs
    # measure the rest: kills land between most of the start-up and the end of a whole run.
    first = tmp_path / "events-000.csv"
    row_keys |= _write_csv(first, 0)
    full = {"import": _resume(import_args(first), env)}
    seeded |= _seed_pending(ctx, 0, "seed-000")
    full["anchor"] = _resume(anchor_args, env)
    idle = _resume(anchor_args, env)
    print(f"start-up {idle:.2f} s, whole import {full['import']:.2f} s, whole anchor {full['anchor']:.2f} s")

    trials: list[Trial] = []
    number = 0
    while sum(tr.killed for tr in trials) < TRIALS:
        number += 1
        assert number <= 3 * TRIALS, f"runs kept finishing before their kill: {[tr.describe() for tr in trials]}"
        # Kinds alternate. Most trials count the delay from the run's first write, so that kills land densely in
        # the short windows where events are stored and roots built and sent; one pair in four counts it from the
        # start, across start-up and validation.
        kind = "import" if number % 2 else "anchor"
        from_write = (number // 2) % 4 != 1
        work = max(full[kind] - idle, 0.2)
        delay = rng.uniform(0, work) if from_write else rng.uniform(min(0.8 * idle, full[kind] / 2), full[kind])
        trial = Trial(number, kind, round(delay, 3), from_write)
        if kind == "import":
            path = tmp_path / f"events-{number:03d}.csv"
            row_keys |= _write_csv(path, number)
            args, source, expected = import_args(path), f"import:{path.name}", ROWS
        else:
            source = f"seed-{number:03d}"
            seeded |= _seed_pending(ctx, number, source)
            args, expected = anchor_args, ANCHOR_EVENTS
        began = _writes_began(ctx, source) if from_write else None
        took = _run_killed(args, env, trial.delay, tmp_path / f"trial-{number:03d}.stderr", began)
        trial.killed = took is None
        if took is not None:  # the estimate was too long (a loaded machine is noisy): aim shorter next time
            full[kind] = min(full[kind], took + (0 if not from_write else idle))
        trial.phase = _phase(ctx, source, expected) if trial.killed else f"had finished after {took:.2f} s"
        trial.resumed_s = round(_resume(args, env), 2) if trial.killed else 0.0
        trials.append(trial)
        print(f"trial {number:3d} {trial.describe()}", flush=True)

    checking = time.monotonic()
    totals = _check_exactly_once(ctx, row_keys, seeded)
    killed = [tr for tr in trials if tr.killed]
    mid_work = [tr for tr in killed if tr.phase != "starting"]
    elapsed = time.monotonic() - started_at
    lines = [
        f"seed {SEED}, {len(trials)} trials, {len(killed)} killed ({len(mid_work)} mid-work), "
        f"{totals['events']} events under {totals['roots']} roots, all verified, {elapsed:.0f} s "
        f"(final check {time.monotonic() - checking:.0f} s)",
        *(f"{tr.number:3d} {tr.describe()}" for tr in trials),
    ]
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text("\n".join(lines) + "\n")
    print(lines[0])
    assert len(mid_work) >= len(killed) // 4, f"only {len(mid_work)} kills landed after work had begun"
