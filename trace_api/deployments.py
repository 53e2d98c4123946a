"""The deployment record: ``TRACE_HOME/deployments/<chainId>.json``, written by `trace deploy` and brownie."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from trace_api.config import Settings
from trace_api.errors import NotFoundError


@dataclass(frozen=True)
class Deployed:
    address: str
    tx_hash: str
    block: int
    bytecode_hash: str  # sha256 of the compiled creation bytecode: changes when a source changes
    code_hash: str  # keccak256 of the runtime code read back from the chain after deployment
    args: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    deployer: str
    contracts: dict[str, Deployed]
    tokens: dict[str, str] = field(default_factory=dict)  # symbol -> address, for the escrow's allowlist
    created_at: str = ""
    tool: str = "trace"

    def address(self, name: str) -> str:
        if name not in self.contracts:
            raise NotFoundError(f"{name} is not in the deployment for chain {self.chain_id}")
        return self.contracts[name].address

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        contracts = {name: Deployed(**item) for name, item in data["contracts"].items()}
        return cls(**{**data, "contracts": contracts})


def deployment_path(settings: Settings, chain_id: int) -> Any:
    return settings.deployments_dir / f"{chain_id}.json"


def load_deployment(settings: Settings, chain_id: int) -> Deployment | None:
    path = deployment_path(settings, chain_id)
    try:
        return Deployment.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise NotFoundError(f"{path} is not a valid deployment record: {exc}") from exc


def save_deployment(settings: Settings, record: Deployment) -> None:
    path = deployment_path(settings, record.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
