"""Where the project's tools live: the repository root, node_modules, the pinned compiler settings."""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trace_api.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = PROJECT_ROOT / "node_modules"
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
BUILD_DIR = PROJECT_ROOT / "build" / "trace"
BRIDGE_SCRIPT = Path(__file__).with_name("solc_bridge.cjs")


@dataclass(frozen=True)
class CompilerSettings:
    version: str
    evm_version: str
    optimizer_enabled: bool
    optimizer_runs: int
    remappings: tuple[str, ...]

    def standard_settings(self) -> dict[str, Any]:
        return {
            "evmVersion": self.evm_version,
            "optimizer": {"enabled": self.optimizer_enabled, "runs": self.optimizer_runs},
            "remappings": list(self.remappings),
            "outputSelection": {
                "*": {
                    "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"],
                    "": ["ast"],
                }  # the AST names each enum's members, which the ABI does not
            },
        }


@functools.cache
def compiler_settings() -> CompilerSettings:
    """The compiler pins, read from brownie-config.yaml so brownie and trace build the same bytecode."""
    path = PROJECT_ROOT / "brownie-config.yaml"
    try:
        config = yaml.safe_load(path.read_text())["compiler"]
        solc = config["solc"]
        return CompilerSettings(
            version=str(solc["version"]),
            evm_version=str(config["evm_version"]),
            optimizer_enabled=bool(solc["optimizer"]["enabled"]),
            optimizer_runs=int(solc["optimizer"]["runs"]),
            remappings=tuple(solc.get("remappings", [])),
        )
    except (OSError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: cannot read the compiler section: {exc}") from exc


def anvil_binary() -> Path:
    """The anvil executable shipped by the npm package @foundry-rs/anvil-linux-amd64."""
    candidate = NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if candidate.is_file():
        return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ConfigError("anvil not found: run `make setup` (npm ci installs it into node_modules)")
