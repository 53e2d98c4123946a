"""Exit statuses: one line on stderr, the documented code."""

from tests.conftest import free_port, run_trace


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("trace: error: ")
    return lines[0]


def test_usage_error_is_2(trace_env: dict[str, str]) -> None:
    result = run_trace("node", "launch", env=trace_env)
    assert result.code == 2
    _one_line(result.stderr)


def test_chain_unavailable_is_4(tmp_path) -> None:
    env = {"TRACE_HOME": str(tmp_path), "TRACE_RPC_URL": f"http://127.0.0.1:{free_port()}", "TRACE_CHAIN_ID": "31337"}
    result = run_trace("deploy", env=env)
    assert result.code == 4
    assert "chain unavailable" in _one_line(result.stderr)


def test_config_error_is_3(tmp_path) -> None:
    env = {"TRACE_HOME": str(tmp_path), "TRACE_CHAIN_ID": "not-a-number"}
    result = run_trace("node", "status", env=env)
    assert result.code == 3
    assert "chain_id" in _one_line(result.stderr)


def test_plaintext_key_refused_off_the_dev_chain(tmp_path, trace_env: dict[str, str]) -> None:
    assert run_trace("node", "start", env=trace_env).code == 0
    env = {
        **trace_env,
        "TRACE_RPC_URL": f"http://localhost:{trace_env['TRACE_NODE_PORT']}",
        "TRACE_PRIVATE_KEY": "0x" + "11" * 32,
    }
    result = run_trace("deploy", env=env)
    assert result.code == 3
    assert "plaintext keys are accepted only on the local dev chain" in _one_line(result.stderr)


def test_wrong_chain_id_is_a_config_error(trace_env: dict[str, str]) -> None:
    assert run_trace("node", "start", env=trace_env).code == 0
    result = run_trace("deploy", env={**trace_env, "TRACE_CHAIN_ID": "1"})
    assert result.code == 3
    assert "chain id 31337" in _one_line(result.stderr)


def test_traceback_flag_shows_details(tmp_path) -> None:
    env = {"TRACE_HOME": str(tmp_path), "TRACE_RPC_URL": f"http://127.0.0.1:{free_port()}"}
    result = run_trace("deploy", "--traceback", env=env)
    assert result.code == 4
    assert "Traceback (most recent call last)" in result.stderr
