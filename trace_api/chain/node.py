"""Lifecycle of the embedded local chain: an anvil process from node_modules, with state under TRACE_HOME.

The node runs detached from the command that started it. Its pid, port and state file are recorded in
``TRACE_HOME/node/node.json``; the chain state is loaded from ``TRACE_HOME/node/state.json`` and dumped (at exit and
every few seconds) to a second file that is promoted at the next start when complete, so a stop/start, or a kill,
keeps deployments and history.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from trace_api.chain.rpc import JsonRpc
from trace_api.config import DEV_MNEMONIC, LOCAL_CHAIN_ID, LOCAL_RPC_HOST, Settings
from trace_api.errors import ChainUnavailableError, ConflictError, NodeError, TraceError

STATE_FILE = "state.json"
DUMP_FILE = "state.dump.json"  # anvil rewrites its dump in place: a kill mid-write must not cost the last good state
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class NodeInfo:
    pid: int
    port: int
    rpc_url: str
    state_file: str
    log_file: str
    started_at: float


def node_dir(settings: Settings) -> Path:
    return settings.home / "node"


def _info_file(settings: Settings) -> Path:
    return node_dir(settings) / "node.json"


def _alive(pid: int) -> bool:
    import psutil  # loaded when no node answers or on stop: the usual command finds its node by asking it

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and "anvil" in proc.name()
    except psutil.Error:
        return False


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now (for throwaway nodes and servers)."""
    with socket.socket() as sock:
        sock.bind((LOCAL_RPC_HOST, 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOCAL_RPC_HOST, port)) == 0


def running_node(settings: Settings) -> NodeInfo | None:
    """The node recorded in TRACE_HOME if its process is alive; a stale record is removed."""
    path = _info_file(settings)
    try:
        info = NodeInfo(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if _alive(info.pid):
        return info
    path.unlink(missing_ok=True)
    return None


def _rpc_ready(port: int) -> bool:
    try:
        return bool(JsonRpc(f"http://{LOCAL_RPC_HOST}:{port}", timeout=1).call("eth_chainId"))
    except (OSError, TraceError):
        return False


def _promote_dump(folder: Path) -> Path:
    """Make the newest complete dump the state to load. anvil truncates and rewrites its dump file, so a kill
    during a dump leaves it torn; then the previous good state is kept (and the torn dump set aside)."""
    state, dump = folder / STATE_FILE, folder / DUMP_FILE
    if dump.is_file():
        try:
            json.loads(dump.read_text())
        except (ValueError, UnicodeDecodeError):
            os.replace(dump, folder / f"{DUMP_FILE}.torn")
        else:
            os.replace(dump, state)
    return state


def keep_good_state(settings: Settings) -> bool:
    """Copy the node's latest dump over state.json when it is newer and complete (commands call this as they
    connect), so that a kill in the middle of a later dump loses at most what happened since."""
    folder = node_dir(settings)
    state, dump = folder / STATE_FILE, folder / DUMP_FILE
    try:
        if state.is_file() and dump.stat().st_mtime <= state.stat().st_mtime:
            return False
        text = dump.read_text()
        json.loads(text)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    tmp = folder / f"{STATE_FILE}.tmp"
    tmp.write_text(text)
    os.replace(tmp, state)
    return True


def start(settings: Settings) -> NodeInfo:
    """Start anvil on 127.0.0.1:<node_port> with chain id 31337 and the dev mnemonic, loading saved state."""
    from trace_api.chain.toolchain import anvil_binary  # reads the toolchain pins (yaml): only starting needs it

    existing = running_node(settings)
    if existing:
        raise ConflictError(f"node already running (pid {existing.pid}, {existing.rpc_url}); `trace node stop` first")
    port = settings.node_port
    if _port_open(port):
        raise ConflictError(f"port {port} is already in use by another process; set TRACE_NODE_PORT")
    folder = node_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    allow_autostart(settings)
    state = _promote_dump(folder)
    log = folder / "anvil.log"
    args = [
        str(anvil_binary()),
        "--host",
        LOCAL_RPC_HOST,
        "--port",
        str(port),
        "--chain-id",
        str(LOCAL_CHAIN_ID),
        "--mnemonic",
        DEV_MNEMONIC,
        "--accounts",
        "10",
        "--balance",
        "1000000",
        "--block-base-fee-per-gas",
        "0",
        "--gas-limit",
        "60000000",
        "--dump-state",
        str(folder / DUMP_FILE),
        "--state-interval",
        str(settings.node_state_interval),
    ]
    if state.is_file():
        args += ["--load-state", str(state)]
    with open(log, "ab") as log_fh:
        proc = subprocess.Popen(
            args, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _rpc_ready(port):
        if proc.poll() is not None:
            lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
            reason = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
            raise NodeError(f"anvil exited with code {proc.returncode}: {reason or 'see ' + str(log)}")
        if time.monotonic() > deadline:
            proc.kill()
            raise NodeError(f"anvil did not answer on port {port} within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)
    info = NodeInfo(
        pid=proc.pid,
        port=port,
        rpc_url=f"http://{LOCAL_RPC_HOST}:{port}",
        state_file=str(state),
        log_file=str(log),
        started_at=time.time(),
    )
    tmp = _info_file(settings).with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info)))
    os.replace(tmp, _info_file(settings))
    return info


def stop(settings: Settings) -> NodeInfo | None:
    """Stop the node gracefully (anvil dumps its state on SIGTERM); returns what was stopped, or None."""
    info = running_node(settings)
    if info is None:
        return None
    import psutil

    try:
        proc = psutil.Process(info.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    except psutil.NoSuchProcess:
        pass
    _info_file(settings).unlink(missing_ok=True)
    _stopped_marker(settings).touch()
    return info


def ensure_running(settings: Settings) -> None:
    """Start the local node if the RPC URL is the local default and nothing answers there, unless the user
    stopped it with `trace node stop` (then say so: a command must not undo the user's stop)."""
    if not settings.is_local:
        return
    if _rpc_ready(settings.node_port) or running_node(settings):
        keep_good_state(settings)
        return
    if _stopped_marker(settings).exists():
        raise ChainUnavailableError("the local node is stopped: trace node start")
    start(settings)


def allow_autostart(settings: Settings) -> None:
    """Forget a `trace node stop`: commands that bring the chain up (start, deploy, demo) say the user wants it."""
    _stopped_marker(settings).unlink(missing_ok=True)


def _stopped_marker(settings: Settings) -> Path:
    return node_dir(settings) / "stopped-by-user"
