"""Write-ahead, black box: every write command of the CLI killed with SIGKILL, then recovered by `trace anchor`.

Commands: `trace event add`, `trace batch register`, `trace batch derive`, `trace batch recall`, `trace batch
units`. Each trial runs one command on a batch of its own and kills it either at a random moment of its run or the
instant its transaction is mined (the test polls the node's block number and kills as soon as it moves), then runs
`trace anchor` as the same account, as a user would after a crash (every WRITE_CRASH_RECOVER_EVERY trials, and at
the end: later commands then also run over what earlier ones left pending). At the end, chain and index must agree:

- nothing lost: every step the chain recorded has its EPCIS body in the index (no batch has an undisclosed step),
  every registered or derived batch has its metadata (hashing to what the chain holds), every derive and recall
  its EPCIS event, every unit serial batch all or none of its serials;
- nothing sent twice: no event hash recorded twice, no root anchored twice, at most one step per event trial,
  one transformation event per derive and one recall event per recall;
- nothing left pending: after recovery every event shown is verified.

WRITE_CRASH_TRIALS sets the number of kills (default 5, one per command over the commands); WRITE_CRASH_SEED replays
a run. `tools/crash_trials.py --write` runs the long version. The kill counts per command go to
``test-artifacts/hardening/write-crash-trials.txt``.
"""

from __future__ import annotations

import collections
import json
import os
import random
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from tests.conftest import ROOT, TRACE, run_trace
from tests.hardening import GTIN, logs_of, roots_on_chain, settings_of
from trace_api import domain
from trace_api.chain.accounts import dev_account
from trace_api.domain import hx
from trace_api.index import schema as t
from trace_api.services import batches, history
from trace_api.services.context import TraceContext

TRIALS = int(os.environ.get("WRITE_CRASH_TRIALS", "5"))
SEED = int(os.environ.get("WRITE_CRASH_SEED") or secrets.randbelow(2**31))
COMMANDS = ("event", "register", "derive", "recall", "units")
UNITS = 12
RECOVER_EVERY = int(os.environ.get("WRITE_CRASH_RECOVER_EVERY", "1"))  # trials between two recoveries
SUMMARY = Path(
    os.environ.get("WRITE_CRASH_SUMMARY") or ROOT / "test-artifacts" / "hardening" / "write-crash-trials.txt"
)
AS = ["--as", "producer"]


@dataclass
class Trial:
    number: int
    command: str
    lot: str
    when: str  # "mined", "written" (its write-ahead is in the index) or "random"
    delay: float = 0.0
    killed: bool = False
    outcome: str = ""


def _args(trial: Trial) -> list[str]:
    lot = trial.lot
    if trial.command == "event":
        return ["event", "add", GTIN, lot, "--step", "storing", "--location", "9506000134017"]
    if trial.command == "register":
        return ["batch", "register", "--gtin", GTIN, "--lot", lot, "--product", f"crash {lot}"]
    if trial.command == "derive":
        return ["batch", "derive", "--gtin", GTIN, "--lot", lot, "--from", f"{GTIN}/P{lot}", "--process", "roasting"]
    if trial.command == "recall":
        return ["batch", "recall", GTIN, lot, "--reason", f"crash trial {lot}"]
    return ["batch", "units", GTIN, lot, "--serials", f"1-{UNITS}"]


def _block(env: dict[str, str]) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    return int(httpx.post(f"http://127.0.0.1:{env['TRACE_NODE_PORT']}", json=body, timeout=5).json()["result"], 16)


def _written(ctx: TraceContext, trial: Trial) -> bool:
    """Whether the trial's command has written ahead: its batch key, or an event of its batch."""
    key = domain.batch_key(GTIN, trial.lot)
    with ctx.engine.connect() as conn:
        if trial.command in ("register", "derive"):
            table, column = t.batch_keys, t.batch_keys.c.batch_id
        else:
            table, column = t.event_batches, t.event_batches.c.batch_id
        return conn.execute(select(column).select_from(table).where(column == key.id_hex).limit(1)).first() is not None


