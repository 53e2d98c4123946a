"""`trace deploy`: a real deployment on a local node, idempotent across runs and node restarts."""

import json
from pathlib import Path

from tests.conftest import run_trace


def _deploy(env: dict[str, str], *extra: str) -> dict:
    result = run_trace("deploy", "--json", *extra, env=env)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_deploy_is_idempotent_across_restarts(trace_env: dict[str, str]) -> None:
    first = _deploy(trace_env)  # starts the local node on demand
    assert first["deployed"] is True
    names = set(first["contracts"])
    assert {"TraceRegistry", "TradeEscrow", "MockStablecoin:USDC", "MockStablecoin:EURC"} <= names
    record_file = Path(trace_env["TRACE_HOME"]) / "deployments" / "31337.json"
    record = json.loads(record_file.read_text())
    assert record["contracts"]["TraceRegistry"]["code_hash"].startswith("0x")
    assert record["tokens"].keys() == {"USDC", "EURC"}

    again = _deploy(trace_env)
    assert again["deployed"] is False
    assert again["contracts"] == first["contracts"]

    assert run_trace("node", "stop", env=trace_env).code == 0
    assert run_trace("node", "start", env=trace_env).code == 0
    after_restart = _deploy(trace_env)
    assert after_restart["deployed"] is False
    assert {n: c["address"] for n, c in after_restart["contracts"].items()} == {
        n: c["address"] for n, c in first["contracts"].items()
    }

    forced = _deploy(trace_env, "--force")
    assert forced["deployed"] is True
    assert forced["contracts"]["TraceRegistry"]["address"] != first["contracts"]["TraceRegistry"]["address"]


def test_record_pointing_at_a_dead_chain_redeploys(trace_env: dict[str, str]) -> None:
    first = _deploy(trace_env)
    run_trace("node", "stop", env=trace_env)
    for name in ("state.json", "state.dump.json"):  # a brand-new chain
        (Path(trace_env["TRACE_HOME"]) / "node" / name).unlink(missing_ok=True)
    second = _deploy(trace_env)
    assert second["deployed"] is True
    assert second["contracts"]["TraceRegistry"]["block"] <= first["contracts"]["TraceRegistry"]["block"]


def test_dev_tokens_funded_and_allowed(trace_env: dict[str, str]) -> None:
    from web3 import Web3

    from trace_api.chain.accounts import dev_account
    from trace_api.chain.compiler import get_artifact

    record = _deploy(trace_env)
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{trace_env['TRACE_NODE_PORT']}"))
    token_abi = get_artifact("MockStablecoin").abi
    escrow = w3.eth.contract(record["contracts"]["TradeEscrow"]["address"], abi=get_artifact("TradeEscrow").abi)
    for symbol, address in record["tokens"].items():
        token = w3.eth.contract(address, abi=token_abi)
        assert token.functions.decimals().call() == 6
        assert token.functions.symbol().call() == symbol
        assert token.functions.balanceOf(dev_account("buyer").address).call() == 1_000_000 * 10**6
        assert escrow.functions.isTokenAllowed(address).call() is True


def test_accounts_lists_dev_accounts_with_roles_and_balances(trace_session_env: dict[str, str]) -> None:
    from trace_api.chain.accounts import dev_account

    result = run_trace("accounts", "--json", env=trace_session_env)
    assert result.code == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert list(rows)[:3] == ["admin", "producer", "processor"]
    assert rows["carrier"]["address"] == dev_account("carrier").address
    assert rows["carrier"]["roles"] == ["carrier"] and "admin" in rows["admin"]["roles"]
    assert rows["arbiter"]["roles"] == []
    assert set(rows["buyer"]["balances"]) >= {"native", "USDC"} and float(rows["buyer"]["balances"]["USDC"]) > 0
    human = run_trace("accounts", env=trace_session_env)
    assert human.code == 0 and dev_account("seller").address in human.stdout  # full address, never cut


def test_every_signing_command_says_who_signs(trace_session_env: dict[str, str]) -> None:
    import uuid

    from trace_api.chain.accounts import dev_account

    lot = "S" + uuid.uuid4().hex[:8].upper()
    default = run_trace("batch", "register", "--gtin", "09506000134352", "--lot", lot, env=trace_session_env)
    assert default.code == 0, default.stderr
    assert default.stdout.startswith(f"signing as producer ({dev_account('producer').address})")
    # TRACE_ACCOUNT is --as for a whole shell session; --as still wins over it.
    env = {**trace_session_env, "TRACE_ACCOUNT": "inspector"}
    by_env = run_trace("event", "add", "09506000134352", lot, "--step", "inspecting", env=env)
    assert by_env.code == 0 and by_env.stdout.startswith("signing as inspector (0x"), by_env.stdout
    by_flag = run_trace("event", "add", "09506000134352", lot, "--step", "storing", "--as", "producer", env=env)
    assert by_flag.code == 0 and by_flag.stdout.startswith("signing as producer (0x"), by_flag.stdout
    quiet = run_trace("event", "add", "09506000134352", lot, "--step", "storing", "--json", env=trace_session_env)
    assert quiet.code == 0 and json.loads(quiet.stdout)  # --json output stays pure JSON
