"""The installed package works outside the checkout: build the wheel, install it into a scratch venv, and run
node start, deploy, batch register and serve from a folder that has no contracts/, no build/ and no compiler.

The scratch venv borrows the project venv's third-party packages through a path entry (so no registry is needed),
but not its editable install of this project: every module of ours comes from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from trace_api.chain.toolchain import anvil_binary

pytestmark = pytest.mark.slow


def _run(cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # built from a copy of the tracked files, as a fresh clone would be: no build/ or egg-info left by earlier runs
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.check_output(["git", "ls-files", "-z"], cwd=ROOT, text=True).split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        env=dict(os.environ),
        cwd=out,
    )
    [built] = out.glob("trace_chain-*.whl")
    return built


def test_wheel_ships_the_compiled_contracts_and_page_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "trace_api/chain/contracts.json" in names
    assert "trace_api/http/templates/verify.html" in names
    assert not any(name.startswith(("contracts/", "tests/", "build/")) for name in names)


def test_installed_wheel_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=dict(os.environ), cwd=tmp_path)
    site = Path(
        subprocess.check_output(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        env=clean,
        cwd=tmp_path,
    )
    # after the install: pip would otherwise see the project venv's editable install and skip the wheel
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    port, node_port = free_port(), free_port()
    env = {
        "PATH": f"{venv / 'bin'}:{anvil_binary().parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TRACE_HOME": str(tmp_path / "home"),
        "TRACE_NODE_PORT": str(node_port),
        "LANG": "C.UTF-8",
    }
    trace = str(venv / "bin" / "trace")
    located = _run(
        [str(venv / "bin" / "python"), "-c", "import trace_api, cli, qr; print(trace_api.__file__)"], env=env, cwd=work
    )
    assert str(ROOT) not in located.stdout and str(site) in located.stdout

    try:
        _run([trace, "node", "start"], env=env, cwd=work)
        deployed = json.loads(_run([trace, "deploy", "--json"], env=env, cwd=work).stdout)
        assert {"TraceRegistry", "TradeEscrow", "OrgDirectory"} <= set(deployed["contracts"])
        registered = json.loads(
            _run(
                [
                    trace,
                    "batch",
                    "register",
                    "--gtin",
                    "09506000134352",
                    "--lot",
                    "WHEEL-1",
                    "--product",
                    "Green coffee",
                    "--json",
                ],
                env=env,
                cwd=work,
            ).stdout
        )
        assert registered["lot"] == "WHEEL-1"
        server = subprocess.Popen(
            [trace, "serve", "--port", str(port)],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            body = _wait_for(f"http://127.0.0.1:{port}/health", server)
            assert json.loads(body)["status"] == "ok"
            batch = json.loads(_wait_for(f"http://127.0.0.1:{port}/batches/09506000134352/WHEEL-1", server))
            assert batch["lot"] == "WHEEL-1"
        finally:
            server.terminate()
            server.wait(20)
    finally:
        subprocess.run([trace, "node", "stop"], env=env, cwd=work, capture_output=True, timeout=60)


def _wait_for(url: str, server: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return str(response.read().decode())
        except OSError as exc:
            if server.poll() is not None:
                raise AssertionError(
                    f"trace serve exited {server.returncode}: {server.stderr.read() if server.stderr else ''}"
                ) from exc
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
