"""`brownie run scripts/deploy.py --network anvil` writes the same deployment record as `trace deploy`."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_trace


def test_brownie_and_trace_write_the_same_record(tmp_path: Path, trace_env: dict[str, str]) -> None:
    brownie_home = tmp_path / "brownie-home"
    env = {
        **os.environ,
        "TRACE_HOME": str(brownie_home),
        "PATH": f"{ROOT / 'node_modules/.bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("brownie")), "run", "scripts/deploy.py", "--network", "anvil"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    from_brownie = json.loads((brownie_home / "deployments" / "31337.json").read_text())

    assert run_trace("deploy", env=trace_env).code == 0
    from_trace = json.loads((Path(trace_env["TRACE_HOME"]) / "deployments" / "31337.json").read_text())

    assert from_brownie.keys() == from_trace.keys()
    assert from_brownie["contracts"].keys() == from_trace["contracts"].keys()
    for name, item in from_trace["contracts"].items():
        other = from_brownie["contracts"][name]
        # Same deployer, same nonces, same bytecode: same addresses and code on both chains.
        assert other["address"] == item["address"], name
        assert other["bytecode_hash"] == item["bytecode_hash"], name
        assert other["code_hash"] == item["code_hash"], name
    assert from_brownie["tokens"] == from_trace["tokens"]
