"""The README's tours run verbatim: every command of every `<!-- tour: NAME -->` block, in order, in one shell, on
a fresh TRACE_HOME, from a copy of the repository root's view (the `examples/` files at the same paths).

A command must exit 0 unless its comment says `exit N`. The commands and their exit codes are written to
test-artifacts/readme-tour.txt."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_environ, run_trace
from trace_api.chain.node import free_port

TOUR = re.compile(r"<!-- tour: (?P<name>[\w-]+) -->\s*```sh\n(?P<body>.*?)```", re.S)
EXIT = re.compile(r"\bexit (\d+)\b")


def tour_commands(readme: str) -> list[tuple[str, str, int]]:
    """(tour, command, expected exit status) for each command of each tour block, continuation lines joined."""
    found = []
    for block in TOUR.finditer(readme):
        for line in block["body"].replace("\\\n", " ").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            command, _, comment = line.partition(" #")  # tour commands keep "#" out of their arguments
            command = " ".join(command.split())
            expected = EXIT.search(comment)
            found.append((block["name"], command, int(expected.group(1)) if expected else 0))
    return found


def test_tour_blocks_are_found() -> None:
    commands = tour_commands((ROOT / "README.md").read_text())
    assert {tour for tour, _, _ in commands} == {"producer", "shopper", "trader"}
    assert all(cmd.startswith("trace ") for _, cmd, _ in commands)
    assert not [cmd for _, cmd, _ in commands if "…" in cmd or "0xabc" in cmd], "placeholders a user cannot type"


@pytest.mark.slow
def test_readme_tour_runs_verbatim(tmp_path: Path) -> None:
    commands = tour_commands((ROOT / "README.md").read_text())
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "trace").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m cli.main "$@"\n')
    (bin_dir / "trace").chmod(0o755)
    env = {
        **cli_environ({}),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "TRACE_HOME": str(tmp_path / "home"),
        "TRACE_NODE_PORT": str(free_port()),
    }
    script = ["set +e"]
    for i, (_, command, _) in enumerate(commands):
        script.append(f"{{ {command} ; }} > out.{i} 2> err.{i} < /dev/null; echo $? > rc.{i}")
    try:
        subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, timeout=1200, check=True)
    finally:
        run_trace("node", "stop", env={k: env[k] for k in ("TRACE_HOME", "TRACE_NODE_PORT")})
    report, failures = [], []
    for i, (tour, command, expected) in enumerate(commands):
        code = int((work / f"rc.{i}").read_text())
        report.append(f"{tour:9} exit {code}  {command}")
        if code != expected:
            err = (work / f"err.{i}").read_text().strip() or (work / f"out.{i}").read_text().strip()[-500:]
            failures.append(f"[{tour}] {command}\n    exit {code}, expected {expected}: {err}")
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "readme-tour.txt").write_text("\n".join(report) + "\n")
    assert not failures, "\n".join(failures)
    assert (work / "bag.png").is_file() and (work / "labels.pdf").is_file() and (work / "l1.jsonld").is_file()