def _run_killed(trial: Trial, env: dict[str, str], log: Path, ctx: TraceContext) -> None:
    """Run the trial's command; SIGKILL it after ``trial.delay`` s, the moment a new block appears, or the moment
    its write-ahead is in the index (before its transaction is sent)."""
    start_block = _block(env)
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [*TRACE, *AS, *_args(trial)],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        started = time.monotonic()
        while proc.poll() is None:
            if trial.when == "mined" and _block(env) > start_block:
                break
            if trial.when == "random" and time.monotonic() - started >= trial.delay:
                break
            if trial.when == "written" and _written(ctx, trial):
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            trial.killed = True
        proc.wait()
    if not trial.killed:
        assert proc.returncode == 0, f"`trace {' '.join(_args(trial))}` failed: {log.read_text()}"


def _recover(env: dict[str, str]) -> None:
    result = run_trace(*AS, "anchor", "--json", env=env, timeout=300)
    assert result.code == 0, f"recovery failed (seed {SEED}): {result.stderr}"


def _setup(ctx: TraceContext, trial: Trial) -> None:
    producer = dev_account("producer")
    if trial.command in ("event", "recall", "units"):
        batches.register_batch(ctx, account=producer, gtin=GTIN, lot=trial.lot)
    elif trial.command == "derive":
        batches.register_batch(ctx, account=producer, gtin=GTIN, lot=f"P{trial.lot}")


def _events_of(ctx: TraceContext, lot: str) -> list[dict]:
    return history.history_of(ctx, domain.batch_key(GTIN, lot)).as_json()["timeline"]


def _check(ctx: TraceContext, env: dict[str, str], trials: list[Trial]) -> dict[str, int]:
    ctx.sync()
    registry = ctx.registry
    event_logs = logs_of(env, "EventRecorded(bytes32,uint32,uint8,bytes32,address)")
    hashes = [hx(log["data"])[2 + 64 * 2 : 2 + 64 * 3] for log in event_logs]  # data: seq, step, eventHash
    twice = [h for h, n in collections.Counter(hashes).items() if n > 1]
    assert not twice, f"event hashes recorded twice: {twice[:3]} (seed {SEED})"
    roots = roots_on_chain(env)
    assert len(roots) == len(set(roots)), f"a root was anchored twice (seed {SEED})"
    done = collections.Counter()
    for trial in trials:
        key = domain.batch_key(GTIN, trial.lot)
        on_chain = bool(registry.functions.exists(key.id).call())
        where = f"trial {trial.number} ({trial.command}, killed {trial.when}, seed {SEED})"
        if trial.command in ("register", "derive"):
            if not on_chain:
                trial.outcome = "not registered"
                continue
            with ctx.engine.connect() as conn:
                meta = conn.execute(
                    select(t.batch_keys.c.metadata).where(t.batch_keys.c.batch_id == key.id_hex)
                ).scalar()
            assert meta is not None, f"{where}: the batch is on chain, its metadata is lost"
            view = registry.functions.getBatch(key.id).call()
            assert domain.metadata_hash(json.loads(meta)) == bytes(view[11]), f"{where}: metadata does not hash"
        data = history.history_of(ctx, key).as_json()
        assert not data["undisclosed"], f"{where}: {history.undisclosed_note(len(data['undisclosed']))}"
        assert data["hash_chain"]["ok"], f"{where}: hash chain broken"
        pending = [e for e in data["timeline"] if e["status"] != "verified"]
        assert not pending, f"{where}: {len(pending)} events left {pending[0]['status']} after recovery"
        steps = collections.Counter(e["biz_step"] or e["type"] for e in data["timeline"])
        if trial.command == "event":
            assert steps["storing"] <= 1 and data["hash_chain"]["events_on_chain"] <= 1, f"{where}: sent twice"
            trial.outcome = f"{steps['storing']} step"
        elif trial.command == "derive":
            assert steps["TransformationEvent"] == 1, f"{where}: {steps['TransformationEvent']} transformations"
            trial.outcome = "derived"
        elif trial.command == "recall":
            recalls = [e for e in data["timeline"] if e["disposition"] == "recalled"]
            assert len(recalls) == int(data["recalled"]), (
                f"{where}: recalled={data['recalled']}, {len(recalls)} recall events"
            )
            trial.outcome = "recalled" if data["recalled"] else "not recalled"
        elif trial.command == "units":
            issued = steps["commissioning"]
            assert issued in (0, UNITS), f"{where}: {issued} of {UNITS} serials"
            trial.outcome = f"{issued} units"
        else:
            trial.outcome = "registered"
        done[trial.command] += 1
    return dict(done)


