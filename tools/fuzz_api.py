"""Fuzz the HTTP API with schemathesis against a real chain.

A throwaway TRACE_HOME gets its own anvil node, the contracts and the demo story (so the read routes have data),
an API key for the producer, and one escrow trade. The API is served by ``trace serve`` (uvicorn, in the
project's venv) on a free port, and schemathesis (in the tools venv, ``.venv-tools``: it needs a newer hypothesis
than brownie pins) sends generated requests built from ``/openapi.json``, with the key so that the write routes
are exercised too.

The run passes when schemathesis' checks pass, no response was a 5xx, and at least ``--min-requests`` requests
reached the server. Requests and statuses are counted from the server's own access log, not from schemathesis.

    .venv/bin/python tools/fuzz_api.py                          # the long run (make fuzz-api)
    .venv/bin/python tools/fuzz_api.py --max-examples 3 --min-requests 100 --phases examples,fuzzing
    .venv/bin/python tools/fuzz_api.py -- --continue-on-failure       # more schemathesis options after --
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trace_api.chain.node import free_port

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
TOOLS_ST = ROOT / ".venv-tools" / "bin" / "st"
# Every check schemathesis has, except two that judge business rules rather than the HTTP contract:
# positive_data_acceptance expects every schema-valid body to succeed (a GTIN with a wrong check digit, or a
# batch that is not registered, cannot), and use_after_free needs resources that can be deleted (none are).
DEFAULT_CHECKS = "all"
DEFAULT_EXCLUDED = "positive_data_acceptance,use_after_free"
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[0-9.]+" (?P<status>\d{3})')


@dataclass
class Summary:
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    schemathesis_exit: int | None = None
    seconds: float = 0.0
    ok: bool = False


def _say(text: str) -> None:
    print(f"fuzz-api: {text}", flush=True)


def prepare(home: Path, node_port: int) -> str:
    """Node, contracts, the demo story, one escrow trade; returns an API key for the producer's organisation."""
    from trace_api.chain import node
    from trace_api.chain.accounts import dev_account
    from trace_api.config import Settings
    from trace_api.errors import TraceError
    from trace_api.index.store import get_engine
    from trace_api.services import apikeys, escrow
    from trace_api.services.context import TraceContext
    from trace_api.services.demo import GREEN, run_story

    settings = Settings(home=home, node_port=node_port)
    node.start(settings)
    run_story(settings)
    ctx = TraceContext.open(settings, autostart=False)
    try:  # a trade gives the escrow read routes something to find; the fuzz does not depend on it
        escrow.open_trade(ctx, account=dev_account("buyer"), seller="seller", arbiter="arbiter", token="USDC",
                          amount="100", gtin=GREEN[0], lot=GREEN[1], deliver_by="30d")
    except TraceError as exc:
        _say(f"no escrow trade for the fuzz ({exc})")
    return apikeys.create_key(get_engine(settings), organisation="Fuzz Org", account="producer")


def stop_node(home: Path, node_port: int) -> None:
    from trace_api.chain import node
    from trace_api.config import Settings

    node.stop(Settings(home=home, node_port=node_port))


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"fuzz-api: the server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"fuzz-api: {base}/health did not answer within {timeout:.0f} s")


def count_requests(log_text: str) -> tuple[int, Counter[str], list[str]]:
    """Requests, statuses and the 5xx lines, from uvicorn's access log."""
    statuses: Counter[str] = Counter()
    errors = []
    total = 0
    for line in log_text.splitlines():
        match = ACCESS_LINE.search(line)
        if not match:
            continue
        total += 1
        statuses[match["status"]] += 1
        if match["status"].startswith("5"):
            errors.append(line.strip())
    return total, statuses, errors


def schemathesis_args(args: argparse.Namespace, base: str, key: str, report_dir: Path) -> list[str]:
    command = [
        str(args.st), "run", f"{base}/openapi.json",
        "--checks", args.checks,
        "--max-examples", str(args.max_examples),
        "--phases", args.phases,
        "--workers", str(args.workers),
        "--seed", str(args.seed),
        "--header", f"Authorization: Bearer {key}",
        "--request-timeout", "60",
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--report", "junit",
        "--report-dir", str(report_dir),
        "--no-color",
    ]
    if args.exclude_checks:
        command += ["--exclude-checks", args.exclude_checks]
    if args.max_time:
        command += ["--max-time", str(args.max_time)]
    return command + list(args.st_args)


