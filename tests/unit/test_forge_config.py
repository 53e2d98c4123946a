"""forge (the Foundry invariant suite, tools/forge.py) compiles with the project's one set of compiler pins."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from trace_api.chain.compiler import ensure_solc
from trace_api.chain.toolchain import PROJECT_ROOT, compiler_settings

LAUNCHER = PROJECT_ROOT / "tools" / "forge.py"
PINS = {"solc", "solc_version", "evm_version", "optimizer", "optimizer_runs", "remappings", "via_ir"}

_spec = importlib.util.spec_from_file_location("forge_launcher", LAUNCHER)
assert _spec is not None and _spec.loader is not None
forge = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(forge)


def _forge_config(profile: str) -> dict:
    env = {**os.environ, "FOUNDRY_PROFILE": profile, "PYTHONPATH": str(PROJECT_ROOT)}
    out = subprocess.run(
        [sys.executable, str(LAUNCHER), "config", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=True,
    ).stdout
    return json.loads(out)


def test_foundry_toml_pins_no_compiler_setting() -> None:
    """Every profile leaves the compiler to tools/forge.py, so foundry.toml cannot drift from brownie-config.yaml."""
    profiles = tomllib.loads((PROJECT_ROOT / "foundry.toml").read_text())["profile"]
    assert set(profiles) == {"default", "fuzz"}
    for name, profile in profiles.items():
        assert not PINS & set(profile), f"profile {name} pins {PINS & set(profile)}"


def test_forge_sees_the_pinned_compiler() -> None:
    settings = compiler_settings()
    for profile in ("default", "fuzz"):
        config = _forge_config(profile)
        assert config["solc"] == str(ensure_solc())
        assert config["evm_version"] == settings.evm_version
        assert config["optimizer"] is settings.optimizer_enabled
        assert config["optimizer_runs"] == settings.optimizer_runs
        assert config["remappings"] == list(settings.remappings)
        assert config["offline"] is True and config["auto_detect_solc"] is False
        assert config["invariant"]["fail_on_revert"] is True


def test_make_fuzz_runs_ten_thousand_sequences() -> None:
    invariant = _forge_config("fuzz")["invariant"]
    assert invariant["runs"] >= 10_000 and invariant["depth"] >= 20
    assert _forge_config("default")["invariant"]["runs"] < invariant["runs"]  # `make test` runs the short one


def test_missing_forge_is_a_clear_error(monkeypatch, capsys) -> None:
    monkeypatch.setattr(forge, "FORGE", Path("/nonexistent/forge"))
    assert forge.main(["test"]) == 2
    assert "forge is missing" in capsys.readouterr().err
