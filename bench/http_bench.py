"""HTTP under a rush of scans: the verify page of the demo's coffee bag against a bare FastAPI app, same run.

Both servers run as their own uvicorn process (one worker, as `trace serve`), loaded by `wrk` (Debian) from
another process: 64 connections, 2 threads, 10 s each. The page is the demo bag's unit page (HTML): every request
is a scan, counted by the background writer. The per-client rate limit stays in the request path (each request
spends a token), but it is raised for the run: all of wrk's connections come from one client address, 127.0.0.1,
which the default (60 a minute) would answer 429 after the first minute's worth.

Rows: the bare FastAPI app's rate (the baseline); the page's rate, p50 and p99 against it; the page's errors
(socket errors, time-outs, 4xx/5xx); and the rate of revalidations (If-None-Match with the page's ETag: 304).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import BenchEnv, row
from trace_api.chain.node import free_port

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS, THREADS, SECONDS = 64, 2, 10


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    """Requests/s, p50/p99 latency (ms), errors (socket errors, time-outs, non-2xx/3xx) of one wrk run."""
    args = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\b", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * _UNITS[unit]

    errors = 0
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in found.groups())
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    return {"rps": rps, "p50": pct("50"), "p99": pct("99"), "errors": errors}


def _serve(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=fh, stderr=subprocess.STDOUT)


def run(env: BenchEnv) -> list[dict[str, Any]]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: `apt-get install wrk` (make bench installs it)")
    home = env.workdir / "http-home"
    trace_env = {
        "TRACE_HOME": str(home),
        "TRACE_NODE_PORT": str(free_port()),
        "TRACE_RESOLVER_RATE_PER_MINUTE": str(10**9),
    }
    trace = [sys.executable, "-m", "cli.main"]
    story = subprocess.run(
        [*trace, "demo", "--no-serve", "--json"],
        cwd=ROOT,
        env={**os.environ, **trace_env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    if story.returncode != 0:
        raise RuntimeError(f"demo failed: {story.stderr[-500:]}")
    import json

    bag_path = urlsplit(json.loads(story.stdout)["label"]["uri"]).path
    hello_port, trace_port = free_port(), free_port()
    servers = [
        _serve(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.hello_app:app",
                "--port",
                str(hello_port),
                "--log-level",
                "warning",
            ],
            {},
            env.workdir / "hello.log",
        ),
        _serve([*trace, "serve", "--port", str(trace_port)], trace_env, env.workdir / "serve.log"),
    ]
    try:
        hello_url, page_url = f"http://127.0.0.1:{hello_port}/hello", f"http://127.0.0.1:{trace_port}{bag_path}"
        _wait(hello_url, servers[0])
        _wait(page_url, servers[1])
        hello = wrk(hello_url)
        page = wrk(page_url, {"Accept": "text/html"})
        etag = _etag(page_url)
        revalidated = wrk(page_url, {"Accept": "text/html", "If-None-Match": etag})
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(10)
        subprocess.run([*trace, "node", "stop"], cwd=ROOT, env={**os.environ, **trace_env}, capture_output=True)
    return [
        row("http.hello_rps", hello["rps"], "req/s", None),
        row("http.verify_rps", page["rps"], "req/s", hello["rps"]),
        row("http.verify_p50_ms", page["p50"], "ms", hello["p50"]),
        row("http.verify_p99_ms", page["p99"], "ms", hello["p99"]),
        row("http.verify_errors", page["errors"], "requests", hello["errors"]),
        row("http.verify_304_rps", revalidated["rps"], "req/s", hello["rps"]),
    ]


def _etag(url: str) -> str:
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return str(resp.headers["ETag"])
