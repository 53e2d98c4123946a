"""The compiled contracts the running tool uses: ABI and bytecode shipped inside the package.

``contracts.json`` next to this module is generated from ``contracts/`` by ``trace compile`` (and ``trace deploy``
on a source checkout); a test compiles ``contracts/`` afresh and fails when the shipped copy differs. Connecting to
a chain only reads this file, so an installed package needs neither the sources nor a compiler.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trace_api.errors import ConfigError

PACKAGED = Path(__file__).with_name("contracts.json")


@dataclass(frozen=True)
class Artifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str

    @property
    def bytecode_hash(self) -> str:
        return "0x" + hashlib.sha256(bytes.fromhex(self.deployed_bytecode)).hexdigest()


def load_artifacts(path: Path = PACKAGED) -> dict[str, Artifact]:
    """The shipped artifacts, re-read only when the file changed (``trace compile`` in the same process)."""
    return _parsed(path, _stamp(path)).artifacts


def load_enums(path: Path = PACKAGED) -> dict[str, tuple[str, ...]]:
    """The contracts' enums by canonical name (``ITraceRegistry.Step``), members in on-chain order."""
    return _parsed(path, _stamp(path)).enums


def load_constants(path: Path = PACKAGED) -> dict[str, dict[str, int | str]]:
    """The contracts' ``constant`` state variables by contract and name (``TradeEscrow`` -> ``MAX_LINES`` -> 20):
    integers as numbers, fixed bytes as 0x hex. Read offline: nothing calls a getter."""
    return _parsed(path, _stamp(path)).constants


def load_structs(path: Path = PACKAGED) -> dict[str, dict[str, str]]:
    """Struct members with their Solidity types by canonical name (``TradeEscrow.TradeRecord`` -> ``amount`` ->
    ``uint96``), storage structs included: their widths bound what the contract can hold."""
    return _parsed(path, _stamp(path)).structs


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"{path.name} is missing: run `trace compile` on a source checkout") from None


@dataclass(frozen=True)
class _Record:
    artifacts: dict[str, Artifact]
    enums: dict[str, tuple[str, ...]]
    constants: dict[str, dict[str, int | str]]
    structs: dict[str, dict[str, str]]


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, stamp: int) -> _Record:
    """The file read and parsed once per version, for the artifacts and the facts alike."""
    record = json.loads(path.read_text())
    return _Record(
        artifacts={name: Artifact(**data) for name, data in record["contracts"].items()},
        enums={name: tuple(members) for name, members in record["enums"].items()},
        constants=record["constants"],
        structs=record["structs"],
    )


def packaged_record(
    artifacts: dict[str, Artifact], *, facts: dict[str, Any], solc_version: str, source_hashes: dict[str, str]
) -> str:
    """The text of ``contracts.json`` for these artifacts: stable (sorted), so unchanged sources change no byte."""
    record = {
        "generated_by": "trace compile",
        "solc_version": solc_version,
        "source_hashes": dict(sorted(source_hashes.items())),
        "enums": facts["enums"],
        "constants": facts["constants"],
        "structs": facts["structs"],
        "contracts": {name: asdict(artifacts[name]) for name in sorted(artifacts)},
    }
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def write_packaged(text: str, path: Path = PACKAGED) -> bool:
    """Replace the shipped artifacts with ``text``; returns False when they were already the same."""
    if path.is_file() and path.read_text() == text:
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # concurrent writers never share a file
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True