def run(args: argparse.Namespace) -> Summary:
    summary = Summary()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="trace-fuzz-") as tmp:
        home = Path(tmp) / "home"
        node_port, api_port = free_port(), free_port()
        base = f"http://127.0.0.1:{api_port}"
        _say(f"node on port {node_port}: deploy and the demo story")
        try:
            key = prepare(home, node_port)
            env = {**os.environ, "TRACE_HOME": str(home), "TRACE_NODE_PORT": str(node_port),
                   "TRACE_RESOLVER_RATE_PER_MINUTE": str(args.resolver_rate)}
            env.pop("TRACE_RPC_URL", None)
            log_path = Path(tmp) / "server.log"
            with open(log_path, "wb") as log:
                server = subprocess.Popen(
                    [str(args.python), "-m", "cli.main", "serve", "--port", str(api_port)],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                try:
                    wait_healthy(base, server)
                    _say(f"serving on {base}; schemathesis: max {args.max_examples} examples per operation, "
                         f"phases {args.phases}")
                    report_dir = Path(args.report_dir) if args.report_dir else Path(tmp) / "report"
                    st = subprocess.run(schemathesis_args(args, base, key, report_dir), cwd=ROOT,
                                        timeout=args.timeout)
                    summary.schemathesis_exit = st.returncode
                finally:
                    server.send_signal(signal.SIGINT)
                    try:
                        server.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        server.kill()
                        server.wait()
            log_text = log_path.read_text(errors="replace")
        finally:
            stop_node(home, node_port)
        total, statuses, errors = count_requests(log_text)
        summary.requests = total
        summary.statuses = dict(sorted(statuses.items()))
        summary.server_errors = errors
        if errors:  # show the server's side of each 5xx: its traceback is in the log
            sys.stdout.write("\n".join(line for line in log_text.splitlines()
                                       if not ACCESS_LINE.search(line) or line.strip() in errors)[-20000:] + "\n")
    summary.seconds = round(time.monotonic() - started, 1)
    summary.ok = summary.schemathesis_exit == 0 and not errors and total >= args.min_requests
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_API_EXAMPLES", "60")),
                        help="Examples per operation and phase (FUZZ_API_EXAMPLES; default 60).")
    parser.add_argument("--min-requests", type=int, default=1000,
                        help="Fail unless at least this many requests reached the server (default 1000).")
    parser.add_argument("--phases", default="examples,coverage,fuzzing",
                        help="schemathesis phases (default examples,coverage,fuzzing).")
    parser.add_argument("--checks", default=DEFAULT_CHECKS)
    parser.add_argument("--exclude-checks", default=DEFAULT_EXCLUDED)
    parser.add_argument("--workers", type=int, default=1,
                        help="schemathesis workers (default 1: hypothesis 6.170 on Python 3.11.7 hit a CPython "
                             "\"AST constructor recursion depth mismatch\" SystemError with 2 threads)")
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--max-time", type=int, default=0, help="schemathesis' time budget in seconds.")
    parser.add_argument("--timeout", type=float, default=3600, help="Kill schemathesis after this many seconds.")
    parser.add_argument("--resolver-rate", type=int, default=1_000_000,
                        help="Resolver requests per minute per client on the fuzzed server (the limiter has "
                             "its own tests; a low limit would turn most resolver cases into 429s).")
    parser.add_argument("--report-dir", default="", help="Keep schemathesis' JUnit report here.")
    parser.add_argument("--summary", default="", help="Write the summary as JSON to this file.")
    parser.add_argument("--st", type=Path, default=TOOLS_ST, help="The schemathesis command (tools venv).")
    parser.add_argument("--python", type=Path, default=PROJECT_PYTHON if PROJECT_PYTHON.exists() else
                        Path(sys.executable), help="Python of the project's venv, which serves the API.")
    parser.add_argument("st_args", nargs="*", help="More schemathesis options, after `--`.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.st.exists():
        print(f"fuzz-api: error: {args.st} not found; install schemathesis in the tools venv (make tools)",
              file=sys.stderr)
        return 3
    summary = run(args)
    _say(f"{summary.requests} requests in {summary.seconds} s; statuses {summary.statuses}; "
         f"5xx: {len(summary.server_errors)}; schemathesis exit {summary.schemathesis_exit}")
    if summary.requests < args.min_requests:
        _say(f"too few requests: {summary.requests} < {args.min_requests}")
    if args.summary:
        Path(args.summary).write_text(json.dumps(asdict(summary), indent=2))
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