def test_kill_9_every_write_command_then_recover(trace_env: dict[str, str], tmp_path: Path) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    print(f"\nwrite crash trials: {TRIALS}, seed {SEED} (replay with WRITE_CRASH_SEED={SEED})", flush=True)
    env = trace_env
    deployed = run_trace("deploy", env=env)
    assert deployed.code == 0, deployed.stderr
    ctx = TraceContext.open(settings_of(env), autostart=False)
    # How long a whole run takes: random kills land anywhere in it.
    probe = Trial(0, "register", "W-PROBE", "random", delay=1e9)
    began = time.monotonic()
    _run_killed(probe, env, tmp_path / "probe.stderr", ctx)
    full = time.monotonic() - began

    trials: list[Trial] = []
    number = 0
    while sum(tr.killed for tr in trials) < TRIALS:
        number += 1
        assert number <= 3 * TRIALS, "runs kept finishing before their kill"
        # The command with the fewest kills so far: a run that finished before its kill is tried again.
        kills = collections.Counter(tr.command for tr in trials if tr.killed)
        command = min(COMMANDS, key=lambda c: (kills[c], sum(tr.command == c for tr in trials), COMMANDS.index(c)))
        when = ("mined", "written", "random")[(number - 1) % 3]
        trial = Trial(
            number,
            command,
            f"W{number:03d}{command[:2].upper()}",
            when,
            delay=round(rng.uniform(0.3 * full, 1.1 * full), 3),
        )
        _setup(ctx, trial)
        _run_killed(trial, env, tmp_path / f"trial-{number:03d}.stderr", ctx)
        if number % RECOVER_EVERY == 0:  # later commands also run over what earlier ones left pending
            _recover(env)
        trials.append(trial)
        print(
            f"trial {number:3d} {command:8s} {'killed' if trial.killed else 'finished'} at {trial.when}"
            f"{f' {trial.delay:.2f} s' if trial.when == 'random' else ''}",
            flush=True,
        )

    _recover(env)
    _check(ctx, env, trials)
    killed = [tr for tr in trials if tr.killed]
    per_command = collections.Counter(tr.command for tr in killed)
    moments = collections.Counter(tr.when for tr in killed)
    lines = [
        f"seed {SEED}: {len(killed)} kills ({moments['mined']} right after the transaction was mined, "
        f"{moments['written']} right after the write-ahead, {moments['random']} at random) in "
        f"{len(trials)} trials, {time.monotonic() - started:.0f} s; kills per command: "
        + ", ".join(f"{c} {per_command[c]}" for c in COMMANDS)
        + "; nothing lost, nothing sent twice",
        *(
            f"{tr.number:3d} {tr.command:8s} {'killed' if tr.killed else 'finished'} {tr.when:6s} "
            f"{tr.delay if tr.when == 'random' else '':>6} -> {tr.outcome}"
            for tr in trials
        ),
    ]
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text("\n".join(lines) + "\n")
    print(lines[0])
    assert all(per_command[c] for c in COMMANDS) or len(COMMANDS) > TRIALS, per_command
