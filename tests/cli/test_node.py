"""`trace node`: start, status, persistence across stop/start and kill -9, double start, stale records."""

import json
import os
import signal
import time
from pathlib import Path

import pytest
from web3 import Web3

from tests.conftest import STATE_INTERVAL_S, run_trace, with_fast_dumps
from trace_api.chain.accounts import dev_account


@pytest.fixture
def trace_env(trace_env: dict[str, str]) -> dict[str, str]:
    return with_fast_dumps(trace_env)


def _status(env: dict[str, str]) -> dict:
    result = run_trace("node", "status", "--json", env=env)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def _send_value(rpc_url: str, wei: int) -> str:
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    sender, receiver = dev_account("buyer"), dev_account("seller")
    tx = {
        "to": receiver.address,
        "value": wei,
        "gas": 21000,
        "maxFeePerGas": 10**9,
        "maxPriorityFeePerGas": 0,
        "nonce": w3.eth.get_transaction_count(sender.address),
        "chainId": 31337,
    }
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction))
    return receiver.address


def test_start_status_stop(trace_env: dict[str, str]) -> None:
    started = run_trace("node", "start", "--json", env=trace_env)
    assert started.code == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["rpc_url"] == f"http://127.0.0.1:{trace_env['TRACE_NODE_PORT']}"
    status = _status(trace_env)
    assert status["pid"] == info["pid"] and status["chain_id"] == 31337
    assert status["state_file"] == str(Path(trace_env["TRACE_HOME"]) / "node" / "state.json")
    stopped = run_trace("node", "stop", env=trace_env)
    assert stopped.code == 0 and "stopped" in stopped.stdout
    down = run_trace("node", "status", env=trace_env)
    assert down.code == 4
    assert down.stderr.strip() == "trace: error: node is not running; `trace node start`"


def test_double_start_is_refused(trace_env: dict[str, str]) -> None:
    assert run_trace("node", "start", env=trace_env).code == 0
    again = run_trace("node", "start", env=trace_env)
    assert again.code == 1
    assert again.stderr.startswith("trace: error: node already running (pid ")
    assert len(again.stderr.strip().splitlines()) == 1


def test_stale_pid_record_is_replaced(trace_env: dict[str, str]) -> None:
    record = Path(trace_env["TRACE_HOME"]) / "node" / "node.json"
    record.parent.mkdir(parents=True)
    record.write_text(
        json.dumps(
            {
                "pid": 999_999,
                "port": 1,
                "rpc_url": "x",
                "state_file": "x",
                "log_file": "x",
                "started_at": 0.0,
            }
        )
    )
    result = run_trace("node", "start", "--json", env=trace_env)
    assert result.code == 0, result.stderr
    assert json.loads(record.read_text())["pid"] == json.loads(result.stdout)["pid"] != 999_999


def test_state_survives_stop_start(trace_env: dict[str, str]) -> None:
    info = json.loads(run_trace("node", "start", "--json", env=trace_env).stdout)
    receiver = _send_value(info["rpc_url"], 12345)
    before = Web3(Web3.HTTPProvider(info["rpc_url"])).eth.get_balance(receiver)
    block_before = _status(trace_env)["block"]
    assert run_trace("node", "stop", env=trace_env).code == 0
    assert run_trace("node", "start", env=trace_env).code == 0
    w3 = Web3(Web3.HTTPProvider(info["rpc_url"]))
    assert w3.eth.get_balance(receiver) == before
    assert w3.eth.block_number >= block_before >= 1


def test_state_survives_kill_9(trace_env: dict[str, str]) -> None:
    info = json.loads(run_trace("node", "start", "--json", env=trace_env).stdout)
    receiver = _send_value(info["rpc_url"], 777)
    before = Web3(Web3.HTTPProvider(info["rpc_url"])).eth.get_balance(receiver)
    time.sleep(STATE_INTERVAL_S + 1.5)  # one periodic dump
    os.kill(info["pid"], signal.SIGKILL)
    time.sleep(0.3)
    restarted = run_trace("node", "start", "--json", env=trace_env)  # the stale record is detected
    assert restarted.code == 0, restarted.stderr
    w3 = Web3(Web3.HTTPProvider(info["rpc_url"]))
    assert w3.eth.get_balance(receiver) == before


def test_commands_do_not_restart_a_node_the_user_stopped(trace_env: dict[str, str]) -> None:
    assert run_trace("deploy", env=trace_env).code == 0
    assert run_trace("node", "stop", env=trace_env).code == 0
    refused = run_trace("batch", "register", "--gtin", "09506000134352", "--lot", "STOPPED1", env=trace_env)
    assert refused.code == 4
    assert refused.stderr.strip() == "trace: error: the local node is stopped: trace node start"
    assert run_trace("node", "status", env=trace_env).code == 4  # still down
    assert run_trace("node", "start", env=trace_env).code == 0
    again = run_trace("batch", "register", "--gtin", "09506000134352", "--lot", "STOPPED1", env=trace_env)
    assert again.code == 0, again.stderr


def test_mine_and_warp_steer_the_local_clock(trace_env: dict[str, str]) -> None:
    assert run_trace("node", "start", env=trace_env).code == 0
    before = _status(trace_env)["block"]
    mined = run_trace("node", "mine", "--blocks", "5", "--json", env=trace_env)
    assert mined.code == 0, mined.stderr
    assert json.loads(mined.stdout)["block"] == before + 5
    w3 = Web3(Web3.HTTPProvider(_status(trace_env)["rpc_url"]))
    t0 = w3.eth.get_block("latest")["timestamp"]
    warped = run_trace("node", "warp", "30d", "--json", env=trace_env)
    assert warped.code == 0, warped.stderr
    data = json.loads(warped.stdout)
    assert data["timestamp"] == t0 + 30 * 86400 == w3.eth.get_block("latest")["timestamp"]
    assert data["time"].endswith("Z")
    bad = run_trace("node", "warp", "soon", env=trace_env)
    assert bad.code == 1 and "duration 'soon'" in bad.stderr
    assert run_trace("node", "mine", "--blocks", "0", env=trace_env).code == 1


def test_mine_and_warp_are_refused_off_the_local_chain(trace_env: dict[str, str]) -> None:
    assert run_trace("node", "start", env=trace_env).code == 0
    # The same node, but addressed as a real network would be: another host name, so not "the local chain".
    remote = {**trace_env, "TRACE_RPC_URL": f"http://localhost:{trace_env['TRACE_NODE_PORT']}"}
    for args in (("node", "mine"), ("node", "warp", "1d")):
        result = run_trace(*args, env=remote)
        assert result.code == 3, result.stderr
        assert "only on the local development chain" in result.stderr


def test_idle_local_chain_follows_the_wall_clock(trace_env: dict[str, str]) -> None:
    """Deadlines are judged by the latest block's time; on an idle chain that time stands still unless a block is
    mined, so escrow reads and preflights mine one first (a 1-minute deadline passes after a minute)."""
    from pathlib import Path

    from trace_api.chain.client import connect
    from trace_api.config import Settings
    from trace_api.services.devchain import clock, follow_wall_clock

    assert run_trace("node", "start", env=trace_env).code == 0
    chain = connect(
        Settings(home=Path(trace_env["TRACE_HOME"]), node_port=int(trace_env["TRACE_NODE_PORT"])), autostart=False
    )
    before = clock(chain)
    time.sleep(2.5)
    follow_wall_clock(chain)
    after = clock(chain)
    assert after.block == before.block + 1 and after.timestamp >= int(time.time()) - 2
    follow_wall_clock(chain)  # fresh enough: nothing mined
    assert clock(chain).block == after.block
