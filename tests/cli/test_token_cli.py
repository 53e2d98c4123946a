"""`trace token`: balances, transfers and (local chain, mock tokens only) mints, with bad input refused."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import trace_fails as fails
from tests.conftest import trace_ok as ok
from trace_api.chain.accounts import dev_account


def amount(env: dict[str, str], who: str, token: str) -> Decimal:
    return Decimal(ok(env, "token", "balance", who, "--token", token)["amount"])


def test_mint_transfer_balance(trace_session_env: dict[str, str]) -> None:
    env = trace_session_env
    before_arbiter = amount(env, "arbiter", "USDC")
    minted = ok(env, "token", "mint", "arbiter", "1000.5", "--token", "USDC")
    assert minted["kind"] == "mint" and Decimal(minted["balance_after"]) == before_arbiter + Decimal("1000.5")
    before_seller = amount(env, "seller", "USDC")
    sent = ok(env, "token", "transfer", "seller", "250.25", "--token", "usdc", "--as", "arbiter")
    assert sent["to"] == dev_account("seller").address and sent["tx_hash"].startswith("0x")
    assert amount(env, "seller", "USDC") == before_seller + Decimal("250.25")
    assert amount(env, "arbiter", "USDC") == before_arbiter + Decimal("1000.5") - Decimal("250.25")
    shown = ok(env, "token", "balance", dev_account("seller").address, "--token", "USDC")
    assert shown["name"] == "seller" and shown["token"] == "USDC"
    eth_before = amount(env, "carrier", "ETH")
    ok(env, "token", "transfer", "carrier", "0.5", "--token", "ETH", "--as", "buyer")
    assert amount(env, "carrier", "ETH") == eth_before + Decimal("0.5")


def test_bad_input_moves_nothing(trace_session_env: dict[str, str]) -> None:
    env = trace_session_env
    before = amount(env, "inspector", "USDC")
    assert "unknown token" in fails(env, 1, "token", "balance", "inspector", "--token", "DOGE")
    assert "holds" in fails(env, 1, "token", "transfer", "seller", "1", "--token", "USDC", "--as", "inspector")
    assert "must be a positive number" in fails(env, 1, "token", "mint", "inspector", "0", "--token", "USDC")
    assert "not a mock token" in fails(env, 1, "token", "mint", "inspector", "1", "--token", "ETH")
    assert "neither an address" in fails(env, 3, "token", "balance", "nobody", "--token", "USDC")
    assert amount(env, "inspector", "USDC") == before
    remote = {**env, "TRACE_RPC_URL": f"http://localhost:{env['TRACE_NODE_PORT']}"}
    assert "only on the local development chain" in fails(
        remote, 3, "token", "mint", dev_account("seller").address, "1", "--token", "USDC"
    )
