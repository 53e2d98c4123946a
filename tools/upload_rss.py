"""Measure what unauthenticated uploads cost the server: RSS of `trace serve` before and after N connections that
each POST a body of M MiB to /capture without an API key (issue 16: 60 such uploads took the RSS from 183 MB to
540 MB, and it stayed there).

    .venv/bin/python tools/upload_rss.py                   # this tree
    .venv/bin/python tools/upload_rss.py --root /old/tree  # a baseline: another checkout, same run

Only 127.0.0.1 is targeted. Prints one JSON line: RSS (MB) at rest, right after the uploads and 5 s later, the
statuses the clients got and how long the uploads took.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


def upload(port: int, size: int, statuses: Counter[str], lock: threading.Lock) -> None:
    head = (
        f"POST /capture HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    chunk = b" " * MIB
    status = "no answer"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
            sock.sendall(head)
            try:
                for _ in range(size // MIB):
                    sock.sendall(chunk)
            except OSError:
                pass  # the server answered and closed without reading the body
            data = sock.recv(64)
            status = data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "closed"
    except OSError as exc:
        status = type(exc).__name__
    with lock:
        statuses[status] += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="Source tree whose `trace serve` is measured.")
    parser.add_argument("--connections", type=int, default=60)
    parser.add_argument("--mib", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="trace-rss-") as home:
        env = {**os.environ, "TRACE_HOME": home, "PYTHONPATH": str(args.root)}
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "cli.main", "serve", "--port", str(port)],
            cwd=args.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        pass
                except urllib.error.HTTPError:
                    break  # 503 without a chain is an answer
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
                    continue
                break
            time.sleep(1)
            before = rss_mb(server.pid)
            statuses: Counter[str] = Counter()
            lock = threading.Lock()
            threads = [
                threading.Thread(target=upload, args=(port, args.mib * MIB, statuses, lock))
                for _ in range(args.connections)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = round(time.monotonic() - started, 2)
            after = rss_mb(server.pid)
            time.sleep(5)
            later = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(
        json.dumps(
            {
                "root": str(args.root),
                "connections": args.connections,
                "mib_each": args.mib,
                "rss_mb_before": before,
                "rss_mb_after": after,
                "rss_mb_5s_later": later,
                "statuses": dict(statuses),
                "seconds": seconds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
