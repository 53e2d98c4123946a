from pathlib import Path

import pytest

from trace_api.config import LOCAL_CHAIN_ID, load_settings
from trace_api.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("TRACE_"):
            monkeypatch.delenv(key)


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(env_file=tmp_path / "missing.env")
    assert settings.chain_id == LOCAL_CHAIN_ID
    assert settings.home == Path(".trace").resolve()
    assert settings.effective_rpc_url == "http://127.0.0.1:8545"
    assert settings.is_local
    assert settings.effective_database_url == f"sqlite:///{Path('.trace').resolve() / 'index.sqlite'}"


def test_precedence_env_file_then_environment_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TRACE_CHAIN_ID=5\nTRACE_NODE_PORT=9000\nTRACE_RPC_URL=http://file:1\nOTHER=1\n")
    assert load_settings(env_file=env_file).chain_id == 5
    monkeypatch.setenv("TRACE_CHAIN_ID", "7")
    settings = load_settings(env_file=env_file)
    assert (settings.chain_id, settings.node_port, settings.rpc_url) == (7, 9000, "http://file:1")
    settings = load_settings(env_file=env_file, chain_id=11, rpc_url=None)
    assert (settings.chain_id, settings.rpc_url) == (11, "http://file:1")
    assert not settings.is_local


def test_local_url_counts_as_local(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, rpc_url="http://127.0.0.1:8545/", node_port=8545)
    assert settings.is_local


def test_invalid_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACE_CHAIN_ID", "not-a-number")
    with pytest.raises(ConfigError, match="chain_id"):
        load_settings(env_file=None)


def test_secrets_not_in_repr() -> None:
    settings = load_settings(env_file=None, private_key="0x" + "11" * 32, key_password="hunter2")
    assert "11111111" not in repr(settings) and "hunter2" not in repr(settings)
