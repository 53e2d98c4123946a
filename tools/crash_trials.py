"""The long version of the crash-safety test: many SIGKILLs of `trace import` / `trace anchor`, in rounds.

    .venv/bin/python tools/crash_trials.py --trials 200 --rounds 3
    .venv/bin/python tools/crash_trials.py --seed 1234 --trials 20     # replay one round
    .venv/bin/python tools/crash_trials.py --write --trials 50         # every write command, write-ahead

Each round runs tests/hardening/test_crash_safety.py on a fresh node and index with its own seed (printed), and
appends its summary to test-artifacts/hardening/crash-rounds.txt. Exit status 1 when any round failed; the seeds
of the failed rounds are listed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/hardening/test_crash_safety.py"
SUMMARY = ROOT / "test-artifacts" / "hardening" / "crash-trials.txt"
WRITE_TEST = "tests/hardening/test_write_crash.py"
WRITE_SUMMARY = ROOT / "test-artifacts" / "hardening" / "write-crash-trials.txt"
ROUNDS_LOG = ROOT / "test-artifacts" / "hardening" / "crash-rounds.txt"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="kills per round (CRASH_TRIALS)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each on a fresh node with its own seed")
    parser.add_argument("--seed", type=int, default=None, help="seed of the first round (then seed+1, ...)")
    parser.add_argument("--rows", type=int, default=None, help="rows per imported CSV (CRASH_ROWS)")
    parser.add_argument("--anchor-events", type=int, default=None, help="events per anchor trial")
    parser.add_argument(
        "--recover-every", type=int, default=None, help="with --write: trials between two `trace anchor` recoveries"
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="kill every write command (event add, register, derive, recall, units) instead",
    )
    args = parser.parse_args(argv)
    test, summary_file = (WRITE_TEST, WRITE_SUMMARY) if args.write else (TEST, SUMMARY)
    prefix = "WRITE_CRASH" if args.write else "CRASH"

    first = args.seed if args.seed is not None else secrets.randbelow(2**31)
    failed: list[int] = []
    ROUNDS_LOG.parent.mkdir(parents=True, exist_ok=True)
    for number in range(args.rounds):
        seed = first + number
        env = {**os.environ, f"{prefix}_TRIALS": str(args.trials), f"{prefix}_SEED": str(seed)}
        if args.recover_every:
            env["WRITE_CRASH_RECOVER_EVERY"] = str(args.recover_every)
        if args.rows:
            env["CRASH_ROWS"] = str(args.rows)
        if args.anchor_events:
            env["CRASH_ANCHOR_EVENTS"] = str(args.anchor_events)
        print(f"round {number + 1}/{args.rounds}: {args.trials} trials, seed {seed}", flush=True)
        started = time.monotonic()
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-p", "no:pytest-brownie", "-p", "no:cacheprovider", "-q", "-s", test],
            cwd=ROOT,
            env=env,
        )
        outcome = "passed" if code == 0 else f"FAILED (pytest exit {code})"
        summary = summary_file.read_text().splitlines()[0] if code == 0 and summary_file.exists() else ""
        line = f"seed {seed}: {outcome} in {time.monotonic() - started:.0f} s. {summary}"
        with ROUNDS_LOG.open("a") as log:
            log.write(line + "\n")
        print(line, flush=True)
        if code != 0:
            failed.append(seed)
    if failed:
        print(f"failed rounds, replay with --seed: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
